"""The Train form for a text dataset: the encoder and max length rows, the freeze / unfreeze and
mixed precision rows it shares with images, and none of the image-only or table-only rows."""

from __future__ import annotations

import pytest

pytest.importorskip("PySide6")

from train_gui_helpers import main_window_at_1280x800, make_digits_home

from studio.data.text.importing import import_text_lines
from studio.store.datasets import create_dataset
from studio.store.library import Library
from studio.train.spec import TEXT, Freeze, Optimizer, check_kind

pytestmark = pytest.mark.gui
WAIT_MS = 120_000


def text_library(path) -> Library:
    lib = Library.open(make_digits_home(path))
    with lib.transaction() as s:
        dataset_id = create_dataset(s, "reviews", kind="text").id
    import_text_lines(lib, dataset_id, ["a gripping, funny film", "a joy from start to end"], class_name="pos")
    import_text_lines(lib, dataset_id, ["dull and far too long", "the plot makes no sense"], class_name="neg")
    return lib


def shown(*widgets) -> list[bool]:
    return [w.isVisible() for w in widgets]


def test_the_form_shows_the_text_settings_for_a_text_dataset(qtbot, tmp_path):
    lib = text_library(tmp_path / "library")
    with main_window_at_1280x800(qtbot, lib, tmp_path / "s.ini") as window:
        window.show_page("train")
        settings = window.training.train.settings
        qtbot.waitUntil(lambda: settings.dataset.count() == 2, timeout=WAIT_MS)
        by_name = {settings.dataset.itemText(i).split(" ")[0]: settings.dataset.itemData(i)
                   for i in range(settings.dataset.count())}
        assert "(text, 4 texts, 2 classes)" in settings.dataset.itemText(settings.dataset.findData(by_name["reviews"]))
        image_only = (settings.model, settings.image_size, settings.weights, settings.augment_row, settings.preview,
                      settings.kernels)
        table_only = (settings.hidden, settings.activation, settings.dropout, settings.batch_norm)
        text_rows = (settings.encoder_row, settings.max_length)

        settings.select_dataset(by_name["digits"])
        settings.optimizer.setCurrentIndex(settings.optimizer.findData(Optimizer.SGD))  # an image-only choice
        assert not any(shown(*text_rows))

        settings.select_dataset(by_name["reviews"])
        assert all(shown(*text_rows, settings.freeze, settings.amp))
        assert not any(shown(*image_only, *table_only, settings.optimizer, settings.schedule))
        settings.encoder.setText("/models/my-bert")
        settings.max_length.setValue(64)
        settings.freeze.setCurrentIndex(settings.freeze.findData(Freeze.BACKBONE))
        settings.unfreeze_after.setValue(2)
        spec = settings.train_spec()
        assert (spec.encoder, spec.max_length, spec.freeze, spec.unfreeze_after) == ("/models/my-bert", 64,
                                                                                      Freeze.BACKBONE, 2)
        check_kind(spec, TEXT, "reviews")  # the hidden image choice (SGD) is not sent with a text run

        settings.select_dataset(by_name["digits"])
        assert not any(shown(*text_rows)) and settings.train_spec().optimizer is Optimizer.SGD
