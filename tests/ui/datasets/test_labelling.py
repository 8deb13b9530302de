"""Labelling on real windows, driven by real key presses and clicks; every check reads the DB.

The workspace is built around the app's real grid (SampleGridModel / SampleGridView) on a library
of sklearn digits saved as PNG blobs."""

from __future__ import annotations

import io

import numpy as np
import pytest

pytestmark = pytest.mark.gui

PySide6 = pytest.importorskip("PySide6")

from PySide6.QtCore import QPoint, Qt  # noqa: E402
from PySide6.QtGui import QImage  # noqa: E402
from PySide6.QtWidgets import QApplication, QWidget, QVBoxLayout  # noqa: E402
from sqlalchemy import func, insert, select  # noqa: E402

from studio.store import classes as store_classes  # noqa: E402
from studio.store import labelling as store_labelling  # noqa: E402
from studio.store.library import Library  # noqa: E402
from studio.store.models import Dataset, LabelClass, Prediction, Run, Sample  # noqa: E402

WAIT_MS = 30_000


def digit_pngs(n: int, offset: int = 0) -> list[bytes]:
    from PIL import Image
    from sklearn.datasets import load_digits

    out = []
    for im in load_digits().images[offset : offset + n]:
        buf = io.BytesIO()
        Image.fromarray((im * 15).astype(np.uint8)).resize((32, 32), Image.Resampling.NEAREST).save(buf, "PNG")
        out.append(buf.getvalue())
    return out


def add_dataset(lib: Library, name: str, n: int, classes=("zero", "one", "two"), offset: int = 0) -> int:
    with lib.transaction() as s:
        ds = Dataset(name=name)
        s.add(ds)
        s.flush()
        for c in classes:
            store_classes.add_class(s, ds.id, c)
        rows = []
        for i, data in enumerate(digit_pngs(n, offset)):
            rows.append({"dataset_id": ds.id, "blob": lib.blobs.put(data), "format": "png", "width": 32,
                         "height": 32, "byte_size": len(data), "source_path": f"/digits/{name}/{i}.png"})
        if rows:
            s.execute(insert(Sample), rows)
        return ds.id


def db_labels(lib: Library, dataset_id: int) -> list[str | None]:
    """Class name per sample, in id order."""
    with lib.session() as s:
        rows = s.execute(select(LabelClass.name).select_from(Sample)
                         .outerjoin(LabelClass, LabelClass.id == Sample.class_id)
                         .where(Sample.dataset_id == dataset_id).order_by(Sample.id)).all()
    return [r[0] for r in rows]


def class_id(lib, dataset_id, name) -> int:
    with lib.session() as s:
        return store_classes.find_class(s, dataset_id, name).id


class Harness(QWidget):
    """The real grid + the labelling workspace, as the Datasets page puts them together."""

    def __init__(self, lib: Library, dataset_id: int):
        super().__init__()
        from studio.ui.datasets.labelling.controller import LabellingController
        from studio.ui.datasets.labelling.workspace import LabellingWorkspace
        from studio.ui.common.sample_grid import SampleGridModel, SampleGridView, ThumbnailCache

        self.lib = lib
        self.current = dataset_id
        self.thumbs = ThumbnailCache(lib, parent=self)
        self.model = SampleGridModel(lib, self.thumbs, self)
        self.grid = SampleGridView()
        self.grid.setModel(self.model)
        self.ctl = LabellingController(lib, parent=self)
        self.counts_refreshed = 0
        self.workspace = LabellingWorkspace(
            self.ctl, self.grid, self.grid, lambda: self.current, self.thumbs,
            on_counts_changed=self._counts, on_samples_added=self.model.reload,
            select_dataset=self.select)
        self.messages: list[str] = []
        self.workspace.status.connect(self.messages.append)
        QVBoxLayout(self).addWidget(self.workspace)
        self.select(dataset_id)

    def _counts(self):
        self.counts_refreshed += 1

    def select(self, dataset_id: int) -> None:
        self.current = dataset_id
        self.model.load(dataset_id)
        self.workspace.set_dataset(dataset_id)


@pytest.fixture
def lib(tmp_path):
    library = Library.open(tmp_path / "library")
    yield library
    library.close()


@pytest.fixture
def harness(qtbot, lib):
    opened = []

    def make(dataset_id: int) -> Harness:
        h = Harness(lib, dataset_id)
        qtbot.addWidget(h)
        h.resize(1280, 800)
        h.show()
        qtbot.waitExposed(h)
        h.activateWindow()
        qtbot.waitUntil(h.isActiveWindow, timeout=5000)  # window shortcuts (Ctrl+Z...) need it
        opened.append(h)
        return h

    yield make
    for h in opened:
        h.thumbs.wait(5000)
        h.workspace.capture.stop_camera()
        h.close()
    QApplication.processEvents()


def click(qtbot, widget) -> None:
    """A real click on a button; after the interval in which Qt would pair it with the previous
    click into a double-click (QTest clicks come faster than any hand)."""
    qtbot.wait(QApplication.doubleClickInterval() + 50)
    qtbot.mouseClick(widget, Qt.MouseButton.LeftButton)


def click_row(qtbot, h, row: int, modifier=Qt.KeyboardModifier.NoModifier) -> None:
    """A real click on a grid tile (``h`` has ``grid`` and ``model``: the harness or the page)."""
    rect = h.grid.visualRect(h.model.index(row))
    qtbot.mouseClick(h.grid.viewport(), Qt.MouseButton.LeftButton, modifier, rect.center())


# --------------------------------------------------------------------------- grid + undo

def test_number_key_labels_selection_and_undo_redo(qtbot, lib, harness, artifacts):
    ds = add_dataset(lib, "digits", 30)
    h = harness(ds)
    resets, changed_rows = [], []
    h.model.modelReset.connect(lambda: resets.append(1))
    h.model.dataChanged.connect(lambda a, b, *_: changed_rows.append((a.row(), b.row())))
    h.grid.setFocus()
    click_row(qtbot, h, 0)
    click_row(qtbot, h, 2, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClick(h.grid, Qt.Key.Key_2)  # class number 2 = "one"
    assert resets == [] and (0, 2) in changed_rows  # just the changed rows repaint: no reset flash
    labels = db_labels(lib, ds)
    assert labels[:3] == ["one", None, "one"] and labels[3:] == [None] * 27
    # the grid shows it without a reset: the tile's row data is fresh
    assert h.model.sample_row(0).class_name == "one" and h.model.sample_row(2).class_name == "one"
    qtbot.keyClick(h.grid, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert db_labels(lib, ds)[:3] == [None, None, None]
    assert h.model.sample_row(0).class_name is None
    qtbot.keyClick(h.grid, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    assert db_labels(lib, ds)[:3] == ["one", None, "one"]
    # Backspace removes the label; shift-click extends the selection
    click_row(qtbot, h, 0)
    click_row(qtbot, h, 4, Qt.KeyboardModifier.ShiftModifier)
    qtbot.keyClick(h.grid, Qt.Key.Key_1)
    assert db_labels(lib, ds)[:6] == ["zero"] * 5 + [None]
    qtbot.keyClick(h.grid, Qt.Key.Key_Backspace)
    assert db_labels(lib, ds)[:5] == [None] * 5
    with lib.session() as s:
        assert s.scalar(select(func.count()).select_from(Sample).where(Sample.labelled_by == "user")) == 0
    qtbot.keyClick(h.grid, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert db_labels(lib, ds)[:5] == ["zero"] * 5
    assert h.counts_refreshed > 0
    h.thumbs.wait(5000)
    qtbot.wait(50)
    h.grab().save(str(artifacts / "labelling_grid.png"))


def test_bulk_label_select_all_is_one_undo_step(qtbot, lib, harness):
    ds = add_dataset(lib, "digits", 60)
    h = harness(ds)
    h.grid.setFocus()
    click_row(qtbot, h, 0)
    qtbot.keyClick(h.grid, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClick(h.grid, Qt.Key.Key_3)
    assert db_labels(lib, ds) == ["two"] * 60
    assert h.ctl.undo_stack.count() == 1 and h.ctl.undo_stack.undoText() == "Label 60 samples as two"
    qtbot.keyClick(h.grid, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert db_labels(lib, ds) == [None] * 60


def test_number_without_class_and_rubber_band(qtbot, lib, harness):
    ds = add_dataset(lib, "digits", 12)
    h = harness(ds)
    h.grid.setFocus()
    click_row(qtbot, h, 0)
    qtbot.keyClick(h.grid, Qt.Key.Key_7)  # only 3 classes
    assert db_labels(lib, ds) == [None] * 12
    assert h.messages[-1] == "there is no class number 7"
    # rubber band from empty space below the tiles back over the first row
    last = h.grid.visualRect(h.model.index(11))
    vp = h.grid.viewport()
    start = QPoint(vp.width() - 8, min(last.bottom() + 20, vp.height() - 8))  # empty space, bottom right
    first = h.grid.visualRect(h.model.index(0)).center()
    qtbot.mousePress(vp, Qt.MouseButton.LeftButton, pos=start)
    qtbot.mouseMove(vp, first)
    qtbot.mouseRelease(vp, Qt.MouseButton.LeftButton, pos=first)
    from studio.ui.datasets.labelling.selection import selected_sample_ids

    assert len(selected_sample_ids(h.grid)) == 12
    qtbot.keyClick(h.grid, Qt.Key.Key_1)
    assert db_labels(lib, ds) == ["zero"] * 12


def test_class_button_and_drop_onto_class(qtbot, lib, harness):
    from studio.ui.datasets.labelling.selection import ids_to_mime, selected_sample_ids

    ds = add_dataset(lib, "digits", 10)
    h = harness(ds)
    h.grid.setFocus()
    click_row(qtbot, h, 1)
    two = h.workspace.class_buttons.class_buttons[2]
    assert two.text() == "3  two"
    click(qtbot, two)
    assert db_labels(lib, ds)[1] == "two"
    # drag: the mime data the grid's drag carries, dropped on the class "zero" in the side panel
    click_row(qtbot, h, 3)
    click_row(qtbot, h, 5, Qt.KeyboardModifier.ControlModifier)
    mime = ids_to_mime(ds, selected_sample_ids(h.grid))
    panel = h.workspace.class_panel
    assert panel.tree.drop_on(panel.item_for(class_id(lib, ds, "zero")), mime)
    assert [db_labels(lib, ds)[i] for i in (3, 5)] == ["zero", "zero"]
    assert panel.item_for(class_id(lib, ds, "zero")).text(2) == "2"  # count column updated
    assert panel.tree.drop_on(panel.item_for(None), ids_to_mime(ds, selected_sample_ids(h.grid)))
    assert [db_labels(lib, ds)[i] for i in (3, 5)] == [None, None]
    # a drop from another dataset is refused, nothing changes
    other = add_dataset(lib, "other", 2)
    with lib.session() as s:
        foreign = list(s.scalars(select(Sample.id).where(Sample.dataset_id == other)))
    panel.tree.drop_on(panel.item_for(class_id(lib, ds, "zero")), ids_to_mime(other, foreign))
    assert db_labels(lib, other) == [None, None]
    assert h.messages[-1] == "those samples belong to another dataset"


def test_dragging_a_selection_carries_its_ids_to_a_class(qtbot, lib, harness, monkeypatch):
    """Press on a selected tile and move: the grid starts a drag whose mime data, dropped on a
    class, labels the whole selection (QDrag.exec would block in a nested loop: record it)."""
    from studio.ui.datasets.labelling import grid_keys
    from studio.ui.datasets.labelling.selection import ids_from_mime

    ds = add_dataset(lib, "digits", 10)
    h = harness(ds)
    dragged = []

    class FakeDrag:
        def __init__(self, source):
            self.source = source

        def setMimeData(self, mime):  # noqa: N802
            self.mime = mime

        def exec(self, action):
            dragged.append(self.mime)
            return action

    monkeypatch.setattr(grid_keys, "QDrag", FakeDrag)
    h.grid.setFocus()
    click_row(qtbot, h, 1)
    click_row(qtbot, h, 3, Qt.KeyboardModifier.ShiftModifier)
    vp = h.grid.viewport()
    start = h.grid.visualRect(h.model.index(2)).center()
    qtbot.wait(QApplication.doubleClickInterval() + 50)
    qtbot.mousePress(vp, Qt.MouseButton.LeftButton, pos=start)
    qtbot.mouseMove(vp, start + QPoint(40, 30))
    qtbot.mouseRelease(vp, Qt.MouseButton.LeftButton, pos=start + QPoint(40, 30))
    assert len(dragged) == 1
    payload = ids_from_mime(dragged[0])
    with lib.session() as s:
        ids = list(s.scalars(select(Sample.id).where(Sample.dataset_id == ds).order_by(Sample.id)))
    assert payload == (ds, ids[1:4])  # the selection survived the press on a selected tile
    panel = h.workspace.class_panel
    panel.tree.drop_on(panel.item_for(class_id(lib, ds, "two")), dragged[0])
    assert db_labels(lib, ds)[:5] == [None, "two", "two", "two", None]
    # a plain click on a selected tile (no drag) selects just that tile
    qtbot.wait(QApplication.doubleClickInterval() + 50)
    click_row(qtbot, h, 2)
    from studio.ui.datasets.labelling.selection import selected_sample_ids

    assert selected_sample_ids(h.grid) == [ids[2]]
    click_row(qtbot, h, 3, Qt.KeyboardModifier.ControlModifier)
    assert selected_sample_ids(h.grid) == [ids[2], ids[3]]
    qtbot.wait(QApplication.doubleClickInterval() + 50)
    click_row(qtbot, h, 3, Qt.KeyboardModifier.ControlModifier)  # ctrl-click on a selected tile toggles it
    assert selected_sample_ids(h.grid) == [ids[2]]


def test_split_shortcut_moves_selection(qtbot, lib, harness):
    ds = add_dataset(lib, "digits", 6)
    h = harness(ds)
    h.grid.setFocus()
    click_row(qtbot, h, 0)
    click_row(qtbot, h, 1, Qt.KeyboardModifier.ShiftModifier)
    qtbot.keyClick(h.grid, Qt.Key.Key_E, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.AltModifier)
    with lib.session() as s:
        splits = list(s.scalars(select(Sample.split).where(Sample.dataset_id == ds).order_by(Sample.id)))
    assert splits == ["test", "test", None, None, None, None]
    qtbot.keyClick(h.grid, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    with lib.session() as s:
        assert set(s.scalars(select(Sample.split).where(Sample.dataset_id == ds))) == {None}


def test_undo_history_survives_switching_datasets(qtbot, lib, harness):
    a = add_dataset(lib, "a", 5)
    b = add_dataset(lib, "b", 5, offset=5)
    h = harness(a)
    h.grid.setFocus()
    click_row(qtbot, h, 0)
    qtbot.keyClick(h.grid, Qt.Key.Key_1)
    h.select(b)
    click_row(qtbot, h, 1)
    qtbot.keyClick(h.grid, Qt.Key.Key_2)
    assert db_labels(lib, a)[0] == "zero" and db_labels(lib, b)[1] == "one"
    qtbot.keyClick(h.grid, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClick(h.grid, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)  # undoes in dataset a
    assert db_labels(lib, a) == [None] * 5 and db_labels(lib, b) == [None] * 5
    qtbot.keyClick(h.grid, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    assert db_labels(lib, a)[0] == "zero" and db_labels(lib, b) == [None] * 5


# --------------------------------------------------------------------------- classes

def test_class_panel_manage_classes_with_undo(qtbot, lib, harness, artifacts):
    ds = add_dataset(lib, "digits", 8)
    h = harness(ds)
    panel = h.workspace.class_panel
    panel.ask_text = lambda *a: "three"
    click(qtbot, panel.buttons["add"])
    with lib.session() as s:
        assert [c.name for c in store_classes.list_classes(s, ds)] == ["zero", "one", "two", "three"]
    assert [b.text() for b in h.workspace.class_buttons.class_buttons][-1] == "4  three"
    # label 3 samples "one", then delete "one": the confirmation says how many
    h.grid.setFocus()
    click_row(qtbot, h, 0)
    click_row(qtbot, h, 2, Qt.KeyboardModifier.ShiftModifier)
    qtbot.keyClick(h.grid, Qt.Key.Key_2)
    asked = []
    panel.confirm = lambda title, text: asked.append(text) or True
    panel.select_class(class_id(lib, ds, "one"))
    click(qtbot, panel.buttons["delete"])
    assert "Its 3 samples will become unlabelled" in asked[0]
    assert db_labels(lib, ds)[:3] == [None] * 3
    qtbot.keyClick(h.grid, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert db_labels(lib, ds)[:3] == ["one"] * 3
    # rename, recolour, reorder, merge
    panel.select_class(class_id(lib, ds, "two"))
    panel.ask_text = lambda *a: "deux"
    click(qtbot, panel.buttons["rename"])
    panel.ask_colour = lambda initial: "#123456"
    click(qtbot, panel.buttons["colour"])
    click(qtbot, panel.buttons["up"])
    with lib.session() as s:
        rows = store_classes.list_classes(s, ds)
    assert [r.name for r in rows] == ["zero", "deux", "one", "three"] and rows[1].colour == "#123456"
    panel.select_class(class_id(lib, ds, "one"))
    panel.ask_item = lambda title, label, items: "zero"
    click(qtbot, panel.buttons["merge"])
    assert db_labels(lib, ds)[:3] == ["zero"] * 3
    assert h.model.sample_row(0).class_name == "zero"
    for _ in range(4):  # merge, reorder, recolour, rename
        qtbot.keyClick(h.grid, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    with lib.session() as s:
        assert [(r.name, r.count) for r in store_classes.list_classes(s, ds)] == [
            ("zero", 0), ("one", 3), ("two", 0), ("three", 0)]
    # bad input: a duplicate name is refused with a message and nothing is pushed
    depth = h.ctl.undo_stack.count()
    panel.ask_text = lambda *a: "ZERO"
    click(qtbot, panel.buttons["add"])
    assert "already exists" in h.messages[-1] and h.ctl.undo_stack.index() <= depth
    qtbot.wait(50)
    h.grab().save(str(artifacts / "labelling_classes.png"))


# --------------------------------------------------------------------------- labelling mode

def test_labelling_mode_unlabelled_first_keys_and_suggestions(qtbot, lib, harness, artifacts):
    ds = add_dataset(lib, "digits", 8)
    with lib.transaction() as s:
        sample_ids = list(s.scalars(select(Sample.id).where(Sample.dataset_id == ds).order_by(Sample.id)))
        store_labelling.set_labels(s, ds, sample_ids[:2], class_id(lib, ds, "zero"))
        run = Run(dataset_id=ds, name="digits-net", status="completed", classes=["zero", "one", "two"])
        s.add(run)
        s.flush()
        s.execute(insert(Prediction), [{"run_id": run.id, "sample_id": sid, "class_name": "two", "confidence": 0.9}
                                       for sid in sample_ids])
    h = harness(ds)
    qtbot.keyClick(h.grid, Qt.Key.Key_2, Qt.KeyboardModifier.ControlModifier)  # mode: label one by one
    view = h.workspace.labelling_view
    assert h.workspace.mode == "label"
    assert view.ids == sample_ids[2:] + sample_ids[:2]  # unlabelled first
    qtbot.waitUntil(lambda: view.canvas.image() is not None, timeout=WAIT_MS)
    assert "Model says <b>two</b> (90%)" in view.suggestion_label.text()
    qtbot.wait(50)
    h.grab().save(str(artifacts / "labelling_mode.png"))
    qtbot.keyClick(view, Qt.Key.Key_2)  # label "one", advance
    assert db_labels(lib, ds)[2] == "one" and view.current_id == sample_ids[3]
    qtbot.keyClick(view, Qt.Key.Key_Right)
    qtbot.keyClick(view, Qt.Key.Key_Left)
    assert view.current_id == sample_ids[3]
    qtbot.keyClick(view, Qt.Key.Key_Return)  # accept the suggestion
    assert db_labels(lib, ds)[3] == "two" and view.current_id == sample_ids[4]
    with lib.session() as s:
        assert s.get(Sample, sample_ids[3]).labelled_by == "model"
    qtbot.keyClick(view, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert db_labels(lib, ds)[3] is None
    qtbot.keyClick(view, Qt.Key.Key_Left)
    qtbot.keyClick(view, Qt.Key.Key_Left)
    qtbot.keyClick(view, Qt.Key.Key_Backspace)
    assert db_labels(lib, ds)[2] is None and view.current_id == sample_ids[2]
    qtbot.keyClick(view, Qt.Key.Key_Escape)
    assert h.workspace.mode == "browse"


def test_review_opens_exactly_the_given_samples(qtbot, lib, harness):
    a = add_dataset(lib, "a", 4)
    b = add_dataset(lib, "b", 6, offset=4)
    with lib.session() as s:
        b_ids = list(s.scalars(select(Sample.id).where(Sample.dataset_id == b).order_by(Sample.id)))
    h = harness(a)
    wanted = [b_ids[4], b_ids[1]]
    h.ctl.review(b, wanted)  # what the Evaluate view calls
    assert h.current == b and h.workspace.mode == "label"
    assert h.workspace.labelling_view.ids == wanted
    qtbot.keyClick(h.workspace.labelling_view, Qt.Key.Key_1)
    assert db_labels(lib, b)[4] == "zero"


# --------------------------------------------------------------------------- capture

def test_capture_without_camera_says_so_and_saves_fed_frames(qtbot, lib, harness, artifacts):
    from PySide6.QtMultimedia import QVideoFrame

    from studio.ui.datasets.labelling.capture import NO_CAMERA_TEXT

    ds = add_dataset(lib, "cam", 0)
    h = harness(ds)
    qtbot.keyClick(h.grid, Qt.Key.Key_3, Qt.KeyboardModifier.ControlModifier)
    cap = h.workspace.capture
    assert h.workspace.mode == "capture"
    assert cap.preview.text() == NO_CAMERA_TEXT and not cap.record_button.isEnabled()
    qtbot.wait(50)
    h.grab().save(str(artifacts / "labelling_capture_no_camera.png"))
    t = [0.0]
    cap.clock = lambda: t[0]
    cap.rate.setValue(2.0)  # one frame every 0.5 s
    cap.class_combo.setCurrentIndex(cap.class_combo.findText("one"))
    cap.start_recording()
    frames = []
    for i in range(6):  # 6 frames 0.25 s apart -> 3 saved
        img = QImage(64, 48, QImage.Format.Format_RGB32)
        img.fill(Qt.GlobalColor.black)
        img.setPixel(i, i, 0xFFFFFF)
        frames.append(img)
        cap.on_frame(QVideoFrame(img) if i % 2 else img)  # the sink gives QVideoFrames
        t[0] += 0.25
    cap.stop_recording()
    cap.on_frame(frames[0])  # not recording: only the preview
    qtbot.waitUntil(lambda: cap.pending == 0 and cap.saved == 3, timeout=WAIT_MS)
    with lib.session() as s:
        rows = s.execute(select(Sample.class_id, Sample.labelled_by, Sample.format, Sample.width, Sample.height)
                         .where(Sample.dataset_id == ds)).all()
    assert rows == [(class_id(lib, ds, "one"), "capture", "jpeg", 64, 48)] * 3
    assert "3 frame(s) saved" in cap.status.text()


# --------------------------------------------------------------------------- problems & suggestions

def test_problems_view_counts_and_duplicates(qtbot, lib, harness, artifacts):
    ds = add_dataset(lib, "digits", 12)
    with lib.transaction() as s:
        ids = list(s.scalars(select(Sample.id).where(Sample.dataset_id == ds).order_by(Sample.id)))
        store_labelling.set_labels(s, ds, ids[:10], class_id(lib, ds, "zero"))
        store_labelling.set_labels(s, ds, ids[10:], class_id(lib, ds, "one"))
        store_labelling.set_splits(s, ds, ids[:8], "train")
        store_labelling.set_splits(s, ds, ids[8:10], "val")
    from PIL import Image

    data = digit_pngs(1)[0]  # the same picture as sample 0, saved as BMP: exact duplicate
    buf = io.BytesIO()
    Image.open(io.BytesIO(data)).save(buf, "BMP")
    with lib.transaction() as s:
        s.add(Sample(dataset_id=ds, blob=lib.blobs.put(buf.getvalue()), format="bmp", width=32, height=32,
                     class_id=class_id(lib, ds, "two"), split="test"))
    h = harness(ds)
    qtbot.keyClick(h.grid, Qt.Key.Key_4, Qt.KeyboardModifier.ControlModifier)
    view = h.workspace.problems
    table = view.table
    cells = {table.item(r, 0).text(): [table.item(r, c).text() for c in range(1, 6)] for r in range(table.rowCount())}
    assert cells["zero"] == ["8", "2", "0", "0", "10"] and cells["Total"] == ["8", "2", "1", "2", "13"]
    reasons = {view.small_list.topLevelItem(i).text(0): view.small_list.topLevelItem(i).text(1)
               for i in range(view.small_list.topLevelItemCount())}
    assert reasons["one"].startswith("only 2 samples") and "no test sample" in reasons["zero"]
    click(qtbot, view.find_button)
    qtbot.waitUntil(lambda: view.job is None and bool(view.groups), timeout=WAIT_MS)
    exact = [g for g in view.groups if g.kind == "exact"]
    assert len(exact) == 1 and exact[0].conflicting_classes and exact[0].crosses_splits
    assert set(exact[0].sample_ids) == {ids[0], max(exact[0].sample_ids)}
    assert "different classes" in view.dup_tree.topLevelItem(0).text(0)
    qtbot.wait(50)
    h.grab().save(str(artifacts / "labelling_problems.png"))
    view.dup_tree.topLevelItem(0).setSelected(True)
    click(qtbot, view.review_button)
    assert h.workspace.mode == "label" and h.workspace.labelling_view.ids == list(exact[0].sample_ids)


def test_suggestions_view_accept_in_bulk_keeps_human_labels(qtbot, lib, harness, artifacts):
    ds = add_dataset(lib, "digits", 6)
    with lib.transaction() as s:
        ids = list(s.scalars(select(Sample.id).where(Sample.dataset_id == ds).order_by(Sample.id)))
        store_labelling.set_labels(s, ds, ids[:1], class_id(lib, ds, "zero"))
        run = Run(dataset_id=ds, name="digits-net", status="completed")
        s.add(run)
        s.flush()
        guesses = [("one", 0.97), ("zero", 0.55), ("one", 0.8), ("two", 0.3), ("two", 0.99), ("zero", 0.6)]
        s.execute(insert(Prediction), [{"run_id": run.id, "sample_id": sid, "class_name": n, "confidence": c}
                                       for sid, (n, c) in zip(ids, guesses)])
    h = harness(ds)
    qtbot.keyClick(h.grid, Qt.Key.Key_5, Qt.KeyboardModifier.ControlModifier)
    view = h.workspace.suggestions
    assert [g.sample_id for g in view.model.rows] == [ids[4], ids[2], ids[5], ids[1], ids[3]]
    view.show_combo.setCurrentIndex(view.show_combo.findData("all"))
    view.order_combo.setCurrentIndex(view.order_combo.findData("disagreement"))
    assert view.model.rows[0].sample_id == ids[0] and view.model.rows[0].disagrees
    qtbot.wait(50)
    h.grab().save(str(artifacts / "labelling_suggestions.png"))
    view.min_conf.setValue(50)
    click(qtbot, view.accept_all_button)
    labels = db_labels(lib, ds)
    assert labels == ["zero", "zero", "one", None, "two", "zero"]  # sample 0 keeps its human label
    qtbot.keyClick(h.grid, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert db_labels(lib, ds) == ["zero"] + [None] * 5
    # explicit accept of a disagreement asks, and replaces only when confirmed
    view.show_combo.setCurrentIndex(view.show_combo.findData("labelled"))
    view.table.selectRow(0)
    view.confirm = lambda title, text: True
    click(qtbot, view.accept_selected_button)
    assert db_labels(lib, ds)[0] == "one"


# --------------------------------------------------------------------------- in the app

def test_main_window_labelling_on_the_datasets_page(qtbot, tmp_path, artifacts):
    """The real window on the demo library: number keys on the Datasets page's grid, the Edit
    menu's undo, review() from another page, the labelling modes; screenshots at 1280x800."""
    from PySide6.QtCore import QSettings

    from studio.ui.shell.main_window import MainWindow

    lib = Library.open(tmp_path / "library", demo=True)
    window = MainWindow(lib, QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat))
    qtbot.addWidget(window)
    window.resize(1280, 800)
    window.show()
    qtbot.waitExposed(window)
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow, timeout=5000)
    page = window.datasets
    qtbot.waitUntil(lambda: not page.model.loading and page.model.rowCount() > 0, timeout=WAIT_MS)
    ds = page.current_id
    with lib.session() as s:
        classes = store_classes.list_classes(s, ds)
        before = db_labels(lib, ds)
    assert [page.labelling.class_panel.tree.topLevelItem(i).text(1) for i in range(len(classes))] == [
        c.name for c in classes]
    page.grid.setFocus()
    click_row(qtbot, page, 0)
    qtbot.keyClick(page.grid, Qt.Key.Key_3)
    first_id = page.model.sample_id(0)
    with lib.session() as s:
        assert s.get(Sample, first_id).class_id == classes[2].id
    assert page.model.sample_row(0).class_name == classes[2].name
    assert f"{classes[2].count + (before[0] != classes[2].name)}" == page.labelling.class_panel.item_for(
        classes[2].id).text(2)
    page.thumbnails.wait(5000)
    qtbot.wait(100)
    window.grab().save(str(artifacts / "labelling_main_window.png"))
    edit_menu = next(a.menu() for a in window.menuBar().actions() if a.text() == "&Edit")
    undo = next(a for a in edit_menu.actions() if a.text().startswith("&Undo") or a.text().startswith("Undo"))
    undo.trigger()
    assert db_labels(lib, ds) == before
    # another page asks to review two samples: the window shows them in labelling mode
    window.show_page("kernels")
    wanted = [page.model.sample_id(5), page.model.sample_id(1)]
    window.labelling.review(ds, wanted)
    assert window.current_page_key() == "datasets" and page.labelling.mode == "label"
    assert page.labelling.labelling_view.ids == wanted
    qtbot.waitUntil(lambda: page.labelling.labelling_view.canvas.image() is not None, timeout=WAIT_MS)
    qtbot.wait(50)
    window.grab().save(str(artifacts / "labelling_main_window_review.png"))
    qtbot.keyClick(page.labelling.labelling_view, Qt.Key.Key_Escape)
    assert page.labelling.mode == "browse"
    page.thumbnails.wait(5000)
    window.close()
    QApplication.processEvents()
    lib.close()


@pytest.fixture
def main_window(qtbot, tmp_path):
    """The real app window on a demo library, active (so Ctrl+Z and Ctrl+2 reach it), on the
    Datasets page with its grid loaded."""
    from PySide6.QtCore import QSettings

    from studio.ui.shell.main_window import MainWindow

    lib = Library.open(tmp_path / "library", demo=True)
    window = MainWindow(lib, QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat))
    qtbot.addWidget(window)
    window.resize(1280, 800)
    window.show()
    qtbot.waitExposed(window)
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow, timeout=5000)
    page = window.datasets
    qtbot.waitUntil(lambda: not page.model.loading and page.model.rowCount() > 0, timeout=WAIT_MS)
    yield window
    page.thumbnails.wait(5000)
    window.close()
    QApplication.processEvents()
    lib.close()


def test_label_one_by_one_says_when_it_reviews_a_selection(qtbot, main_window, artifacts):
    """Issue 16: entering "Label one by one" with tiles selected reviewed only those, silently."""
    page = main_window.datasets
    view = page.labelling.labelling_view
    page.grid.setFocus()
    click_row(qtbot, page, 1)
    for row in (3, 4):
        click_row(qtbot, page, row, Qt.KeyboardModifier.ControlModifier)
    chosen = [page.model.sample_id(r) for r in (1, 3, 4)]
    qtbot.keyClick(page.grid, Qt.Key.Key_2, Qt.KeyboardModifier.ControlModifier)  # Label one by one
    assert page.labelling.mode == "label" and view.ids == chosen
    assert view.scope_bar.isVisible() and view.scope_label.text() == "Reviewing 3 selected images"
    total = page.current_summary.samples
    assert view.scope_all_button.text() == f"Review all {total:,} samples"
    qtbot.waitUntil(lambda: view.canvas.image() is not None, timeout=WAIT_MS)
    qtbot.wait(50)
    main_window.grab().save(str(artifacts / "labelling_review_selection.png"))
    click(qtbot, view.scope_all_button)
    assert len(view.ids) == total and sorted(view.ids) == sorted(page.model.sample_id(r) for r in range(total))
    assert not view.scope_bar.isVisible()
    # with one tile (or none) selected, the mode labels everything and shows no bar
    qtbot.keyClick(view, Qt.Key.Key_Escape)
    click_row(qtbot, page, 0)
    qtbot.keyClick(page.grid, Qt.Key.Key_2, Qt.KeyboardModifier.ControlModifier)
    assert len(view.ids) == total and not view.scope_bar.isVisible()


def test_undo_in_label_one_by_one_returns_to_the_undone_image(qtbot, main_window):
    """Issue 16: Ctrl+Z removed the label but stayed on the next image."""
    page = main_window.datasets
    ds = page.current_id
    lib = main_window.lib
    page.grid.setFocus()
    qtbot.keyClick(page.grid, Qt.Key.Key_2, Qt.KeyboardModifier.ControlModifier)
    view = page.labelling.labelling_view
    first, second, third = view.ids[:3]
    with lib.session() as s:
        classes = store_classes.list_classes(s, ds)
        before = s.get(Sample, first).class_id
    target = next(c for c in classes if c.id != before)  # a label that really changes something
    position = [c.id for c in classes].index(target.id)
    qtbot.keyClick(view, getattr(Qt.Key, f"Key_{position + 1}"))
    assert view.current_id == second
    qtbot.keyClick(view, Qt.Key.Key_Right)
    assert view.current_id == third
    qtbot.keyClick(view, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    with lib.session() as s:
        assert s.get(Sample, first).class_id == before
    assert view.current_id == first and view.position_label.text().startswith(f"Sample #{first} · 1 of")
    qtbot.keyClick(view, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    with lib.session() as s:
        assert s.get(Sample, first).class_id == target.id
    assert view.current_id == second  # labelled again and moved on, as the key press did
    # Backspace does not move on: its undo stays on that image too
    qtbot.keyClick(view, Qt.Key.Key_Backspace)
    qtbot.keyClick(view, Qt.Key.Key_Right)
    qtbot.keyClick(view, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert view.current_id == second


CAPTURE_THEN_COMPILER = """
import sys
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage
from PySide6.QtMultimedia import QVideoFrame
from PySide6.QtWidgets import QApplication
from studio.store.library import Library
from studio.ui.datasets.labelling.capture import CapturePanel
from studio.ui.datasets.labelling.controller import LabellingController

app = QApplication(sys.argv)
lib = Library.open(sys.argv[1])
panel = CapturePanel(LabellingController(lib))
panel.show()
image = QImage(64, 48, QImage.Format.Format_RGB32)
image.fill(Qt.GlobalColor.darkGreen)
panel.on_frame(QVideoFrame(image))  # what the camera's video sink delivers
print("frame shown", flush=True)
import triton  # what Export -> ONNX and Kernels -> Compile pull in afterwards
print("compiler loaded", flush=True)
lib.close()
"""


def test_capture_frames_then_a_compiler_in_one_process(tmp_path):
    """A camera frame is converted through Qt's RHI (an OpenGL context); a compiler stack loaded
    afterwards (Export ONNX, Compile) segfaulted the process. The in-process suite only met it
    by test order (capture test, then the Kernels page), so this runs in a fresh process."""
    import importlib.util
    import os
    import subprocess
    import sys

    if importlib.util.find_spec("triton") is None:
        pytest.skip("no triton here: nothing can load a second LLVM")
    env = {**os.environ, "QT_QPA_PLATFORM": "xcb"}
    proc = subprocess.run([sys.executable, "-c", CAPTURE_THEN_COMPILER, str(tmp_path / "library")],
                          capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, f"exit {proc.returncode}: {proc.stdout[-500:]} {proc.stderr[-1500:]}"
    assert proc.stdout.split() == ["frame", "shown", "compiler", "loaded"]


def test_a_library_that_refuses_a_change_is_one_error_line_and_no_undo_step(qtbot, lib, harness):
    """A database failure (here a trigger that aborts every label change, as a locked library
    would) is shown as one line; nothing is pushed and nothing changes."""
    from sqlalchemy import text

    ds = add_dataset(lib, "refusing", 4)
    h = harness(ds)
    with lib.transaction() as s:
        s.execute(text("CREATE TRIGGER refuse BEFORE UPDATE ON samples BEGIN SELECT RAISE(ABORT, 'refused'); END"))
    errors = []
    h.ctl.error.connect(errors.append)
    with lib.session() as s:
        ids = list(s.scalars(select(Sample.id).where(Sample.dataset_id == ds)))
    assert not h.ctl.label(ds, ids, class_id(lib, ds, "one"))
    assert len(errors) == 1 and "the library could not be updated" in errors[0] and "nothing was changed" in errors[0]
    assert h.ctl.undo_stack.count() == 0
    assert db_labels(lib, ds) == [None] * 4
