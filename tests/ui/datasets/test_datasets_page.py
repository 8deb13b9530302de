"""The Datasets page on real windows: demo listing, imports (and their cancel), filters, the
large sample view, the split dialog, and a 100,000-sample grid model."""

from __future__ import annotations

from pathlib import Path

import pytest

pytestmark = pytest.mark.gui

PySide6 = pytest.importorskip("PySide6")

from PySide6.QtCore import QMimeData, QPointF, QSettings, Qt, QUrl  # noqa: E402
from PySide6.QtGui import QDropEvent  # noqa: E402
from PySide6.QtWidgets import QApplication, QDialogButtonBox  # noqa: E402
from sqlalchemy import func, insert, select  # noqa: E402

from studio.store import datasets as store_datasets  # noqa: E402
from studio.store.library import Library  # noqa: E402
from studio.store.models import Dataset, Sample  # noqa: E402

WAIT_MS = 60_000


# --- fixtures ---------------------------------------------------------------------------------
def _digits_folder(root: Path, count: int) -> Path:
    """sklearn's digits as class-folder PNGs (0/..., 1/..., ...), upscaled to 32x32."""
    import numpy as np
    from PIL import Image
    from sklearn.datasets import load_digits

    digits = load_digits()
    root.mkdir(parents=True)
    for i in range(count):
        pixels = (digits.images[i] * (255 / 16)).astype(np.uint8)
        folder = root / str(digits.target[i])
        folder.mkdir(exist_ok=True)
        Image.fromarray(pixels).resize((32, 32), Image.Resampling.NEAREST).save(folder / f"digit_{i:04d}.png")
    return root


@pytest.fixture
def digits_200(tmp_path) -> Path:
    return _digits_folder(tmp_path / "digits", 200)


@pytest.fixture
def make_window(qtbot, tmp_path):
    """Opens MainWindow on a library in tmp (settings in an ini file there, never the user's)."""
    from studio.ui.shell.main_window import MainWindow

    opened = []

    def make(demo: bool = True):
        lib = Library.open(tmp_path / "library", demo=demo)
        settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
        window = MainWindow(lib, settings)
        qtbot.addWidget(window)
        window.resize(1280, 800)
        window.show()
        qtbot.waitExposed(window)
        opened.append((window, lib))
        return window

    yield make
    for window, lib in opened:
        window.datasets.thumbnails.wait(5000)
        if window.datasets.import_job is not None:
            window.datasets.import_job.cancel()
        window.close()
        QApplication.processEvents()
        lib.close()


@pytest.fixture
def no_dialogs(monkeypatch):
    """Records message boxes instead of blocking on them."""
    shown: list[tuple[str, str]] = []
    import studio.ui.datasets.dataset_actions as actions_module
    import studio.ui.datasets.importing as importing_module
    import studio.ui.datasets.page as page_module

    for module in (page_module, actions_module, importing_module):  # the page and its parts
        monkeypatch.setattr(module, "show_error", lambda _parent, title, text: shown.append((title, text)))
    return shown


def wait_thumbnails(qtbot, page, rows: int, first: int = 0) -> None:
    """Wait until the thumbnails of rows first..first+rows that are on screen are in."""
    from studio.ui.common.sample_grid import ThumbnailStateRole

    model, grid = page.model, page.grid
    n = min(first + rows, model.rowCount())

    def ready() -> bool:
        grid.viewport().update()
        shown = [r for r in range(first, n) if grid.visualRect(model.index(r)).intersects(grid.viewport().rect())]
        return bool(shown) and all(model.index(r).data(ThumbnailStateRole) != "loading" for r in shown)

    qtbot.waitUntil(ready, timeout=WAIT_MS)


def wait_grid(qtbot, page) -> None:
    """The grid reads its ids on a worker thread: wait until they are in."""
    qtbot.waitUntil(lambda: not page.model.loading, timeout=WAIT_MS)


def run_import(qtbot, page, paths):
    with qtbot.waitSignal(page.import_finished, timeout=WAIT_MS) as blocker:
        job = page.import_paths(paths)
        assert job is not None
    wait_grid(qtbot, page)
    return blocker.args[0]


def db_counts(lib: Library, dataset_id: int) -> dict:
    with lib.session() as s:
        return {
            "classes": {c.name: c.count for c in store_datasets.class_counts(s, dataset_id)},
            "unlabelled": store_datasets.unlabelled_count(s, dataset_id),
            "samples": s.scalar(select(func.count(Sample.id)).where(Sample.dataset_id == dataset_id)),
        }


def shown_counts(page) -> dict[str, int]:
    """What the side panel shows: {row title: count}."""
    out = {}
    for item in page.filter_tree.all_items():
        key = item.data(0, Qt.ItemDataRole.UserRole)
        if key is not None:
            out[item.text(0)] = int(item.text(1).replace(",", ""))
    return out


# --- tests ------------------------------------------------------------------------------------
def test_demo_dataset_is_listed_with_its_grid_and_counts(make_window, qtbot, artifacts):
    window = make_window(demo=True)
    page = window.datasets
    wait_grid(qtbot, page)
    assert page.dataset_list.count() >= 1
    assert page.current_id is not None
    counts = db_counts(window.lib, page.current_id)
    assert counts["samples"] > 0
    assert page.model.rowCount() == counts["samples"]
    shown = shown_counts(page)
    for name, n in counts["classes"].items():
        assert shown[name] == n
    assert shown["Unlabelled"] == counts["unlabelled"]
    assert shown["All samples"] == counts["samples"]
    assert f"{counts['samples']:,} samples" in window.count_label.text()
    assert str(window.lib.home) in window.library_label.toolTip()
    wait_thumbnails(qtbot, page, 12)
    from studio.ui.common.sample_grid import ThumbnailStateRole

    assert page.model.index(0).data(ThumbnailStateRole) == "ready"
    # for the screenshot: where one class ends and the next begins, one tile selected
    from PySide6.QtWidgets import QAbstractItemView

    names = [page.model.sample_row(r).class_name for r in range(page.model.rowCount())]
    boundary = next((r for r, name in enumerate(names) if name != names[0]), 0)
    top = max(0, boundary - 7)
    page.grid.scrollTo(page.model.index(top), QAbstractItemView.ScrollHint.PositionAtTop)
    page.grid.setCurrentIndex(page.model.index(boundary + 1))
    wait_thumbnails(qtbot, page, 25, first=top)
    qtbot.wait(100)
    window.grab().save(str(artifacts / "main_window_demo.png"))


def test_import_folder_updates_grid_counts_and_summary(make_window, qtbot, digits_200, artifacts, no_dialogs):
    window = make_window(demo=False)
    page = window.datasets
    ds_id = page.create_dataset("digits")
    wait_grid(qtbot, page)
    assert page.model.rowCount() == 0 and page.empty_label.isVisible()

    summary = run_import(qtbot, page, [digits_200])
    assert not no_dialogs
    assert (summary.added, summary.duplicates, len(summary.rejected), summary.cancelled) == (200, 0, 0, False)
    assert page.summary_dialog.headline.text() == "200 added, 0 duplicates, 0 rejected"
    assert not page.import_panel.isVisible()
    counts = db_counts(window.lib, ds_id)
    assert counts["samples"] == 200 and len(counts["classes"]) == 10
    assert page.model.rowCount() == 200 and page.grid.isVisible()
    shown = shown_counts(page)
    assert all(shown[name] == n for name, n in counts["classes"].items())
    assert "200 samples" in window.count_label.text()
    wait_thumbnails(qtbot, page, 20)
    qtbot.wait(100)
    window.grab().save(str(artifacts / "main_window_digits.png"))
    page.summary_dialog.close()

    # the same folder again: all duplicates; plus a broken file and a text file, rejected with reasons
    (digits_200 / "3" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n this is not really a png")
    (digits_200 / "notes.txt").write_text("not an image")
    summary = run_import(qtbot, page, [digits_200])
    assert summary.added == 0 and summary.duplicates == 200
    rejected = dict((Path(src).name, reason) for src, reason in summary.rejected)
    assert "broken.png" in rejected and rejected["broken.png"]
    dialog = page.summary_dialog
    assert dialog.headline.text().endswith(f"{len(summary.rejected)} rejected")
    assert dialog.details_button.isEnabled()
    dialog.details_button.click()
    assert dialog.details.isVisible()
    # each rejected file is shown with its folder, relative to what was imported (issue 16)
    names = [name for name, _reason in dialog.rejected_rows()]
    assert "3/broken.png" in names and "notes.txt" in names
    tips = [dialog.details.item(r, 0).toolTip() for r in range(dialog.details.rowCount())]
    assert str(digits_200 / "3" / "broken.png") in tips
    assert all(reason for _name, reason in dialog.rejected_rows())
    qtbot.wait(50)
    dialog.grab().save(str(artifacts / "import_summary_rejected.png"))
    assert db_counts(window.lib, ds_id)["samples"] == 200


def test_cancel_import_midway_keeps_a_consistent_library(make_window, qtbot, tmp_path, artifacts):
    window = make_window(demo=False)
    page = window.datasets
    ds_id = page.create_dataset("big")
    folder = _digits_folder(tmp_path / "many", 1797)

    with qtbot.waitSignal(page.import_finished, timeout=WAIT_MS) as blocker:
        job = page.import_paths([folder])
        assert page.import_panel.isVisible()
        window.grab().save(str(artifacts / "import_in_progress.png"))
        assert not page.import_folder_action.isEnabled()  # one import at a time
        job.progress.connect(lambda fraction, _msg: fraction > 0 and page.import_panel.cancel_button.click())
    summary = blocker.args[0]
    wait_grid(qtbot, page)
    assert summary.cancelled
    assert summary.added < 1797
    assert page.summary_dialog.headline.text().startswith("Import cancelled")
    with window.lib.session() as s:
        blobs = list(s.scalars(select(Sample.blob).where(Sample.dataset_id == ds_id)))
    assert len(blobs) == summary.added
    assert all(window.lib.blobs.exists(b) for b in blobs)
    assert page.model.rowCount() == summary.added
    assert page.import_folder_action.isEnabled()


def test_filters_by_class_unlabelled_and_split(make_window, qtbot, digits_200, tmp_path):
    window = make_window(demo=False)
    page = window.datasets
    ds_id = page.create_dataset("digits")
    # two unlabelled files at the top of the folder
    from PIL import Image

    for i in range(2):
        Image.new("L", (32, 32), 40 * i + 20).save(digits_200 / f"loose_{i}.png")
    run_import(qtbot, page, [digits_200])
    page.summary_dialog.close()
    counts = db_counts(window.lib, ds_id)
    assert counts["unlabelled"] == 2

    def click(key):
        item = page.filter_item(key)
        rect = page.filter_tree.visualItemRect(item)
        qtbot.mouseClick(page.filter_tree.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
        wait_grid(qtbot, page)

    for c in page.class_counts:
        click(("class", c.class_id))
        assert page.model.rowCount() == c.count == counts["classes"][c.name]
        row = page.model.sample_row(0)
        assert row.class_id == c.class_id
    click(("unlabelled", None))
    assert page.model.rowCount() == 2
    click(("all", None))
    assert page.model.rowCount() == 202

    page.apply_split((0.8, 0.1, 0.1), seed=1)
    wait_grid(qtbot, page)
    with window.lib.session() as s:
        by_split = dict(
            s.execute(select(Sample.split, func.count()).where(Sample.dataset_id == ds_id).group_by(Sample.split)).all()
        )
    assert sum(by_split.values()) == 202 and by_split.get("train", 0) > 0
    for split in ("train", "val", "test"):
        click(("split", split))
        assert page.model.rowCount() == by_split.get(split, 0)
        assert shown_counts(page)[{"train": "Train", "val": "Validation", "test": "Test"}[split]] == by_split.get(split, 0)
    click(("split", "none"))
    assert page.model.rowCount() == by_split.get(None, 0)
    click(("all", None))
    assert page.model.rowCount() == 202


def test_sample_viewer_shows_metadata_and_arrows_move(make_window, qtbot, digits_200, artifacts):
    window = make_window(demo=False)
    page = window.datasets
    page.create_dataset("digits")
    run_import(qtbot, page, [digits_200])
    page.summary_dialog.close()
    page.grid.setFocus()
    page.grid.setCurrentIndex(page.model.index(0))
    qtbot.keyClick(page.grid, Qt.Key.Key_Return)
    viewer = page.viewer
    assert viewer is not None and viewer.isVisible() and viewer.row == 0
    first = page.model.sample_row(0)
    qtbot.waitUntil(lambda: viewer.canvas.image() is not None, timeout=WAIT_MS)
    assert (viewer.canvas.image().width(), viewer.canvas.image().height()) == (32, 32)
    assert viewer.fields["size"].text().startswith("32 × 32")
    assert viewer.fields["sample"].text() == f"#{first.id}"
    assert first.class_name in viewer.fields["class"].text()
    assert viewer.fields["format"].text() == "PNG"
    assert viewer.fields["source"].text().replace("\u200b", "") == first.source_path
    assert first.source_path.endswith(".png")
    assert viewer.fields["labelled_by"].text() == first.labelled_by
    assert f"{first.byte_size:,} bytes" in viewer.fields["bytes"].text()
    qtbot.wait(50)
    viewer.grab().save(str(artifacts / "sample_viewer.png"))

    qtbot.keyClick(viewer, Qt.Key.Key_Right)
    second = page.model.sample_row(1)
    assert viewer.row == 1 and viewer.fields["sample"].text() == f"#{second.id}"
    assert page.grid.currentIndex().row() == 1  # the grid follows
    qtbot.keyClick(viewer, Qt.Key.Key_Left)
    assert viewer.row == 0
    qtbot.keyClick(viewer, Qt.Key.Key_Left)  # already first: stays
    assert viewer.row == 0 and not viewer.prev_button.isEnabled()
    viewer.close()

    # double-click and Space open one too
    rect = page.grid.visualRect(page.model.index(2))
    qtbot.mouseClick(page.grid.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())  # press sets the item
    qtbot.mouseDClick(page.grid.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert page.viewer is not viewer and page.viewer.isVisible() and page.viewer.row == 2
    page.viewer.close()
    page.grid.setCurrentIndex(page.model.index(3))
    qtbot.keyClick(page.grid, Qt.Key.Key_Space)
    assert page.viewer.isVisible() and page.viewer.row == 3


def test_split_dialog_validates_and_splits(make_window, qtbot, digits_200, artifacts, monkeypatch):
    from studio.ui.datasets.split_dialog import SplitDialog

    window = make_window(demo=False)
    page = window.datasets
    ds_id = page.create_dataset("digits")
    run_import(qtbot, page, [digits_200])
    page.summary_dialog.close()

    dialog = SplitDialog("digits", 200)
    qtbot.addWidget(dialog)
    dialog.show()
    ok = dialog.buttons.button(QDialogButtonBox.StandardButton.Ok)
    assert dialog.fractions() == (0.8, 0.1, 0.1) and ok.isEnabled()
    dialog.train.setValue(70)
    assert not ok.isEnabled() and "90" in dialog.message.text()
    qtbot.wait(50)
    dialog.grab().save(str(artifacts / "split_dialog_invalid.png"))
    dialog.val.setValue(20)
    assert ok.isEnabled() and dialog.message.text() == ""
    qtbot.wait(50)
    dialog.grab().save(str(artifacts / "split_dialog.png"))

    # through the page action: the dialog's values are applied and the counts refresh
    def fake_exec(self):
        self.train.setValue(60)
        self.val.setValue(20)
        self.test.setValue(20)
        self.seed.setValue(7)
        return SplitDialog.DialogCode.Accepted

    monkeypatch.setattr(SplitDialog, "exec", fake_exec)
    page.split_action.trigger()
    wait_grid(qtbot, page)
    with window.lib.session() as s:
        splits = store_datasets.split_counts(s, ds_id)
    assert splits["train"] + splits["val"] + splits["test"] == 200
    assert abs(splits["train"] - 120) <= 10 and abs(splits["val"] - 40) <= 10  # per-class rounding
    assert shown_counts(page)["Train"] == splits["train"]


def test_grid_model_with_100k_samples_loads_lazily_and_scrolls(qtbot, tmp_path, artifacts):
    from studio.ui.common.sample_grid import SampleGridModel, SampleGridView, SampleRowRole, ThumbnailCache
    from studio.store.samples import SampleFilter

    lib = Library.open(tmp_path / "library")
    try:
        from io import BytesIO

        from PIL import Image

        buf = BytesIO()
        Image.new("RGB", (48, 48), (200, 80, 40)).save(buf, format="PNG")
        real_blob = lib.blobs.put(buf.getvalue())
        with lib.transaction() as s:
            ds = Dataset(name="huge")
            s.add(ds)
            s.flush()
            ds_id = ds.id
        n = 100_000
        # (dataset_id, blob) is unique: the first row names the real blob, the rest made-up digests
        rows = [
            {"dataset_id": ds_id, "blob": real_blob if i == 0 else f"{i:064x}", "format": "png",
             "width": 48, "height": 48, "channels": 3, "byte_size": len(buf.getvalue()),
             "source_path": f"/data/{i}.png", "labelled_by": "import"}
            for i in range(n)
        ]
        with lib.engine.begin() as conn:
            conn.execute(insert(Sample), rows)

        cache = ThumbnailCache(lib)
        model = SampleGridModel(lib, cache)
        with qtbot.waitSignal(model.loaded, timeout=WAIT_MS):
            model.load(ds_id, SampleFilter(), background=True)
        assert model.rowCount() == n
        assert model.pages_fetched == 0  # only the ids so far
        view = SampleGridView()
        qtbot.addWidget(view)
        view.resize(1000, 700)
        view.setModel(model)
        view.show()
        qtbot.waitExposed(view)
        qtbot.wait(50)
        assert 1 <= model.pages_fetched <= 2  # only what is on screen
        assert model.index(0).data(SampleRowRole).blob == real_blob
        qtbot.waitUntil(lambda: real_blob in cache._images, timeout=WAIT_MS)

        # the layout runs in batches between events: the scroll range grows until it is complete
        qtbot.waitUntil(lambda: view.visualRect(model.index(n - 1)).isValid(), timeout=WAIT_MS)
        view.scrollToBottom()
        qtbot.wait(50)
        last = model.index(n - 1)
        assert view.visualRect(last).intersects(view.viewport().rect())
        assert model.index(n - 1).data(SampleRowRole).source_path == f"/data/{n - 1}.png"
        assert model.pages_fetched <= 6
        assert len(model._pages) <= model.MAX_PAGES
        view.grab().save(str(artifacts / "grid_100k_end.png"))
        cache.clear()
        cache.wait(5000)
    finally:
        lib.close()


def test_dataset_new_rename_delete(make_window, qtbot, digits_200, no_dialogs, monkeypatch):
    from PySide6.QtWidgets import QInputDialog, QMessageBox

    window = make_window(demo=False)
    page = window.datasets
    ds_id = page.create_dataset("first")
    assert page.current_id == ds_id and page.dataset_list.count() == 1

    # a taken name: one clear message, nothing changes
    monkeypatch.setattr(QInputDialog, "getText", lambda *a, **k: ("first", True))
    page.new_action.trigger()
    assert no_dialogs and "already exists" in no_dialogs[-1][1]
    assert page.dataset_list.count() == 1
    monkeypatch.setattr(QInputDialog, "getText", lambda *a, **k: ("   ", True))
    page.new_action.trigger()
    assert "empty" in no_dialogs[-1][1]

    monkeypatch.setattr(QInputDialog, "getText", lambda *a, **k: ("renamed", True))
    page.rename_action.trigger()
    assert page.current_summary.name == "renamed"
    assert page.dataset_list.currentItem().text().startswith("renamed")

    run_import(qtbot, page, [digits_200])
    page.summary_dialog.close()
    assert "200 samples" in page.confirm_delete_text()

    # Delete on the dataset list asks first; answering Cancel keeps everything
    asked = []
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: asked.append(a[2]) or QMessageBox.StandardButton.Cancel)
    page.dataset_list.setFocus()
    qtbot.keyClick(page.dataset_list, Qt.Key.Key_Delete)
    assert asked and "200 samples" in asked[0]
    assert page.dataset_list.count() == 1

    with window.lib.session() as s:
        blobs = list(s.scalars(select(Sample.blob).where(Sample.dataset_id == ds_id)))
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.Yes)
    with qtbot.waitSignal(page.dataset_list.model().rowsRemoved, timeout=WAIT_MS):
        page.delete_action.trigger()
    qtbot.waitUntil(lambda: page.job("delete") is None, timeout=WAIT_MS)
    wait_grid(qtbot, page)
    assert page.dataset_list.count() == 0 and page.current_id is None
    assert page.model.rowCount() == 0
    with window.lib.session() as s:
        assert s.scalar(select(func.count(Sample.id))) == 0
    assert not any(window.lib.blobs.exists(b) for b in blobs)
    assert window.count_label.text() == "No dataset"


def test_bad_import_input_gives_one_message_and_loses_nothing(make_window, qtbot, digits_200, no_dialogs, tmp_path):
    window = make_window(demo=False)
    page = window.datasets
    ds_id = page.create_dataset("digits")
    run_import(qtbot, page, [digits_200])
    page.summary_dialog.close()
    result = run_import(qtbot, page, [tmp_path / "does-not-exist"])
    assert result is None
    assert no_dialogs and "does not exist" in no_dialogs[-1][1]
    assert db_counts(window.lib, ds_id)["samples"] == 200
    assert page.model.rowCount() == 200
    assert page.import_folder_action.isEnabled() and not page.import_panel.isVisible()

    # a zip that is not a zip
    fake_zip = tmp_path / "fake.zip"
    fake_zip.write_bytes(b"not a zip at all")
    result = run_import(qtbot, page, [fake_zip])
    if result is None:
        assert "fake.zip" in no_dialogs[-1][1] or "zip" in no_dialogs[-1][1].lower()
    else:
        assert result.added == 0 and result.rejected
    assert db_counts(window.lib, ds_id)["samples"] == 200


def test_dropping_files_on_the_window_imports_them(make_window, qtbot, digits_200):
    window = make_window(demo=False)
    page = window.datasets
    assert page.current_id is None
    mime = QMimeData()
    files = sorted((digits_200 / "7").glob("*.png"))
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in files])
    event = QDropEvent(QPointF(400, 300), Qt.DropAction.CopyAction, mime, Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier)
    with qtbot.waitSignal(page.import_finished, timeout=WAIT_MS) as blocker:
        window.dropEvent(event)
    summary = blocker.args[0]
    wait_grid(qtbot, page)
    assert summary.added == len(files) > 0
    assert page.current_id is not None  # a dataset was made for the drop
    assert page.model.rowCount() == len(files)
    assert shown_counts(page)["Unlabelled"] == len(files)  # loose files carry no class


def test_refresh_counts_only_keeps_the_grid(make_window, qtbot, digits_200):
    from sqlalchemy import update

    window = make_window(demo=False)
    page = window.datasets
    ds_id = page.create_dataset("digits")
    run_import(qtbot, page, [digits_200])
    page.summary_dialog.close()
    page.grid.setCurrentIndex(page.model.index(5))
    with window.lib.transaction() as s:  # as labelling (or a running import) would change them
        ids = list(s.scalars(select(Sample.id).where(Sample.dataset_id == ds_id).limit(7)))
        s.execute(update(Sample).where(Sample.id.in_(ids)).values(class_id=None))
    resets = []
    page.model.modelReset.connect(lambda: resets.append(1))
    page.refresh_counts_only()
    assert shown_counts(page)["Unlabelled"] == 7
    assert shown_counts(page)["All samples"] == 200
    assert "193 labelled" in page.subtitle.text()
    assert not resets and page.grid.currentIndex().row() == 5


def class_panel_rows(page) -> dict[str, str]:
    """What the Classes panel on the right shows: {class name: count}."""
    tree = page.labelling.class_panel.tree
    return {tree.topLevelItem(i).text(1): tree.topLevelItem(i).text(2) for i in range(tree.topLevelItemCount())}


def import_with_keys(qtbot, window, folder: Path, monkeypatch) -> None:
    """Ctrl+I, as a user would, answering the folder dialog with ``folder``."""
    from PySide6.QtWidgets import QFileDialog

    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *a, **k: str(folder))
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow, timeout=5000)
    page = window.datasets
    with qtbot.waitSignal(page.import_finished, timeout=WAIT_MS):
        qtbot.keyClick(page.grid, Qt.Key.Key_I, Qt.KeyboardModifier.ControlModifier)
    wait_grid(qtbot, page)
    page.summary_dialog.close()


def test_import_fills_the_class_panel_and_label_buttons(make_window, qtbot, digits_200, tmp_path, monkeypatch,
                                                        artifacts):
    """Issue 16: after an import the Classes panel showed only "unlabelled 0" and the "Label as"
    bar "No classes yet" until the user switched datasets and back."""
    window = make_window(demo=False)
    page = window.datasets
    page.create_dataset("digits")  # New, then Import: the dataset stays selected across the import
    labelling = page.labelling
    assert class_panel_rows(page) == {"unlabelled": "0"} and labelling.class_buttons.note is not None
    import_with_keys(qtbot, window, digits_200, monkeypatch)
    counts = db_counts(window.lib, page.current_id)
    assert class_panel_rows(page) == {**{n: str(c) for n, c in counts["classes"].items()}, "unlabelled": "0"}
    buttons = [b.text() for b in labelling.class_buttons.class_buttons]
    assert len(buttons) == 10 and buttons[0].startswith("1  ") and labelling.class_buttons.note is None
    # the buttons label the selection straight away
    page.grid.setFocus()
    page.grid.setCurrentIndex(page.model.index(0))
    qtbot.mouseClick(labelling.class_buttons.unlabel_button, Qt.MouseButton.LeftButton)
    assert db_counts(window.lib, page.current_id)["unlabelled"] == 1
    assert class_panel_rows(page)["unlabelled"] == "1"
    page.thumbnails.wait(5000)
    qtbot.wait(100)
    window.grab().save(str(artifacts / "datasets_after_import.png"))

    # a flat folder into a new dataset: every image unlabelled, and the panel says how many
    flat = tmp_path / "flat"
    flat.mkdir()
    for png in sorted((digits_200 / "4").glob("*.png")):
        (flat / png.name).write_bytes(png.read_bytes())
    page.create_dataset("flat")
    import_with_keys(qtbot, window, flat, monkeypatch)
    n = len(list(flat.glob("*.png")))
    assert class_panel_rows(page) == {"unlabelled": str(n)}
    assert labelling.class_buttons.note is not None and labelling.class_buttons.note.isVisibleTo(window)


def test_rejected_files_are_shown_relative_to_what_was_imported(tmp_path):
    from studio.ui.datasets.import_dialog import ImportSummary

    one = ImportSummary(roots=[str(tmp_path / "pets")])
    assert one.shown_source(str(tmp_path / "pets" / "cats" / "a.png")) == "cats/a.png"
    assert one.shown_source(str(tmp_path / "pets" / "locked") + "/") == "locked/"
    zipped = ImportSummary(roots=[str(tmp_path / "pets.zip")])
    assert zipped.shown_source(f"{tmp_path / 'pets.zip'}!/pets/dogs/b.jpg") == "pets/dogs/b.jpg"
    several = ImportSummary(roots=[str(tmp_path / "pets"), str(tmp_path / "more.zip"), str(tmp_path / "c.png")])
    assert several.shown_source(str(tmp_path / "pets" / "cats" / "a.png")) == "pets/cats/a.png"
    assert several.shown_source(f"{tmp_path / 'more.zip'}!/x/y.png") == "more.zip/x/y.png"
    assert several.shown_source(str(tmp_path / "c.png")) == "c.png"
    assert several.shown_source("/elsewhere/z.png") == "/elsewhere/z.png"  # not from these: in full


def test_problems_view_says_when_nothing_is_split_and_splits(make_window, qtbot, digits_200, monkeypatch, artifacts):
    """Issue 16: the Problems view did not mention a dataset with no train/validation/test split."""
    from PySide6.QtCore import QTimer

    window = make_window(demo=False)
    page = window.datasets
    page.create_dataset("digits")
    import_with_keys(qtbot, window, digits_200, monkeypatch)  # class folders: no split
    qtbot.keyClick(page.grid, Qt.Key.Key_4, Qt.KeyboardModifier.ControlModifier)  # Problems
    problems = page.labelling.problems
    assert page.labelling.mode == "problems"
    assert problems.split_notice.isVisible()
    assert "No train / validation / test split" in problems.split_notice_label.text()
    assert problems.split_button.isVisible()
    qtbot.wait(50)
    window.grab().save(str(artifacts / "problems_no_split.png"))
    # Split… opens the page's dialog; its Split button applies it, and the notice goes
    QTimer.singleShot(100, lambda: page.split_dialog.buttons.button(QDialogButtonBox.StandardButton.Ok).click())
    qtbot.mouseClick(problems.split_button, Qt.MouseButton.LeftButton)
    with window.lib.session() as s:
        splits = store_datasets.split_counts(s, page.current_id)
    assert splits[None] == 0 and splits["train"] > splits["val"] > 0 and splits["test"] > 0
    assert not problems.split_notice.isVisible()
    table = problems.table
    total_row = next(r for r in range(table.rowCount()) if table.item(r, 0).text() == "Total")
    assert [table.item(total_row, c).text() for c in range(1, 5)] == [
        str(splits["train"]), str(splits["val"]), str(splits["test"]), "0"]
    assert shown_counts(page)["Test"] == splits["test"]
