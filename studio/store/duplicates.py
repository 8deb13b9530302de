"""Duplicate search: exact (same pixels in different files) and near (perceptual hash within a
few bits), and the lazy perceptual hashing it needs. Duplicates across splits leak test images
into training; duplicates with different labels are label errors."""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
from PIL import Image
from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session

from studio.core.jobs import JobState
from studio.store.images import open_image, open_upright
from studio.store.models import Sample
from studio.store.rows import SAMPLES


@dataclass(frozen=True)
class DuplicateGroup:
    kind: str  # "exact" (same pixels) or "near" (perceptual hash within max_distance)
    sample_ids: tuple[int, ...]
    class_ids: tuple[int | None, ...]  # per sample, same order
    splits: tuple[str | None, ...]
    distance: int = 0  # largest hash distance to the group's first sample

    @property
    def conflicting_classes(self) -> bool:
        return len({c for c in self.class_ids if c is not None}) > 1

    @property
    def crosses_splits(self) -> bool:
        """Train/test leakage: the same picture in more than one split."""
        return len({s for s in self.splits if s is not None}) > 1


def _hash_bits(hexes: Sequence[str]) -> np.ndarray:
    """phash hex strings (64 bits) -> (N, 8) uint8 rows, for fast XOR + popcount."""
    return np.frombuffer(b"".join(bytes.fromhex(h.rjust(16, "0")[:16]) for h in hexes),
                         dtype=np.uint8).reshape(-1, 8)


_POPCOUNT = np.array([bin(i).count("1") for i in range(256)], dtype=np.uint8)


def _union_find_groups(n: int, pairs: Iterable[tuple[int, int]]) -> list[list[int]]:
    parent = list(range(n))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for a, b in pairs:
        ra, rb = root(a), root(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    groups: dict[int, list[int]] = defaultdict(list)
    for i in range(n):
        groups[root(i)].append(i)
    return [g for g in groups.values() if len(g) > 1]


def _sort_groups(groups: list[DuplicateGroup]) -> list[DuplicateGroup]:
    """Most harmful first: conflicting labels, then split leakage, then the rest."""
    return sorted(groups, key=lambda g: (not g.conflicting_classes, not g.crosses_splits, g.sample_ids))


def find_near_duplicates(
    s: Session, dataset_id: int, max_distance: int = 4, state: JobState | None = None
) -> list[DuplicateGroup]:
    """Groups of samples whose perceptual hashes differ in at most ``max_distance`` bits.

    Samples without a phash are left out (compute them first with compute_missing_phashes).
    Pairwise Hamming distances in numpy blocks: 10,000 hashes take well under a second."""
    rows = s.execute(
        select(Sample.id, Sample.phash, Sample.class_id, Sample.split)
        .where(Sample.dataset_id == dataset_id, Sample.phash.is_not(None))
        .order_by(Sample.id)
    ).all()
    if len(rows) < 2:
        return []
    bits = _hash_bits([r[1] for r in rows])
    pairs: list[tuple[int, int]] = []
    dist_of: dict[tuple[int, int], int] = {}
    block = 512
    for start in range(0, len(rows), block):
        if state:
            state.check_cancelled()
            state.set_progress(start / len(rows), "comparing images")
        x = bits[start : start + block]
        d = _POPCOUNT[x[:, None, :] ^ bits[None, start:, :]].sum(axis=2, dtype=np.uint16)
        ii, jj = np.nonzero(d <= max_distance)
        for i, j in zip(ii.tolist(), jj.tolist()):
            a, b = start + i, start + j
            if a < b:
                pairs.append((a, b))
                dist_of[(a, b)] = int(d[i, j])
    groups = []
    for members in _union_find_groups(len(rows), pairs):
        first = members[0]
        dist = max((dist_of.get((first, m), max_distance) for m in members[1:]), default=0)
        groups.append(DuplicateGroup("near", tuple(rows[m][0] for m in members),
                                     tuple(rows[m][2] for m in members),
                                     tuple(rows[m][3] for m in members), dist))
    return _sort_groups(groups)


def phash_of(data: bytes) -> str:
    """The perceptual hash of an image file (imagehash.phash, bit for bit) on the upright image,
    so hashes computed lazily here and by add_image compare."""
    return phash_hex(open_upright(data))


def _dct_matrix(n: int) -> np.ndarray:
    """DCT-II basis as a matrix: two small matmuls instead of scipy's per-call overhead."""
    k = np.arange(n)[:, None]
    return np.cos(np.pi * k * (2 * np.arange(n)[None, :] + 1) / (2 * n))


_PHASH_SIZE, _PHASH_HIGHFREQ = 8, 4
_DCT = _dct_matrix(_PHASH_SIZE * _PHASH_HIGHFREQ)


def phash_hex(img: Image.Image) -> str:
    """imagehash.phash(img) as its hex string, bit for bit (tests check), about 5x faster:
    grey, Lanczos to 32x32, 2-D DCT-II, top-left 8x8 against its median."""
    size = _PHASH_SIZE * _PHASH_HIGHFREQ
    grey = img if img.mode == "L" else img.convert("L")
    pixels = np.asarray(grey.resize((size, size), Image.Resampling.LANCZOS), dtype=np.float64)
    low = (_DCT @ pixels @ _DCT.T)[:_PHASH_SIZE, :_PHASH_SIZE]
    ordered = np.sort(low, axis=None)  # np.median is slow on 64 values; same result
    median = (ordered[31] + ordered[32]) / 2
    return np.packbits(low > median).tobytes().hex()

def _pixel_digest(data: bytes) -> str:
    img = open_image(data)  # the image's own mode: same pixels, not just the same RGB
    if img.mode not in ("RGB", "RGBA", "L"):
        img = img.convert("RGBA" if "A" in img.getbands() else "RGB")
    return hashlib.sha256(f"{img.mode}{img.size}".encode() + img.tobytes()).hexdigest()


def missing_phash_ids(s: Session, dataset_id: int) -> list[int]:
    return list(s.scalars(select(Sample.id).where(Sample.dataset_id == dataset_id,
                                                  Sample.phash.is_(None)).order_by(Sample.id)))


def compute_missing_phashes(lib, dataset_id: int, state: JobState | None = None, batch: int = 200) -> int:
    """Fill Sample.phash where the importer left it empty (a job: run it off the GUI thread).

    Decodes in a small thread pool (Pillow releases the GIL), writes each batch in one short
    transaction, so a cancel keeps what is done. Unreadable blobs are skipped. Returns the count."""
    with lib.session() as s:
        todo = s.execute(select(Sample.id, Sample.blob).where(
            Sample.dataset_id == dataset_id, Sample.phash.is_(None)).order_by(Sample.id)).all()
    done = 0

    def one(blob: str) -> str | None:
        try:
            return phash_of(lib.blobs.read(blob))
        except Exception:  # a missing or undecodable file is not a duplicate of anything
            return None

    with ThreadPoolExecutor(max_workers=2) as pool:
        for start in range(0, len(todo), batch):
            if state:
                state.check_cancelled()
                state.set_progress(start / max(len(todo), 1), f"hashing images {start}/{len(todo)}")
            part = todo[start : start + batch]
            hashes = list(pool.map(one, [b for _, b in part]))
            values = [{"sid": sid, "h": h} for (sid, _), h in zip(part, hashes) if h]
            if values:
                with lib.transaction() as s:
                    s.execute(update(SAMPLES).where(SAMPLES.c.id == bindparam("sid"))
                              .values(phash=bindparam("h")), values)
            done += len(values)
    if state:
        state.set_progress(1.0, f"hashed {done} images")
    return done


def find_exact_duplicates(
    s: Session, dataset_id: int, blobs, state: JobState | None = None
) -> list[DuplicateGroup]:
    """Groups of samples with identical pixels (the files differ - identical files are already
    one sample). Only samples sharing width x height (and phash, when known) are decoded."""
    rows = s.execute(
        select(Sample.id, Sample.blob, Sample.width, Sample.height, Sample.phash,
               Sample.class_id, Sample.split)
        .where(Sample.dataset_id == dataset_id).order_by(Sample.id)
    ).all()
    buckets: dict[tuple, list] = defaultdict(list)
    for r in rows:
        buckets[(r.width, r.height, r.phash)].append(r)
    candidates = [r for b in buckets.values() if len(b) > 1 for r in b]
    by_digest: dict[str, list] = defaultdict(list)
    for i, r in enumerate(candidates):
        if state:
            state.check_cancelled()
            state.set_progress(i / max(len(candidates), 1), "comparing pixels")
        try:
            by_digest[_pixel_digest(blobs.read(r.blob))].append(r)
        except Exception:  # unreadable: cannot be shown to be a duplicate
            continue
    groups = [
        DuplicateGroup("exact", tuple(r.id for r in g), tuple(r.class_id for r in g),
                       tuple(r.split for r in g))
        for g in by_digest.values() if len(g) > 1
    ]
    return _sort_groups(groups)
