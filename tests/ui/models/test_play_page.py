"""Play and Export pages on real windows, with a model trained on digits in the test session."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.gui

PySide6 = pytest.importorskip("PySide6")

from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent
from PySide6.QtWidgets import QApplication

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "export"))
from digits_model import (  # noqa: F401
    digit_files,
    digits_exports,
    digits_home,
    digits_lib,
    digits_run,
)

WAIT_MS = 120_000


@pytest.fixture
def play(qtbot, digits_lib):
    from studio.ui.models.play_page import PlayPage

    page = PlayPage(digits_lib)
    qtbot.addWidget(page)
    page.resize(1280, 800)
    page.show()
    yield page
    page.clear()
    page.pool.waitForDone(30_000)


def drop(widget, paths) -> None:
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    event = QDropEvent(QPointF(200, 200), Qt.DropAction.CopyAction, mime,
                       Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    widget.dropEvent(event)  # the handler a real drop reaches (Qt delivers no synthetic drops)
    assert event.isAccepted()


def cli_predictions(home, model, files, top=3) -> list[dict]:
    proc = subprocess.run([sys.executable, "-m", "studio", "--home", str(home), "predict", str(model),
                           *map(str, files), "--top", str(top), "--json"], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    return [json.loads(line) for line in proc.stdout.splitlines()]


def same_predictions(shown: list[dict], cli: list[dict]) -> None:
    assert [r["file"] for r in shown] == [r["file"] for r in cli]
    for a, b in zip(shown, cli):
        assert [t["class"] for t in a["top"]] == [t["class"] for t in b["top"]]
        for x, y in zip(a["top"], b["top"]):
            assert abs(x["probability"] - y["probability"]) < 1e-5


def test_drop_files_shows_the_same_predictions_as_the_cli(play, qtbot, digits_run, digit_files, artifacts):
    home, run_id = digits_run
    play.select_model(str(run_id))
    qtbot.waitUntil(lambda: play.predictor is not None, timeout=WAIT_MS)
    with qtbot.waitSignal(play.predictions_done, timeout=WAIT_MS):
        drop(play, digit_files[:6])
    shown = play.shown_predictions()
    assert len(shown) == 6 and len(play.cards) == 6
    same_predictions(shown, cli_predictions(home, run_id, digit_files[:6]))
    card = play.cards[3]  # what the user reads: the top class and its percentage
    assert card.shown_top[0][0] == shown[3]["top"][0]["class"]
    assert card.class_combo.currentText() == shown[3]["top"][0]["class"]  # "Add to dataset" preselects it
    assert "ms per image on cpu" in card.info.text()
    qtbot.wait(200)
    play.grab().save(str(artifacts / "play_page.png"))


def test_switching_to_an_export_predicts_again_with_the_same_numbers(play, qtbot, digits_run, digits_exports, digit_files):
    home, _ = digits_run
    onnx = digits_exports["onnx"].path
    play.refresh_models()
    play.select_model(onnx)
    qtbot.waitUntil(lambda: play.predictor is not None and play.predictor.kind == "onnx", timeout=WAIT_MS)
    with qtbot.waitSignal(play.predictions_done, timeout=WAIT_MS):
        play.add_paths([str(Path(digit_files[0]).parent)])  # a folder: all its images
    same_predictions(play.shown_predictions(), cli_predictions(home, onnx, sorted(digit_files)))


def test_add_to_dataset_labels_the_image_in_the_runs_dataset(play, qtbot, digits_run, digits_lib, digit_files):
    from sqlalchemy import select

    from studio.store.blobs import sha256_bytes
    from studio.store.models import LabelClass, Sample

    play.select_model(str(digits_run[1]))
    qtbot.waitUntil(lambda: play.predictor is not None, timeout=WAIT_MS)
    with qtbot.waitSignal(play.predictions_done, timeout=WAIT_MS):
        play.add_paths([str(digit_files[7])])
    card = play.cards[0]
    card.class_combo.setCurrentIndex(card.class_combo.findText("7"))
    qtbot.mouseClick(card.add_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: card.add_button.text() == "Added as 7", timeout=WAIT_MS)
    digest = sha256_bytes(Path(digit_files[7]).read_bytes())
    with digits_lib.session() as s:
        label = s.scalar(select(LabelClass.name).join(Sample, Sample.class_id == LabelClass.id).where(Sample.blob == digest))
    assert label == "7"


def test_pasted_image_is_predicted(play, qtbot, digits_run, digit_files):
    from PySide6.QtGui import QImage

    play.select_model(str(digits_run[1]))
    qtbot.waitUntil(lambda: play.predictor is not None, timeout=WAIT_MS)
    QApplication.clipboard().setImage(QImage(str(digit_files[2])))
    with qtbot.waitSignal(play.predictions_done, timeout=WAIT_MS):
        play.paste()
    (shown,) = play.shown_predictions()
    assert shown["file"] == "pasted image" and len(shown["top"]) == 3
    # "Add to dataset" stores the pasted pixels (encoded as PNG in the job) labelled as chosen
    from sqlalchemy import select

    from studio.store.models import LabelClass, Sample

    card = play.cards[0]
    card.class_combo.setCurrentIndex(card.class_combo.findText("2"))
    qtbot.mouseClick(card.add_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: card.add_button.text() == "Added as 2", timeout=WAIT_MS)
    with play.lib.session() as s:
        row = s.execute(select(Sample.format, LabelClass.name).join(LabelClass, Sample.class_id == LabelClass.id)
                        .where(Sample.source_path == "play:pasted image")).one()
    assert tuple(row) == ("png", "2")


def test_no_camera_is_said_clearly(play):
    from PySide6.QtMultimedia import QMediaDevices

    if QMediaDevices.videoInputs():
        pytest.skip("this machine has a camera")
    assert "No camera found" in play.camera.view.text()
    assert not play.camera.button.isEnabled()


def test_gpu_choice_follows_cuda(play, qtbot):
    import torch

    item = play.device_combo.model().item(1)
    qtbot.waitUntil(lambda: play.pool.activeThreadCount() == 0, timeout=WAIT_MS)
    assert item.isEnabled() == torch.cuda.is_available()


def export_page(qtbot, lib):
    """The Export page on ``lib``, shown at 1280x800."""
    from studio.ui.models.export_page import ExportPage

    page = ExportPage(lib)
    qtbot.addWidget(page)
    page.resize(1280, 800)
    page.show()  # lists the runs in a job
    qtbot.waitUntil(lambda: page.run_combo.count() > 0, timeout=WAIT_MS)
    return page


def test_export_page_exports_and_shows_parity(qtbot, digits_run, digits_lib, tmp_path, artifacts):
    page = export_page(qtbot, digits_lib)
    page.select_run(digits_run[1])
    page.set_format("onnx")
    page.path_edit.setText(str(tmp_path / "digits.onnx"))
    with qtbot.waitSignal(page.export_finished, timeout=WAIT_MS) as finished:
        qtbot.mouseClick(page.export_button, Qt.MouseButton.LeftButton)
    report = finished.args[0]
    assert report.ok and Path(report.path).is_file()
    assert page.verdict.text().startswith("OK")
    assert page.fields["agreement"].text() == "100.00% (150 of 150)"
    qtbot.waitUntil(lambda: any(page.history.item(r, 5) and page.history.item(r, 5).text() == report.path
                                for r in range(page.history.rowCount())), timeout=WAIT_MS)
    qtbot.wait(200)
    page.grab().save(str(artifacts / "export_page.png"))


def test_export_page_flags_a_failed_parity(qtbot, digits_lib, artifacts):
    page = export_page(qtbot, digits_lib)
    page.show_report({"split": "test", "n": 150, "agreement": 0.9, "top1_agree": 135, "max_prob_diff": 0.3,
                      "threshold": 1e-4, "runtime": "onnxruntime"}, False, "/tmp/x.onnx", "/tmp/x.onnx.example.py")
    assert page.verdict.text().startswith("FLAGGED")
    assert "PARITY FAILED" in page.progress_label.text()
    assert page.fields["agreement"].text() == "90.00% (135 of 150)"
    qtbot.wait(200)
    page.grab().save(str(artifacts / "export_page_flagged.png"))


def test_main_window_has_play_and_export_pages(qtbot, digits_run, digits_lib, digit_files, artifacts):
    from studio.ui.shell.main_window import MainWindow

    window = MainWindow(digits_lib)
    qtbot.addWidget(window)
    window.resize(1280, 800)
    window.show()
    assert {"play", "export"} <= set(window.page_keys())
    window.show_page("play")
    play = window.page("play")
    qtbot.waitUntil(lambda: play.predictor is not None, timeout=WAIT_MS)  # loads when first shown
    with qtbot.waitSignal(play.predictions_done, timeout=WAIT_MS):
        play.add_paths([str(f) for f in digit_files[:4]])
    qtbot.wait(200)
    window.grab().save(str(artifacts / "main_window_play.png"))
    play.pool.waitForDone(30_000)


def test_clicking_an_earlier_export_shows_its_report(qtbot, digits_run, digits_exports, digits_lib):
    page = export_page(qtbot, digits_lib)
    page.select_run(digits_run[1])
    qtbot.waitUntil(lambda: page.history.rowCount() >= len(digits_exports), timeout=WAIT_MS)
    assert page.verdict.text() == "No export yet"  # listing the history selects nothing
    for fmt, report in digits_exports.items():
        row = next(r for r in range(page.history.rowCount()) if page.history.item(r, 5).text() == report.path)
        rect = page.history.visualItemRect(page.history.item(row, 1))
        qtbot.mouseClick(page.history.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
        assert page.fields["path"].text() == report.path
        assert page.verdict.text().startswith("OK")
        assert page.fields["n"].text().startswith(str(report.parity["n"]))
        assert page.fields["example"].text() == f"python {report.example_path} image.png"
        assert fmt in page.progress_label.text()
    # a listing for another run that arrives late (the run was changed while it ran) is ignored
    shown = page.history.rowCount()
    page._show_history((digits_run[1] + 1000, []))
    assert page.history.rowCount() == shown


def test_export_asks_before_replacing_a_file_it_did_not_write(qtbot, digits_run, digits_lib, tmp_path, monkeypatch):
    page = export_page(qtbot, digits_lib)
    page.select_run(digits_run[1])
    page.set_format("onnx")
    target = tmp_path / "notes.onnx"
    target.write_text("the user's own file")
    page.path_edit.setText(str(target))
    asked = []
    monkeypatch.setattr(page, "confirm_replace", lambda path: asked.append(path) or False)
    qtbot.mouseClick(page.export_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: asked == [target] and page.export_button.isEnabled(), timeout=WAIT_MS)
    assert page.job("export") is None
    assert target.read_text() == "the user's own file"  # "Cancel": nothing written
    monkeypatch.setattr(page, "confirm_replace", lambda path: asked.append(path) or True)
    with qtbot.waitSignal(page.export_finished, timeout=WAIT_MS) as finished:
        qtbot.mouseClick(page.export_button, Qt.MouseButton.LeftButton)
    assert finished.args[0].ok and target.read_bytes()[:4] != b"the "
