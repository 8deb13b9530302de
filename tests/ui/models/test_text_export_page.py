"""Export with a text run, on the real main window at 1280x800 as a user goes: open Export, pick
the text run, see TorchScript and safetensors greyed out with the reason, export ONNX and see
parity on the test texts, with the example command and the export in the history."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.gui

PySide6 = pytest.importorskip("PySide6")
pytest.importorskip("onnxruntime")
pytest.importorskip("transformers")

from PySide6.QtCore import Qt

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "train" / "text"))
from text_runs import shared_text_library
from train_gui_helpers import main_window_at_1280x800

WAIT_MS = 180_000
ARTIFACTS = Path(__file__).resolve().parents[2] / "_artifacts"


@pytest.fixture
def window(qtbot, tmp_path_factory, tmp_path):
    from studio.store.library import Library

    template, run_id = shared_text_library(tmp_path_factory)
    shutil.copytree(template, tmp_path / "library")
    with main_window_at_1280x800(qtbot, Library.open(tmp_path / "library"), tmp_path / "settings.ini") as window:
        yield window, run_id


def test_export_page_exports_a_text_run_as_onnx_with_parity(qtbot, window):
    window, run_id = window
    window.show_page("export")
    page = window.page("export")
    qtbot.waitUntil(lambda: page.run_combo.findData(run_id) >= 0, timeout=WAIT_MS)
    page.run_combo.setCurrentIndex(page.run_combo.findData(run_id))
    assert page.run_kind() == "text"
    items = {page.format_combo.itemData(i): page.format_combo.model().item(i) for i in range(page.format_combo.count())}
    assert items["onnx"].isEnabled() and items["hf"].isEnabled()
    for fmt in ("torchscript", "safetensors"):
        assert not items[fmt].isEnabled() and "A text model exports as ONNX" in items[fmt].toolTip()

    page.set_format("hf")  # a Hugging Face folder is a folder, not a file
    assert page.path_edit.text().endswith(f"run-{run_id}/hf") and page.path_title.text() == "Folder"
    page.set_format("onnx")
    assert page.path_edit.text().endswith(f"run-{run_id}/onnx/model.onnx") and page.path_title.text() == "File"
    with qtbot.waitSignal(page.export_finished, timeout=WAIT_MS) as finished:
        qtbot.mouseClick(page.export_button, Qt.MouseButton.LeftButton)
    report = finished.args[0]
    assert report.ok and report.kind == "text" and report.format == "onnx"
    assert page.verdict.text().startswith("OK")
    assert page.fields["agreement"].text() == "100.00% (44 of 44)"
    assert page.fields["n"].text() == "44 texts from the test split"
    assert page.fields["runtime"].text().startswith("tokenizers + onnxruntime")
    assert page.fields["example"].text() == f'python {Path(report.path).parent / "predict.py"} "a sentence to classify"'
    qtbot.waitUntil(lambda: page.history.rowCount() >= 1, timeout=WAIT_MS)
    assert page.history.item(0, 1).text() == "onnx" and page.history.item(0, 2).text() == "OK"

    page.history.selectRow(0)  # the recorded export shows the same report and its example
    assert page.fields["example"].text().startswith(f"python {Path(report.path).parent / 'predict.py'}")
    ARTIFACTS.mkdir(exist_ok=True)
    window.grab().save(str(ARTIFACTS / "export_texts.png"))
