"""Tokenize once: each text's token ids on disk, memory-mapped, reused by later epochs and runs.

    tokenizer = prepared_tokenizer(load_tokenizer(folder), max_length=128)
    texts, tokenized_now = tokenize_dataset(lib, view, tokenizer, 128)   # rows in view.samples' order
    texts.ids(0), texts.lengths, texts.truncated_count

A cache belongs to one (dataset, tokenizer, max length). Inside it, entries are keyed by the text's
blob hash, so an edited or added text is the only one tokenized again; texts no longer asked for
are dropped when the cache is rewritten. Files: ``tokens-<n>.npy`` (every text's ids, one after
another) and ``index.npz`` (blob hashes, offsets, lengths, truncated flags) which names its tokens
file; both are written under temporary names and renamed, so a crash never leaves a half cache.

Truncation happens here and only here: a text longer than ``max_length`` tokens is kept whole in
the library, cut at tokenization, and counted in ``truncated_count``.
"""

from __future__ import annotations

import hashlib
import itertools
import os
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from studio.core.jobs import JobState
from studio.data.samples import DatasetView

INDEX_NAME = "index.npz"
ENCODE_CHUNK = 1024  # texts per encode_batch call: progress and cancel between chunks
HEAD_CHARS_PER_TOKEN = 16  # a text longer than max length x this is first tokenized by its head (_head)


def prepared_tokenizer(tokenizer, max_length: int):
    """A copy of ``tokenizer`` that pads nothing and truncates at ``max_length`` tokens (special tokens
    included). Some tokenizer.json files (all-MiniLM-L6-v2's) have fixed padding to 128 and truncation
    baked in, which transformers overrides per call: this makes plain ``tokenizers`` give its ids."""
    from tokenizers import Tokenizer

    copy = Tokenizer.from_str(tokenizer.to_str())
    copy.no_padding()
    copy.enable_truncation(max_length=max_length)
    return copy


def tokenizer_fingerprint(tokenizer) -> str:
    """Names the tokenizer's vocabulary and rules, whatever its padding and truncation settings."""
    from tokenizers import Tokenizer

    plain = Tokenizer.from_str(tokenizer.to_str())
    plain.no_padding()
    plain.no_truncation()
    return hashlib.sha256(plain.to_str().encode("utf-8")).hexdigest()[:16]


def token_cache_folder(cache_root: Path, dataset_id: int, tokenizer, max_length: int) -> Path:
    return Path(cache_root) / "tokens" / f"dataset{dataset_id}-{tokenizer_fingerprint(tokenizer)}-{max_length}"


def tokenize_dataset(lib, view: DatasetView, tokenizer, max_length: int,
                     state: JobState | None = None) -> tuple[TokenizedTexts, int]:
    """Every text of the dataset ``view`` (rows in ``view.samples``' order) from its library cache,
    and how many were tokenized now. ``tokenizer`` comes from prepared_tokenizer(..., max_length)."""
    folder = token_cache_folder(lib.cache_dir, view.id, tokenizer, max_length)
    return tokenize_cached(folder, tokenizer, [ref.blob for ref in view.samples],
                           lambda blob: lib.blobs.read(blob).decode("utf-8"), state)


@dataclass(frozen=True)
class TokenizedTexts:
    """Token ids of some texts, rows in the order asked for; ``tokens`` is shared (memory-mapped)."""

    tokens: np.ndarray  # every cached text's ids, one after another
    starts: np.ndarray  # int64, where each row's ids begin in ``tokens``
    lengths: np.ndarray  # int32, tokens per row (special tokens included)
    truncated: np.ndarray  # bool, the row's text was cut at max length

    def __len__(self) -> int:
        return len(self.starts)

    def ids(self, row: int) -> np.ndarray:
        start = int(self.starts[row])
        return self.tokens[start: start + int(self.lengths[row])]

    @property
    def truncated_count(self) -> int:
        return int(self.truncated.sum())

    def subset(self, rows: Sequence[int] | np.ndarray) -> TokenizedTexts:
        rows = np.asarray(rows, dtype=np.int64)
        return TokenizedTexts(self.tokens, self.starts[rows], self.lengths[rows], self.truncated[rows])


def tokenize_cached(folder: Path, tokenizer, blobs: Sequence[str], read_text: Callable[[str], str],
                    state: JobState | None = None) -> tuple[TokenizedTexts, int]:
    """The token ids of the texts ``blobs`` (in that order), and how many were tokenized now.

    ``tokenizer`` comes from prepared_tokenizer; ``read_text(blob)`` gives a text (only called for
    texts not in the cache). Pass all of a dataset's texts: the cache keeps only the texts asked for."""
    folder = Path(folder)
    cached = _load(folder)
    known = cached[0] if cached else {}
    missing = [blob for blob in dict.fromkeys(blobs) if blob not in known]
    if cached and not missing:
        return _rows(cached, blobs), 0
    new_ids, new_truncated = _encode(tokenizer, missing, read_text, state)  # reads a chunk of texts at a time
    cached = _rewrite(folder, cached, [b for b in dict.fromkeys(blobs) if b in known], missing, new_ids, new_truncated,
                      tokenizer.get_vocab_size(with_added_tokens=True))
    return _rows(cached, blobs), len(missing)


def tokenize_texts(tokenizer, texts: Sequence[str]) -> TokenizedTexts:
    """Texts tokenized in memory, not cached: a sentence typed to play with, files to predict."""
    ids, truncated = _encode(tokenizer, texts, str, None)
    lengths = np.array([len(i) for i in ids], dtype=np.int32)
    starts = np.zeros(len(ids), dtype=np.int64)
    starts[1:] = np.cumsum(lengths[:-1], dtype=np.int64)
    tokens = np.fromiter(itertools.chain.from_iterable(ids), dtype=np.int64, count=int(lengths.sum()))
    return TokenizedTexts(tokens, starts, lengths, np.array(truncated, dtype=bool))


def _encode(tokenizer, items: Sequence, read_text: Callable[..., str],
            state: JobState | None) -> tuple[list[list[int]], list[bool]]:
    max_length = tokenizer.truncation["max_length"]
    ids, truncated = [], []
    for start in range(0, len(items), ENCODE_CHUNK):
        if state is not None:
            state.check_cancelled()
            state.set_progress(start / len(items), f"tokenizing texts {start:,}/{len(items):,}")
        chunk = [read_text(item) for item in items[start: start + ENCODE_CHUNK]]
        heads = [_head(text, max_length) for text in chunk]
        for text, head, encoding in zip(chunk, heads, tokenizer.encode_batch(heads)):
            if head is not text and not encoding.overflowing:  # the head was too short after all
                encoding = tokenizer.encode(text)
            ids.append(encoding.ids)
            truncated.append(bool(encoding.overflowing))
    return ids, truncated


def _head(text: str, max_length: int) -> str:
    """A very long text's start, cut at a space, or the text itself. Tokenizers split words at spaces
    and tokenize the whole text before truncating; when the head alone overflows ``max_length``,
    its tokens up to there are the whole text's, so a 10 MB text costs what a page does."""
    window = max_length * HEAD_CHARS_PER_TOKEN
    if len(text) <= window:
        return text
    cut = max(text.rfind(" ", 0, window), text.rfind("\n", 0, window))
    return text[:cut] if cut > 0 else text


# --- the files ------------------------------------------------------------------------------------

_Cache = tuple[dict[str, int], np.ndarray, np.ndarray, np.ndarray, np.ndarray]  # index, tokens, starts, lengths, truncated


def _load(folder: Path) -> _Cache | None:
    """The cache in ``folder``; None when there is none, or when it cannot be read (its tokens file
    replaced by another process's rewrite, a damaged file): it is then built again."""
    try:
        with np.load(folder / INDEX_NAME, allow_pickle=False) as index:
            blobs, starts, lengths, truncated = (index[k] for k in ("blobs", "starts", "lengths", "truncated"))
            tokens_name = str(index["tokens_file"])
        tokens = np.load(folder / tokens_name, mmap_mode="r")
    except (OSError, ValueError, KeyError):
        return None
    return _cache(tokens, blobs, starts, lengths, truncated)


def _cache(tokens: np.ndarray, blobs: np.ndarray, starts, lengths, truncated) -> _Cache:
    position = {blob.decode("ascii"): i for i, blob in enumerate(blobs)}
    return position, tokens, starts, lengths, truncated


def _rows(cached: _Cache, blobs: Sequence[str]) -> TokenizedTexts:
    position, tokens, starts, lengths, truncated = cached
    rows = np.fromiter((position[b] for b in blobs), dtype=np.int64, count=len(blobs))
    return TokenizedTexts(tokens, starts[rows], lengths[rows], truncated[rows])


def _rewrite(folder: Path, cached: _Cache | None, kept: list[str], added: list[str], added_ids: list[list[int]],
             added_truncated: list[bool], vocab_size: int) -> _Cache:
    """A new tokens file and index holding the ``kept`` entries (copied, not re-tokenized) and the ``added`` ones."""
    folder.mkdir(parents=True, exist_ok=True)
    old_rows = np.array([cached[0][b] for b in kept], dtype=np.int64) if kept else np.zeros(0, np.int64)
    kept_lengths = cached[3][old_rows] if kept else np.zeros(0, np.int32)
    lengths = np.concatenate([kept_lengths, np.array([len(i) for i in added_ids], dtype=np.int32)]).astype(np.int32)
    starts = np.zeros(len(lengths), dtype=np.int64)
    starts[1:] = np.cumsum(lengths[:-1], dtype=np.int64)
    dtype = np.uint16 if vocab_size <= np.iinfo(np.uint16).max + 1 else np.int32
    tokens_name = f"tokens-{uuid.uuid4().hex[:12]}.npy"
    tmp = folder / f".{tokens_name}.tmp.npy"
    out = np.lib.format.open_memmap(tmp, mode="w+", dtype=dtype, shape=(int(lengths.sum()),))
    kept_total = int(kept_lengths.sum())
    if kept:  # one gather: each kept token's old position is its new one shifted by its row's move
        moves = np.repeat(cached[2][old_rows] - starts[: len(kept)], kept_lengths)
        out[:kept_total] = cached[1][np.arange(kept_total, dtype=np.int64) + moves]
    out[kept_total:] = np.fromiter(itertools.chain.from_iterable(added_ids), dtype=dtype, count=len(out) - kept_total)
    out.flush()
    del out
    os.replace(tmp, folder / tokens_name)
    tokens = np.load(folder / tokens_name, mmap_mode="r")  # mapped now: stays readable if another rewrite removes it
    truncated = np.concatenate([cached[4][old_rows] if kept else np.zeros(0, bool), np.array(added_truncated, dtype=bool)])
    blobs = np.array([b.encode("ascii") for b in kept + added], dtype="S64")
    index_tmp = folder / f".index-{tokens_name}.tmp.npz"
    np.savez(index_tmp, blobs=blobs, starts=starts, lengths=lengths, truncated=truncated, tokens_file=np.array(tokens_name))
    os.replace(index_tmp, folder / INDEX_NAME)
    _remove_old_tokens(folder, keep=tokens_name)
    return _cache(tokens, blobs, starts, lengths, truncated)


def _remove_old_tokens(folder: Path, keep: str) -> None:
    """Earlier tokens files; one still open elsewhere (Windows) is left for the next rewrite."""
    for path in folder.glob("tokens-*.npy"):
        if path.name != keep:
            try:
                path.unlink()
            except OSError:
                pass
