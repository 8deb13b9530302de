"""The Train page's augmentation preview is the training pipeline: same decoding, channel mode
(the dataset's, as training picks it), resize and augmentation."""

from __future__ import annotations

import numpy as np
from PIL import Image

from studio.data.augment import preview
from studio.data.cache import load_images
from studio.data.samples import load_view
from studio.store.datasets import create_dataset
from studio.store.importers import import_path


def _save(path, image: Image.Image) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path)


def _colour(rgb: tuple[int, int, int]) -> Image.Image:
    return Image.new("RGB", (20, 20), rgb)


def _dataset(lib, tmp_path, name: str, images: list[tuple[str, Image.Image]]) -> int:
    """One import per image, in order: sample ids follow the list."""
    with lib.transaction() as s:
        dataset_id = create_dataset(s, name).id
    for i, (label, image) in enumerate(images):
        path = tmp_path / name / f"{i}" / label / f"{i}.png"
        _save(path, image)
        import_path(lib, dataset_id, path.parent.parent)
    return dataset_id


def _is_grey(image: np.ndarray) -> bool:
    return bool((image[..., 0] == image[..., 1]).all() and (image[..., 1] == image[..., 2]).all())


def test_colour_dataset_stays_in_colour_when_the_last_image_is_grey(library, tmp_path):
    dataset_id = _dataset(library, tmp_path, "mixed", [
        ("red", _colour((200, 30, 30))), ("blue", _colour((30, 30, 200))),
        ("grey", Image.new("L", (20, 20), 120)),  # the last one: it used to decide for all
    ])
    shown = preview(library, dataset_id, [], 16, 3, seed=0)
    assert len(shown) == 3 and all(img.shape == (16, 16, 3) and img.dtype == np.uint8 for img in shown)
    assert shown[0][..., 0].mean() > 150 > shown[0][..., 2].mean()  # still red
    assert shown[1][..., 2].mean() > 150 > shown[1][..., 0].mean()  # still blue
    assert _is_grey(shown[2])


def test_grey_dataset_previews_grey(library, tmp_path):
    rng = np.random.default_rng(0)
    dataset_id = _dataset(library, tmp_path, "grey", [
        (label, Image.fromarray(rng.integers(0, 256, (20, 20), dtype=np.uint8), "L")) for label in ("a", "b", "a")
    ])
    shown = preview(library, dataset_id, ["crop", "color"], 12, 3, seed=1)
    assert len(shown) == 3 and all(img.shape == (12, 12, 3) and _is_grey(img) for img in shown)


def test_without_augmentation_it_shows_exactly_what_training_loads(digits_lib):
    with digits_lib.session() as s:
        view = load_view(s, "digits")
    shown = preview(digits_lib, view.id, [], 8, 4, seed=0)
    labelled = sorted((r for r in view.samples if r.label >= 0), key=lambda r: (r.split != "train", r.id))
    picks = [labelled[int(i)] for i in np.linspace(0, len(labelled) - 1, num=4)]
    cached = load_images(digits_lib, picks, 8, view.channels)
    assert view.channels == 1
    for ref, image in zip(picks, shown):
        trained_on = cached.take(cached.rows([ref.id]))[0, 0].numpy()
        assert np.array_equal(image[..., 0], trained_on) and _is_grey(image)


def test_augmentation_follows_the_seed(digits_lib):
    with digits_lib.session() as s:
        dataset_id = load_view(s, "digits").id
    first = preview(digits_lib, dataset_id, ["crop", "rotate"], 16, 3, seed=5)
    again = preview(digits_lib, dataset_id, ["crop", "rotate"], 16, 3, seed=5)
    other = preview(digits_lib, dataset_id, ["crop", "rotate"], 16, 3, seed=6)
    plain = preview(digits_lib, dataset_id, [], 16, 3, seed=5)
    assert all(np.array_equal(a, b) for a, b in zip(first, again))
    assert not all(np.array_equal(a, b) for a, b in zip(first, other))
    assert not all(np.array_equal(a, b) for a, b in zip(first, plain))


def test_no_labelled_images_no_preview(library):
    with library.transaction() as s:
        dataset_id = create_dataset(s, "empty").id
    assert preview(library, dataset_id, ["flip"], 16, 5, seed=0) == []
