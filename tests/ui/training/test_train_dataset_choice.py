"""The Train page starts on the dataset the user has open on the Datasets page (a user's path:
open a dataset, then go to Train), and follows a later change of it."""

from __future__ import annotations

import pytest

pytest.importorskip("PySide6")

from PySide6.QtWidgets import QListWidget  # noqa: E402

from studio.store.library import Library  # noqa: E402
from train_gui_helpers import main_window_at_1280x800, make_digits_home  # noqa: E402

pytestmark = pytest.mark.gui
WAIT_MS = 60_000


def _click_dataset(qtbot, window, name: str) -> None:
    datasets = window.datasets
    listing = datasets.findChild(QListWidget, "dataset_list") or next(
        w for w in datasets.findChildren(QListWidget) if any(w.item(i).text().startswith(name) for i in range(w.count())))
    row = next(i for i in range(listing.count()) if listing.item(i).text().startswith(name))
    rect = listing.visualItemRect(listing.item(row))
    from PySide6.QtCore import Qt

    qtbot.mouseClick(listing.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())


def test_train_page_follows_the_open_dataset(qtbot, tmp_path):
    from studio.store.demo import add_demo_dataset

    lib = Library.open(make_digits_home(tmp_path / "library"))
    add_demo_dataset(lib)  # "Demo shapes" sorts first: the Train page used to pick it whatever was open
    with main_window_at_1280x800(qtbot, lib, tmp_path / "s.ini") as window:
        for name in ("digits", "Demo shapes"):
            _click_dataset(qtbot, window, name)
            chosen = window.datasets.current_id
            window.show_page("train")
            settings = window.training.train.settings
            qtbot.waitUntil(lambda: settings.dataset.count() == 2, timeout=WAIT_MS)
            qtbot.waitUntil(lambda: settings.dataset.currentData() == chosen, timeout=WAIT_MS)
            assert settings.dataset.currentText().startswith(name)
            window.show_page("datasets")


def test_train_form_fits_its_column_at_1280x800(qtbot, tmp_path, artifacts):
    from PySide6.QtWidgets import QComboBox, QScrollArea

    lib = Library.open(make_digits_home(tmp_path / "library"))
    with main_window_at_1280x800(qtbot, lib, tmp_path / "s.ini") as window:
        window.show_page("train")
        page = window.training.train
        qtbot.waitUntil(lambda: page.settings.dataset.count() == 1, timeout=WAIT_MS)
        qtbot.wait(100)
        scroll = next(w for w in page.findChildren(QScrollArea) if w.widget() is page.settings)
        assert page.settings.width() <= scroll.viewport().width()  # no hidden right edge
        for combo in page.settings.findChildren(QComboBox):
            if combo.isVisible():
                right = combo.mapTo(scroll.viewport(), combo.rect().topRight()).x()
                assert right <= scroll.viewport().width(), combo.currentText()
        window.grab().save(str(artifacts / "train_page_form.png"))
