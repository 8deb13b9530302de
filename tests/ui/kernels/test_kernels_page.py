"""The kernel lab page on a real X server: pick kernels, move controls, edit and run source,
zoom, export, benchmark. Screenshots go to tests/_artifacts (look at them)."""

from __future__ import annotations

import numpy as np
import pytest

from PySide6.QtCore import Qt

from studio.kernels import Choice, Colour, Range, kernel  # module level: string annotations resolve here

pytestmark = pytest.mark.gui


@pytest.fixture
def page(qtbot, library):
    from studio.ui.kernels.page import KernelsPage

    page = KernelsPage(library)
    qtbot.addWidget(page)
    page.resize(1130, 760)
    page.show()
    qtbot.waitExposed(page)
    yield page
    page.shutdown()


def wait_for_run(qtbot, page, timeout=60_000):
    with qtbot.waitSignal(page.ran, timeout=timeout) as blocker:
        pass
    return blocker.args[0]


def settle(qtbot, page):
    """Wait until the runner is idle and its queued results have been shown."""
    assert page.wait_idle(60)
    qtbot.wait(50)


def canvas_pixels(page) -> np.ndarray:
    return page.view.render()


def test_page_lists_kernels_and_shows_mandelbrot(qtbot, page, artifacts):
    settle(qtbot, page)
    names = page.kernel_names()
    assert {"mandelbrot", "julia", "mandelbulb", "lorenz", "colour_blindness", "green_screen"} <= set(names)
    assert page.current.name == "mandelbrot"
    assert page.last_run is not None and page.last_run.result.kind == "image"
    assert "def mandelbrot" in page.editor.toPlainText()
    # one control per parameter, of the right kind
    from studio.ui.common.param_controls import SliderControl

    assert isinstance(page.params.widgets["max_iter"], SliderControl)
    assert page.params.widgets["palette"].count() == 4
    assert float(canvas_pixels(page)[..., :3].std()) > 20
    page.grab().save(str(artifacts / "kernels_page_mandelbrot.png"))


def test_moving_a_slider_reruns_and_fast_moves_drop_stale_frames(qtbot, page):
    settle(qtbot, page)
    slider = page.params.widgets["max_iter"]
    shown = []
    page.ran.connect(lambda run: shown.append(run.params["max_iter"]))
    for value in range(40, 240, 10):  # 20 quick moves
        slider.set_value(value)
        slider.valueChanged.emit(value)
    settle(qtbot, page)
    assert shown and shown[-1] == 230  # the last request is what ends on screen
    assert len(shown) < 20  # stale requests were dropped, not all computed
    assert page.runner.dropped > 0


def test_region_zoom_updates_centre_and_scale(qtbot, page):
    settle(qtbot, page)
    before = dict(page.values)
    w, h = page.last_run.result.shape[1], page.last_run.result.shape[0]
    page._on_region(w * 0.6, h * 0.3, w * 0.8, h * 0.45)
    settle(qtbot, page)
    assert page.values["scale"] < before["scale"] / 4
    assert page.values["center_x"] > before["center_x"]
    assert page.params.widgets["scale"].value() == pytest.approx(page.values["scale"])
    assert page.last_run.params["scale"] == pytest.approx(page.values["scale"])
    page.reset_view()
    settle(qtbot, page)
    assert page.values["scale"] == before["scale"]


def test_points_and_image_input_kernels(qtbot, page, artifacts):
    settle(qtbot, page)
    page.select_kernel("lorenz")
    settle(qtbot, page)
    assert page.last_run.result.kind == "points"
    assert page.view_options.point_size.isVisible() and page.view_options.camera_combo.isVisible()
    page.view_options.by_value.setChecked(True)
    page.view_options.colormap_combo.setCurrentText("hot")
    assert float(canvas_pixels(page)[..., :3].std()) > 3
    page.grab().save(str(artifacts / "kernels_page_lorenz.png"))

    page.select_kernel("mandelbulb")
    settle(qtbot, page)
    assert page.last_run.result.kind == "points" and page.last_run.result.size() > 1000
    page.grab().save(str(artifacts / "kernels_page_mandelbulb.png"))

    page.select_kernel("mandelbulb_volume")
    settle(qtbot, page)
    assert page.last_run.result.kind == "volume" and page.view_options.volume_method.isVisible()
    assert float(canvas_pixels(page)[..., :3].std()) > 3
    page.grab().save(str(artifacts / "kernels_page_volume.png"))

    page.select_kernel("green_screen")
    settle(qtbot, page)
    assert page.input_pictures.isVisible() and set(page.input_pictures.input_combos) == {"foreground", "background"}
    assert page.last_run.result.kind == "image"
    page.grab().save(str(artifacts / "kernels_page_green_screen.png"))


def test_syntax_error_and_exception_point_to_the_line(qtbot, page, artifacts):
    settle(qtbot, page)
    page.select_kernel("julia")
    settle(qtbot, page)
    text = page.editor.toPlainText()
    lines = text.splitlines()
    target = next(i for i, line in enumerate(lines) if "count, mag2 = escape_time(zr.clone()" in line)
    broken = lines.copy()
    broken[target] = broken[target].replace("escape_time(", "escape_time((")  # unbalanced
    page.editor.setPlainText("\n".join(broken))
    failures = []
    page.failed.connect(failures.append)
    page.run_source()
    assert failures and "SyntaxError" in failures[-1]
    assert page.error_label.isVisible()
    assert page.editor.error_line is not None and abs(page.editor.error_line - (target + 1)) <= 1
    page.grab().save(str(artifacts / "kernels_page_syntax_error.png"))

    raising = lines.copy()
    raising[target] = raising[target].replace("escape_time(zr.clone()", "escape_time(zr.clone()[:3]")
    page.editor.setPlainText("\n".join(raising))
    with qtbot.waitSignal(page.failed, timeout=60_000) as blocker:
        page.run_source()
    assert "fractals.py:" in blocker.args[0]
    assert page.editor.error_line is not None
    # the error line is inside the kernel module (the kernel line or the helper it called)
    assert 1 <= page.editor.error_line <= len(lines)

    page.editor.setPlainText(text)  # fixed again: runs, the error goes away
    page.run_source()
    settle(qtbot, page)
    assert not page.error_label.isVisible()
    assert page.last_run.kernel == "julia"


def test_edit_run_and_save_as_user_kernel(qtbot, page, library, tmp_path):
    settle(qtbot, page)
    page.new_kernel("stripes")
    settle(qtbot, page)
    assert page.current.name == "stripes" and page.last_run.kernel == "stripes"
    page.editor.setPlainText(page.editor.toPlainText().replace("frequency: Range(1.0, 40.0) = 8.0", "frequency: Range(1.0, 40.0) = 20.0"))
    page.run_source()
    settle(qtbot, page)
    assert page.last_run.params["frequency"] == 20.0
    target = page.save_source_as("stripes")
    assert target == library.home / "kernels" / "stripes.py" and target.is_file()
    settle(qtbot, page)
    assert page.kernels["stripes"].origin == "user"
    assert "stripes" in page.kernel_names()

    out = page.export_to(tmp_path / "stripes.png")
    from PIL import Image

    assert Image.open(out).size == tuple(page.last_run.result.shape[1::-1])


def test_benchmark_fills_the_table(qtbot, page):
    settle(qtbot, page)
    page.select_kernel("julia")
    page.size_combo.setCurrentText("320x240")
    settle(qtbot, page)
    job = page.start_benchmark()
    with qtbot.waitSignal(job.done, timeout=120_000):
        pass
    targets = [page.bench.table.item(r, 0).text() for r in range(page.bench.table.rowCount())]
    assert targets[0] == "cpu" and targets[-1] == "numpy reference"
    assert all(float(page.bench.table.item(r, 1).text()) > 0 for r in range(page.bench.table.rowCount()))


def test_unavailable_devices_are_disabled(page):
    import torch

    model = page.device_combo.model()
    cuda_row = page.device_combo.findData("cuda")
    assert model.item(cuda_row).isEnabled() == torch.cuda.is_available()
    assert model.item(page.device_combo.findData("cpu")).isEnabled()


def test_kernels_page_in_the_main_window_at_1280x800(qtbot, library, artifacts):
    from studio.ui.shell.main_window import MainWindow

    window = MainWindow(library)
    qtbot.addWidget(window)
    window.resize(1280, 800)
    window.show()
    qtbot.waitExposed(window)
    assert "kernels" in window.page_keys()
    window.show_page("kernels")
    page = window.page("kernels")
    assert page.wait_idle(60)
    qtbot.wait(100)
    assert page.last_run is not None
    assert window.width() <= 1280  # the page fits: nothing forces the window wider
    window.grab().save(str(artifacts / "main_window_kernels.png"))
    page.shutdown()


def test_param_panel_builds_every_control_kind(qtbot):
    from PySide6.QtWidgets import QCheckBox, QComboBox, QLineEdit, QSpinBox

    from studio.kernels.params import read_params
    from studio.ui.common.param_controls import ColourControl, ParamPanel, SliderControl

    @kernel(output="image")
    def k(grid, *, a: Range(-2.0, 2.0) = 0.5, z: Range(1e-12, 2.0, log=True) = 1e-6, n: Range(1, 9, int) = 3,
          mode: Choice("x", "y") = "y", tint: Colour = "#ff8000", flag: bool = True, count: int = 4, label: str = "hi"):
        return None

    _, specs = read_params(k)
    panel = ParamPanel()
    qtbot.addWidget(panel)
    panel.build(specs)
    w = panel.widgets
    assert isinstance(w["a"], SliderControl) and isinstance(w["z"], SliderControl) and isinstance(w["n"], SliderControl)
    assert isinstance(w["mode"], QComboBox) and isinstance(w["tint"], ColourControl)
    assert isinstance(w["flag"], QCheckBox) and isinstance(w["count"], QSpinBox) and isinstance(w["label"], QLineEdit)
    assert panel.values() == {"a": 0.5, "z": pytest.approx(1e-6), "n": 3, "mode": "y", "tint": pytest.approx((1.0, 128 / 255, 0.0)),
                              "flag": True, "count": 4, "label": "hi"}
    # the log slider sits where 1e-6 is on a log scale between 1e-12 and 2
    import math

    expected = (math.log(1e-6) - math.log(1e-12)) / (math.log(2.0) - math.log(1e-12))
    assert w["z"].slider.value() == round(expected * 1000)
    assert w["z"].box.text() == "1e-06"  # compact display keeps tiny scales readable
    seen = []
    panel.changed.connect(seen.append)
    w["a"].slider.setValue(1000)
    assert seen[-1]["a"] == pytest.approx(2.0)
    w["mode"].setCurrentText("x")
    assert seen[-1]["mode"] == "x"
    n_before = len(seen)
    panel.set_values({"a": -1.0, "flag": False})  # programmatic updates do not echo back
    assert len(seen) == n_before and panel.values()["a"] == -1.0 and panel.values()["flag"] is False


def test_dataset_sample_as_input_picture(qtbot, page, library, tmp_path):
    from PIL import Image

    from studio.store.datasets import create_dataset
    from studio.store.importers import import_path

    picture = np.zeros((40, 60, 3), np.uint8)
    picture[:, :30] = (200, 30, 30)  # red | green halves
    picture[:, 30:] = (30, 160, 40)
    Image.fromarray(picture).save(tmp_path / "halves.png")
    with library.transaction() as s:
        dataset_id = create_dataset(s, "pictures").id
    import_path(library, dataset_id, tmp_path / "halves.png")

    settle(qtbot, page)
    page.select_kernel("colour_blindness")
    settle(qtbot, page)
    page.input_pictures.choose_dataset_sample("image", "pictures")
    settle(qtbot, page)
    assert page.input_pictures.input_labels["image"].startswith("pictures #")
    assert page.last_run.result.shape == (40, 60, 3)
    out = page.last_run.result.data
    # deuteranopia pulls the red and green halves towards each other
    assert float((out[20, 10] - out[20, 50]).norm()) < float(torch_tensor(picture[20, 10] / 255.0 - picture[20, 50] / 255.0).norm())


def torch_tensor(a):
    import torch

    return torch.tensor(a)


def test_revert_clears_the_red_error_line(qtbot, page):
    settle(qtbot, page)
    lines = page.editor.toPlainText().splitlines()
    target = next(i for i, line in enumerate(lines) if line.startswith("def mandelbrot("))
    lines[target] = lines[target].replace("def mandelbrot(", "def mandelbrot((")
    page.editor.setPlainText("\n".join(lines))
    page.run_source()
    assert page.editor.error_line is not None and page.error_label.isVisible()
    qtbot.mouseClick(page.revert_button, Qt.MouseButton.LeftButton)
    settle(qtbot, page)
    assert page.editor.error_line is None
    assert page.editor.extraSelections() == []
    assert not page.error_label.isVisible()


def test_sliders_give_clean_values_and_the_status_names_width_first(qtbot, page):
    settle(qtbot, page)
    control = page.params.widgets["center_y"]
    control.slider.setValue(control.slider.maximum() // 2)  # the middle of -1.5 .. 1.5
    settle(qtbot, page)
    assert control.value() == 0.0 and control.box.text() == "0"
    control.slider.setValue(277)
    assert control.box.text() == "-0.669"  # one slider step is 0.003: no float noise digits
    settle(qtbot, page)
    page.size_combo.setCurrentIndex(page.size_combo.findText("800x600"))
    settle(qtbot, page)
    assert page.last_run.result.shape[:2] == (600, 800)
    assert "image 800×600 RGB" in page.status_label.text()


def test_editor_gets_a_readable_width_and_dividers_are_remembered(qtbot, library, tmp_path, artifacts):
    from PySide6.QtCore import QSettings

    from studio.ui.shell.main_window import MainWindow

    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    window = MainWindow(library, settings)
    qtbot.addWidget(window)
    window.resize(1280, 800)
    window.show()
    qtbot.waitExposed(window)
    window.show_page("kernels")
    page = window.page("kernels")
    assert page.wait_idle(60)
    qtbot.wait(100)
    assert page.editor.width() >= 400  # ~50 columns of code, the file path readable
    assert window.width() <= 1280
    window.grab().save(str(artifacts / "kernels_page_editor_width.png"))
    left, centre, editor = page.splitter.sizes()
    page.splitter.setSizes([left, centre - 100, editor + 100])
    wanted = page.splitter.sizes()
    window.close()

    again = MainWindow(library, QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat))
    qtbot.addWidget(again)
    again.resize(1280, 800)
    again.show()
    again.show_page("kernels")
    qtbot.wait(100)
    assert again.page("kernels").splitter.sizes() == wanted
    again.close()
