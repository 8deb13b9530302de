"""Text cards: wrapping a text into the lines a card holds (long words, long texts), and a long
text shown whole in the one-by-one view; cancelling a text import keeps what was stored."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.gui

PySide6 = pytest.importorskip("PySide6")

from PySide6.QtCore import QRect
from PySide6.QtGui import QImage, QPainter
from sqlalchemy import func, select
from train_gui_helpers import main_window_at_1280x800

from studio.store.library import Library
from studio.store.models import Sample
from studio.ui.datasets.text_grid import _elided_lines

WAIT_MS = 20_000


@pytest.fixture
def painter(qapp):
    image = QImage(400, 200, QImage.Format.Format_ARGB32)
    p = QPainter(image)
    yield p
    p.end()


@pytest.mark.parametrize("text", [
    "short text",
    "a sentence of many words that goes on " * 30,
    "x" * 2000,  # one long word: cut anywhere
    "words\nover\n\nseveral   lines\twith tabs " * 20,
])
def test_card_lines_fit_the_card_and_keep_the_text_order(painter, text):
    rect = QRect(0, 0, 240, 4 * painter.fontMetrics().lineSpacing() + 2)
    lines = _elided_lines(painter, rect, text).split("\n")
    flat = " ".join(text.split())
    assert 1 <= len(lines) <= 4
    assert all(painter.fontMetrics().horizontalAdvance(line) <= rect.width() for line in lines)
    shown = " ".join(lines)
    if shown.endswith("…"):  # cut: what is shown is the text's start
        assert len(lines) == 4 and flat.replace(" ", "").startswith(shown[:-1].replace(" ", ""))
    else:
        assert shown == flat


@pytest.fixture
def page(qtbot, tmp_path):
    with main_window_at_1280x800(qtbot, Library.open(tmp_path / "library"), tmp_path / "settings.ini") as window:
        yield window.datasets


def test_a_long_text_shows_whole_one_by_one_and_cut_on_its_card(qtbot, page):
    long_text = " ".join(f"word{i}" for i in range(3000))  # ~26,000 characters
    with qtbot.waitSignal(page.import_finished, timeout=WAIT_MS):
        page.import_pasted(long_text, "essays")
    qtbot.waitUntil(lambda: not page.model.loading and page.model.rowCount() == 1, timeout=WAIT_MS)
    assert page.current_summary.kind == "text" and page.current_summary.name == "Pasted texts"
    qtbot.waitUntil(lambda: page.text_previews.get(0) is not None, timeout=WAIT_MS)
    assert page.text_previews.get(0) == long_text[:400]
    page.labelling.set_mode("label")
    view = page.labelling.labelling_view
    qtbot.waitUntil(lambda: view.text_view.toPlainText() == long_text, timeout=WAIT_MS)
    assert view.text_view.verticalScrollBar().maximum() > 0  # scrollable, word-wrapped
    assert "essays" in view.class_label.text()


def test_cancelling_a_text_import_keeps_what_was_stored(qtbot, page):
    lines = "\n".join(f"text number {i}" for i in range(20_000))
    with qtbot.waitSignal(page.import_finished, timeout=60_000) as finished:
        job = page.import_pasted(lines)
        qtbot.waitUntil(lambda: job.state.progress > 0, timeout=WAIT_MS)
        page.cancel_import()
    summary = finished.args[0]
    assert summary.cancelled
    qtbot.waitUntil(lambda: not page.model.loading, timeout=WAIT_MS)
    with page.lib.session() as s:
        stored = s.scalar(select(func.count(Sample.id)).where(Sample.dataset_id == page.current_id))
    assert stored < 20_000 and page.model.rowCount() == stored
    assert page.import_job is None and page.paste_texts_action.isEnabled()
