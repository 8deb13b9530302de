"""Training a table from the Train page, as a user does it: open the table on the Datasets page, go
to Train (the form shows the network's settings, not the image ones), press Train, watch the live
plots fill, and the run completes. And the form switching back to image settings for images."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("PySide6")

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QListWidget
from train_gui_helpers import main_window_at_1280x800, make_digits_home

from studio.core.run_status import RunStatus
from studio.data.tables.dataset import import_table
from studio.data.tables.demos import DEMO_TABLES
from studio.store.library import Library
from studio.store.models import Run
from studio.train.spec import Activation

pytestmark = pytest.mark.gui
WAIT_MS = 120_000


def open_dataset(qtbot, window, name: str) -> None:
    """Click the dataset's row in the Datasets page's list."""
    listing = next(w for w in window.datasets.findChildren(QListWidget)
                   if any(w.item(i).text().startswith(name) for i in range(w.count())))
    row = next(i for i in range(listing.count()) if listing.item(i).text().startswith(name))
    qtbot.mouseClick(listing.viewport(), Qt.MouseButton.LeftButton, pos=listing.visualItemRect(listing.item(row)).center())


def image_rows_shown(settings) -> list[bool]:
    return [w.isVisible() for w in (settings.model, settings.image_size, settings.weights, settings.freeze,
                                    settings.augment_row, settings.preview, settings.kernels, settings.amp)]


def table_rows_shown(settings) -> list[bool]:
    return [w.isVisible() for w in (settings.hidden, settings.activation, settings.dropout, settings.batch_norm)]


def test_a_table_trains_from_the_train_page_with_live_plots(qtbot, tmp_path, artifacts):
    lib = Library.open(tmp_path / "library")
    import_table(lib, "penguins", DEMO_TABLES["penguins"].path, targets=["species"])
    with main_window_at_1280x800(qtbot, lib, tmp_path / "s.ini") as window:
        open_dataset(qtbot, window, "penguins")
        chosen = window.datasets.current_id
        window.show_page("train")
        page = window.training.train
        settings = page.settings
        qtbot.waitUntil(lambda: settings.dataset.currentData() == chosen, timeout=WAIT_MS)
        assert "table" in settings.dataset.currentText()
        assert not any(image_rows_shown(settings)) and all(table_rows_shown(settings))
        assert settings.early_stopping.isVisible() and settings.batch_size.text() == "automatic"

        settings.hidden.clear()
        qtbot.keyClicks(settings.hidden, "32,16")
        settings.activation.setCurrentIndex(settings.activation.findData(Activation.TANH))
        settings.epochs.setValue(15)
        qtbot.wait(100)
        page.grab().save(str(artifacts / "train_page_table.png"))

        qtbot.mouseClick(page.train_button, Qt.MouseButton.LeftButton)
        live = page.live
        qtbot.waitUntil(lambda: live.loss_plot.point_count("val_loss") >= 3, timeout=WAIT_MS)
        assert live.acc_plot.point_count("val_accuracy") >= 3  # a classification: accuracy per epoch
        qtbot.waitUntil(lambda: live.model.done is not None, timeout=WAIT_MS)
        assert live.model.done.status == RunStatus.COMPLETED, live.model.message
        assert live.model.best_val_accuracy > 0.9
        qtbot.waitUntil(page.train_button.isEnabled, timeout=WAIT_MS)
        page.grab().save(str(artifacts / "train_page_table_done.png"))
        with lib.session() as s:
            run = s.get(Run, live.model.run_id)
            assert run.spec["kind"] == "table" and run.spec["hidden"] == [32, 16]
            assert run.spec["activation"] == "tanh" and run.spec["epochs"] == 15 and run.status == "completed"


def test_the_form_shows_the_settings_of_the_chosen_kind(qtbot, tmp_path):
    lib = Library.open(make_digits_home(tmp_path / "library"))
    import_table(lib, "xor", DEMO_TABLES["xor"].path, targets=["xor"])
    with main_window_at_1280x800(qtbot, lib, tmp_path / "s.ini") as window:
        window.show_page("train")
        settings = window.training.train.settings
        qtbot.waitUntil(lambda: settings.dataset.count() == 2, timeout=WAIT_MS)
        by_name = {settings.dataset.itemText(i).split(" ")[0]: settings.dataset.itemData(i)
                   for i in range(settings.dataset.count())}

        settings.select_dataset(by_name["xor"])
        assert not any(image_rows_shown(settings)) and all(table_rows_shown(settings))
        settings.image_size.setValue(64)  # set while hidden: not part of a table's settings
        settings.hidden.setText("8")
        spec = settings.train_spec()
        assert spec.hidden == (8,) and spec.image_size is None and spec.batch_size is None

        settings.select_dataset(by_name["digits"])
        assert all(image_rows_shown(settings)[:5]) and not any(table_rows_shown(settings))
        spec = settings.train_spec()
        assert spec.image_size == 64 and spec.hidden == (128, 64)  # the table's layers stay with tables


def test_a_regression_shows_its_r2_live(qtbot, tmp_path, artifacts):
    from sklearn.datasets import load_diabetes

    data = load_diabetes(scaled=False)
    csv = tmp_path / "diabetes.csv"
    csv.write_text(",".join([*data.feature_names, "progression"]) + "\n" + "".join(
        ",".join(f"{v:g}" for v in row) + "\n" for row in np.column_stack([data.data, data.target])))
    lib = Library.open(tmp_path / "library")
    dataset_id = import_table(lib, "diabetes", csv, targets=["progression"]).dataset_id
    with main_window_at_1280x800(qtbot, lib, tmp_path / "s.ini") as window:
        window.show_page("train")
        page = window.training.train
        qtbot.waitUntil(lambda: page.settings.select_dataset(dataset_id), timeout=WAIT_MS)
        page.settings.epochs.setValue(12)
        qtbot.mouseClick(page.train_button, Qt.MouseButton.LeftButton)
        live = page.live
        qtbot.waitUntil(lambda: live.model.done is not None, timeout=WAIT_MS)
        assert live.model.done.status == RunStatus.COMPLETED, live.model.message
        r2 = live.acc_plot.data("val_accuracy")[1]
        assert len(r2) == 12 and r2[-1] > 0.2  # val R² per epoch, in the score plot
        assert live.stats["val"].caption.text() == "Val loss / R²" and live.stats["speed"].caption.text() == "Rows/s"
        qtbot.waitUntil(page.train_button.isEnabled, timeout=WAIT_MS)
        page.grab().save(str(artifacts / "train_page_table_regression.png"))


def test_a_resumed_regression_redraws_its_r2(qtbot, tmp_path, linnerud_library):
    from studio.core.jobs import JobState
    from studio.train.history import run_history
    from studio.train.runner import create_run, run_training
    from studio.ui.training.live_view import LiveTrainingView

    lib = linnerud_library
    run_id = create_run(lib, "linnerud", {"epochs": 30, "early_stopping": 0})
    state = JobState()
    stopped = run_training(lib, run_id, state, emit=lambda e: e["event"] == "epoch" and e["epoch"] == 6 and state.cancel())
    assert stopped["status"] == "stopped" and 6 <= stopped["epochs"] < 30
    view = LiveTrainingView()
    qtbot.addWidget(view)
    view.show_history(run_history(lib, run_id))
    epochs, r2 = view.acc_plot.data("val_accuracy")
    assert list(epochs) == list(range(1, stopped["epochs"] + 1)) and view.stats["best"].caption.text() == "Best val R²"
    assert view.model.val_accuracy == r2[-1]
    lib.close()


@pytest.fixture
def linnerud_library(tmp_path):
    """scikit-learn's Linnerud table (three exercises -> three body measurements of 20 men)."""
    from sklearn.datasets import load_linnerud

    data = load_linnerud()
    csv = tmp_path / "linnerud.csv"
    csv.write_text(",".join([*data.feature_names, *data.target_names]) + "\n" + "".join(
        ",".join(f"{v:g}" for v in row) + "\n" for row in np.column_stack([data.data, data.target])))
    lib = Library.open(tmp_path / "library")
    import_table(lib, "linnerud", csv, targets=list(data.target_names))
    return lib
