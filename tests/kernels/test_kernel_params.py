"""Parameter specs from signatures, the registry, error reporting with file and line."""

from __future__ import annotations

from typing import Annotated

import pytest

from studio.core.errors import InvalidInputError, NotFoundError
from studio.kernels import Choice, Colour, Image, Range, kernel
from studio.kernels.params import BOOL, CHOICE, COLOUR, FLOAT, INT, SLIDER, TEXT, parse_assignments, read_params, resolve_params
from studio.kernels.registry import KernelError, discover, find, load_module_source, new_kernel_source, save_user_kernel
from studio.kernels.runtime import run_kernel


def test_signature_becomes_param_specs():
    @kernel(output="image")
    def k(grid, picture, *, a: Range(-2.0, 2.0) = 0.5, n: Range(1, 9, int) = 3, z: Range(1e-6, 1.0, log=True) = 0.1,
          mode: Choice("x", "y") = "y", tint: Colour = "#ff8000", flag: bool = True, count: int = 4,
          gain: float = 1.5, label: str = "hi", b: Annotated[float, Range(0.0, 1.0)] = 0.25) -> Image:
        return Image(picture)

    inputs, specs = read_params(k)
    by = {s.name: s for s in specs}
    assert inputs == ["picture"]
    assert [s.name for s in specs] == ["a", "n", "z", "mode", "tint", "flag", "count", "gain", "label", "b"]
    assert (by["a"].control, by["a"].low, by["a"].high, by["a"].default) == (SLIDER, -2.0, 2.0, 0.5)
    assert by["n"].type is int and by["n"].default == 3
    assert by["z"].log
    assert by["mode"].control == CHOICE and by["mode"].options == ("x", "y")
    assert by["tint"].control == COLOUR and by["tint"].default == pytest.approx((1.0, 128 / 255, 0.0))
    assert by["flag"].control == BOOL
    assert by["count"].control == INT and by["gain"].control == FLOAT and by["label"].control == TEXT
    assert by["b"].control == SLIDER and by["b"].high == 1.0
    assert k.__kernel__.output == "image"


def test_values_are_checked_with_clear_messages():
    @kernel(output="image")
    def k(grid, *, a: Range(0.0, 1.0) = 0.5, n: Range(1, 9, int) = 3, mode: Choice("x", "y") = "x",
          flag: bool = False, tint: Colour = "#000000"):
        return None

    _, specs = read_params(k)
    values = resolve_params(specs, {"a": "0.25", "n": "7", "mode": "y", "flag": "yes", "tint": "#00ff00"})
    assert values == {"a": 0.25, "n": 7, "mode": "y", "flag": True, "tint": (0.0, 1.0, 0.0)}
    with pytest.raises(InvalidInputError, match="between 0 and 1"):
        resolve_params(specs, {"a": "2"})
    with pytest.raises(InvalidInputError, match="one of x, y"):
        resolve_params(specs, {"mode": "z"})
    with pytest.raises(InvalidInputError, match="unknown parameter 'q'"):
        resolve_params(specs, {"q": 1})
    with pytest.raises(InvalidInputError, match="needs a slider value"):
        resolve_params(specs, {"n": "many"})
    with pytest.raises(InvalidInputError, match="#rrggbb"):
        resolve_params(specs, {"tint": "green"})
    with pytest.raises(InvalidInputError, match="key=value"):
        parse_assignments(["a"])


def test_kernel_without_default_or_grid_is_refused():
    def no_default(grid, *, a: Range(0, 1)):
        return None

    with pytest.raises(InvalidInputError, match="needs a default"):
        read_params(no_default)

    def no_grid(*, a: float = 1.0):
        return None

    with pytest.raises(InvalidInputError, match="first parameter must be the grid"):
        read_params(no_grid)


def test_shipped_kernels_all_load(shipped):
    assert {"mandelbrot", "julia", "mandelbulb", "lorenz", "colour_blindness", "green_screen"} <= set(shipped)
    assert shipped["mandelbrot"].meta.view == ("center_x", "center_y", "scale")
    assert shipped["green_screen"].inputs == ["foreground", "background"]
    assert shipped["mandelbulb"].output == "points"


BROKEN_SYNTAX = """
from studio.kernels import kernel, Image

@kernel(output="image")
def broken(grid, *, a: float = 1.0):
    x = (1 +
    return x
"""

RAISES = """
import torch
from studio.kernels import kernel, Image

@kernel(output="image")
def raises(grid, *, a: float = 1.0):
    x = torch.zeros(grid.height, grid.width)
    y = x @ torch.zeros(3, 3)
    return Image(y)
"""


def test_syntax_error_reports_file_and_line(tmp_path):
    path = tmp_path / "broken.py"
    with pytest.raises(KernelError) as info:
        load_module_source(BROKEN_SYNTAX, path, "edited")
    err = info.value
    assert err.path == str(path) and err.line in (6, 7)
    assert str(err).startswith("broken.py:") and "SyntaxError" in str(err)


def test_runtime_exception_reports_the_kernel_line(tmp_path):
    path = tmp_path / "raises.py"
    _, specs = load_module_source(RAISES, path, "edited")
    with pytest.raises(KernelError) as info:
        run_kernel(specs[0], {}, size=(8, 4))
    assert info.value.line == 8
    assert "raises.py:8" in str(info.value) and "RuntimeError" in str(info.value)


def test_wrong_return_type_is_reported(tmp_path):
    source = "from studio.kernels import kernel\n@kernel(output='points')\ndef p(grid):\n    return 42\n"
    _, specs = load_module_source(source, tmp_path / "p.py", "edited")
    with pytest.raises(KernelError, match="returned int"):
        run_kernel(specs[0], {})


def test_a_broken_module_does_not_hide_the_others(tmp_path):
    folder = tmp_path / "kernels"
    folder.mkdir()
    (folder / "bad.py").write_text(BROKEN_SYNTAX)
    (folder / "good.py").write_text(new_kernel_source("rings"))
    (folder / "import_fails.py").write_text("import not_a_module_anywhere\n")
    report = discover([(folder, "user")])
    assert set(report.kernels) == {"rings"}
    assert sorted(e.path.rsplit("/", 1)[1] for e in report.errors) == ["bad.py", "import_fails.py"]
    assert any(e.line == 1 and "ModuleNotFoundError" in str(e) for e in report.errors)


def test_new_kernel_template_runs_and_saves_to_user_folder(tmp_path):
    source = new_kernel_source("my_rings")
    target = save_user_kernel(tmp_path, "my_rings", source)
    assert target == tmp_path / "kernels" / "my_rings.py"
    spec = find("my_rings", tmp_path)
    assert spec.origin == "user"
    run = run_kernel(spec, {"frequency": 12}, size=(32, 16))
    assert run.result.shape == (16, 32, 3) and float(run.result.data.std()) > 0.05
    with pytest.raises(KernelError, match="SyntaxError"):
        save_user_kernel(tmp_path, "bad", BROKEN_SYNTAX)
    assert not (tmp_path / "kernels" / "bad.py").exists()
    with pytest.raises(InvalidInputError):
        save_user_kernel(tmp_path, "../escape", source)
    with pytest.raises(NotFoundError, match="no kernel named"):
        find("nope", tmp_path)


def test_unavailable_device_is_a_clear_error(shipped):
    import torch

    if torch.cuda.is_available():
        pytest.skip("CUDA present")
    with pytest.raises(InvalidInputError, match="not available"):
        run_kernel(shipped["julia"], {}, device="cuda", size=(8, 8))
