"""The GUI's import says what `studio import` says: one importer call for folders and files mixed,
and the report's notes (links skipped, ...) shown in the summary dialog, not dropped."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

pytestmark = pytest.mark.gui

pytest.importorskip("PySide6")

from studio.cli import main as studio_main  # noqa: E402
from studio.core.jobs import JobState  # noqa: E402
from studio.store.datasets import create_dataset  # noqa: E402
from studio.store.library import Library  # noqa: E402
from studio.ui.datasets.import_dialog import ImportSummary, ImportSummaryDialog, run_import  # noqa: E402


def _digit(path: Path, value: int) -> None:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("L", (16, 16), value).save(path)


@pytest.fixture
def sources(tmp_path) -> list[Path]:
    """A class folder tree with a broken link in it, plus a loose image file beside it."""
    tree = tmp_path / "pets"
    _digit(tree / "cats" / "a.png", 10)
    _digit(tree / "dogs" / "b.png", 200)
    os.symlink(tree / "gone.png", tree / "cats" / "dangling.png")
    loose = tmp_path / "loose.png"
    _digit(loose, 90)
    return [tree, loose]


def test_mixed_sources_import_in_one_go_with_the_importers_notes(library, sources, tmp_path, capsys):
    with library.transaction() as s:
        dataset_id = create_dataset(s, "pets").id
    summary = run_import(library, dataset_id, sources, JobState())
    assert summary.added == 3 and summary.rejected == [] and not summary.cancelled
    assert [(summary.shown_source(src), why) for src, why in summary.warnings] == [
        ("pets/cats/dangling.png", "broken link; skipped")]
    assert summary.text() == "3 added, 0 duplicates, 0 rejected, 1 note"
    assert summary.classes_created == ["cats", "dogs"]

    # the CLI, on a fresh library, prints the same note for the same sources
    home = tmp_path / "cli-library"
    assert studio_main(["--home", str(home), "import", "pets", "--create", *map(str, sources)]) == 0
    printed = capsys.readouterr().out
    source, why = summary.warnings[0]
    assert f"note {source}: {why}" in printed and "added 3" in printed and "new classes: cats, dogs" in printed
    Library.open(home).close()


def test_summary_dialog_lists_the_notes(qtbot, sources, artifacts):
    root = str(sources[0])
    summary = ImportSummary(added=2, roots=[root],
                            rejected=[(f"{root}/dogs/c.png", "not an image")],
                            warnings=[(f"{root}/cats/dangling.png", "broken link; skipped")],
                            classes_created=["cats"])
    dialog = ImportSummaryDialog(summary, "pets")
    qtbot.addWidget(dialog)
    dialog.show()
    assert dialog.headline.text() == "2 added, 0 duplicates, 1 rejected, 1 note"
    assert dialog.where.text() == "into dataset “pets”; new classes: cats"
    assert not dialog.notes.isVisible()
    dialog.details_button.click()
    assert dialog.details.isVisible() and dialog.notes.isVisible()
    assert dialog.rejected_rows() == [("dogs/c.png", "not an image")]
    assert dialog.note_rows() == [("cats/dangling.png", "broken link; skipped")]
    qtbot.wait(50)
    dialog.grab().save(str(artifacts / "import_summary_notes.png"))


def test_notes_alone_open_the_details(qtbot, sources):
    summary = ImportSummary(added=2, roots=[str(sources[0])],
                            warnings=[(f"{sources[0]}/cats/dangling.png", "broken link; skipped")])
    dialog = ImportSummaryDialog(summary, "pets")
    qtbot.addWidget(dialog)
    dialog.show()
    assert dialog.details_button.isEnabled()
    dialog.details_button.click()
    assert dialog.notes.isVisible() and not dialog.details.isVisible()
