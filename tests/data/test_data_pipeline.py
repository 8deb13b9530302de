"""The data side: preprocessing contract, tensor cache, splits, loader order, augmentation."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from studio.core.errors import InvalidInputError
from studio.core.jobs import JobState
from studio.store import images as store_images
from studio.data.augment import make_augment, parse_augment
from studio.data.cache import build_cache, cache_path, load_images
from studio.data.loader import BatchLoader
from studio.data.preprocess import image_to_tensor, preprocess_batch, resize_uint8
from studio.data.samples import apply_holdout, check_trainable, hold_out_validation, load_view


def test_preprocess_follows_the_contract():
    rng = np.random.default_rng(0)
    pil = Image.fromarray(rng.integers(0, 256, (20, 30, 3), dtype=np.uint8), "RGB")
    card = {"image_size": 12, "mean": [0.1, 0.2, 0.3], "std": [0.5, 0.6, 0.7], "in_channels": 3}
    u8 = image_to_tensor(pil)
    assert u8.dtype == torch.uint8 and u8.shape == (3, 20, 30)
    expected = F.interpolate(u8[None].float() / 255, size=(12, 12), mode="bilinear", align_corners=False, antialias=True)
    expected = (expected - torch.tensor([0.1, 0.2, 0.3]).view(1, 3, 1, 1)) / torch.tensor([0.5, 0.6, 0.7]).view(1, 3, 1, 1)
    assert torch.allclose(preprocess_batch(u8[None], card), expected, atol=1e-6)
    grey = image_to_tensor(pil, in_channels=1)
    assert grey.shape == (1, 20, 30)
    assert torch.equal(grey[0], torch.from_numpy(np.array(pil.convert("L"))))
    cached = resize_uint8(u8, 12)
    assert cached.dtype == torch.uint8 and cached.shape == (3, 12, 12)
    assert torch.allclose(cached.float() / 255, F.interpolate(u8[None].float() / 255, size=(12, 12), mode="bilinear",
                                                            align_corners=False, antialias=True)[0], atol=0.5 / 255 + 1e-6)


def test_cache_decodes_each_image_once_and_is_reused(digits_lib, monkeypatch):
    with digits_lib.session() as s:
        view = load_view(s, "digits")
    refs = view.split("train")[:50]
    calls = []
    real = store_images.open_upright
    monkeypatch.setattr(store_images, "open_upright", lambda src: calls.append(src) or real(src))
    progress = []
    images = load_images(digits_lib, refs, 16, 1, state=JobState(on_progress=lambda f, m: progress.append(f)))
    assert len(calls) == 50 and progress[-1] == 1.0
    assert cache_path(digits_lib, refs, 16, 1).is_file()
    again = build_cache(digits_lib, list(reversed(refs)), 16, 1)  # same content, any order: same file
    assert len(calls) == 50
    assert isinstance(again, np.memmap) and again.shape == (50, 1, 16, 16)
    loader = BatchLoader(images, [r.id for r in refs], [r.label for r in refs], 16, seed=0)
    for epoch in (1, 2, 3):
        n = sum(len(b.labels) for b in loader.epoch(epoch))
        assert n >= 49
    assert len(calls) == 50  # epochs never open an image file
    other_size = build_cache(digits_lib, refs, 8, 1)
    assert other_size.shape == (50, 1, 8, 8) and len(calls) == 100


def test_cache_rows_match_decoded_images(digits_lib):
    with digits_lib.session() as s:
        refs = load_view(s, "digits").split("val")[:5]
    images = load_images(digits_lib, refs, 8, 1)
    for ref, row in zip(refs, images.take(images.rows([r.id for r in refs]))):
        pil = Image.open(digits_lib.blobs.path(ref.blob))
        assert torch.equal(row[0], torch.from_numpy(np.array(pil)))


def test_memmapped_cache_reads_rows_in_the_asked_order(digits_lib, monkeypatch):
    import studio.data.cache as cache

    monkeypatch.setattr(cache, "IN_MEMORY_LIMIT", 0)
    with digits_lib.session() as s:
        refs = load_view(s, "digits").split("val")[:20]
    images = load_images(digits_lib, refs, 8, 1)
    assert not images.in_memory
    rows = torch.tensor([5, 1, 19, 0])
    full = torch.from_numpy(np.load(cache_path(digits_lib, refs, 8, 1)))
    assert torch.equal(images.take(rows), full[rows])


def test_missing_image_file_gives_one_clear_message(digits_lib):
    with digits_lib.session() as s:
        refs = load_view(s, "digits").split("test")[:3]
    digits_lib.blobs.path(refs[1].blob).unlink()
    with pytest.raises(InvalidInputError, match=f"sample {refs[1].id}: its image file .* is missing"):
        load_images(digits_lib, refs, 8, 1)


def test_epoch_order_depends_only_on_seed_and_epoch(digits_lib):
    with digits_lib.session() as s:
        refs = load_view(s, "digits").split("train")[:100]
    images = load_images(digits_lib, refs, 8, 1)
    make = lambda seed: BatchLoader(images, [r.id for r in refs], list(range(len(refs))), 32, seed=seed)  # noqa: E731
    first = [b.labels.tolist() for b in make(3).epoch(2)]
    assert first == [b.labels.tolist() for b in make(3).epoch(2)]
    assert first != [b.labels.tolist() for b in make(3).epoch(3)]
    assert first != [b.labels.tolist() for b in make(4).epoch(2)]
    assert [b.labels.tolist() for b in make(3).epoch(2, start_batch=2)] == first[2:]


def test_shards_split_each_epoch_between_ranks(digits_lib):
    with digits_lib.session() as s:
        refs = load_view(s, "digits").split("train")[:101]
    images = load_images(digits_lib, refs, 8, 1)
    ids = [r.id for r in refs]
    seen = []
    lengths = []
    for rank in (0, 1):
        loader = BatchLoader(images, ids, list(range(len(ids))), 10, seed=1, rank=rank, world=2)
        lengths.append(len(loader))
        seen += [i for b in loader.epoch(1) for i in b.labels.tolist()]
    assert lengths[0] == lengths[1]
    assert len(seen) == len(set(seen)) == 100  # disjoint shards, one sample dropped to keep them equal


def test_holdout_is_stratified_and_deterministic(digits_lib):
    with digits_lib.session() as s:
        view = load_view(s, "digits")
    held = hold_out_validation(view, seed=0)
    assert held == hold_out_validation(view, seed=0) and held != hold_out_validation(view, seed=1)
    train = view.split("train")
    assert abs(len(held) - 0.1 * len(train)) <= 10
    labels = {s.id: s.label for s in train}
    per_class = np.bincount([labels[i] for i in held], minlength=10)
    assert per_class.min() >= 10 and per_class.max() <= 14
    moved = apply_holdout(view, held)
    assert len(moved.split("val")) == len(view.split("val")) + len(held)


def test_check_trainable_messages(library):
    from studio.data.samples import DatasetView, SampleRef

    empty = DatasetView(1, "pets", ["cat", "dog"], [])
    with pytest.raises(InvalidInputError, match="'pets' has no labelled samples"):
        check_trainable(empty)
    lonely = DatasetView(1, "pets", ["cat", "dog"], [SampleRef(1, "a", 0, "train")])
    with pytest.raises(InvalidInputError, match="class 'dog' of dataset 'pets' has no labelled samples"):
        check_trainable(lonely)
    one = DatasetView(1, "pets", ["cat"], [SampleRef(1, "a", 0, "train")])
    with pytest.raises(InvalidInputError, match="only one class \\('cat'\\)"):
        check_trainable(one)


def test_augment_keeps_shape_range_and_is_seeded():
    x = torch.rand(8, 3, 16, 16)
    aug = make_augment(parse_augment("flip,crop,color,rotate"))
    a = aug(x, torch.Generator().manual_seed(1))
    b = aug(x, torch.Generator().manual_seed(1))
    c = aug(x, torch.Generator().manual_seed(2))
    assert a.shape == x.shape and torch.equal(a, b) and not torch.equal(a, c)
    assert float(a.min()) >= 0 and float(a.max()) <= 1
    flip_only = make_augment(["flip"])(x, torch.Generator().manual_seed(0))
    for orig, out in zip(x, flip_only):  # each sample is either unchanged or mirrored
        assert torch.allclose(out, orig, atol=1e-5) or torch.allclose(out, orig.flip(-1), atol=1e-5)
    assert make_augment(parse_augment("none")) is None
    with pytest.raises(InvalidInputError, match="unknown augmentation 'blur'"):
        parse_augment("flip,blur")
