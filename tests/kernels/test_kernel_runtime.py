"""Transforms on a batch, saving outputs, the CLI, latest-only scheduling, compile fallback."""

from __future__ import annotations

import json
import threading
import time

import numpy as np
import pytest
import torch

from studio.cli import main
from studio.core.errors import InvalidInputError
from studio.kernels.outputs import load_ply, save_result
from studio.kernels.runtime import run_kernel
from studio.kernels.scheduler import LatestOnlyRunner
from studio.kernels.transforms import make_batch_transform


def test_colour_blindness_as_a_batch_transform():
    batch = torch.rand(4, 3, 12, 10)
    fn = make_batch_transform({"kernel": "colour_blindness", "params": {"deficiency": "protanopia", "severity": 1.0}})
    out = fn(batch)
    assert out.shape == batch.shape and out.dtype == batch.dtype
    assert float(out.min()) >= 0 and float(out.max()) <= 1
    # the same as running the kernel on each picture alone
    single = make_batch_transform({"kernel": "colour_blindness", "params": {"deficiency": "protanopia"}})(batch[2:3])
    torch.testing.assert_close(out[2:3], single)
    assert float((out - batch).abs().mean()) > 0.01


def test_grey_batches_and_green_screen_transform():
    grey = torch.rand(2, 1, 8, 8)
    out = make_batch_transform({"kernel": "colour_blindness", "params": {}})(grey)
    assert out.shape == (2, 1, 8, 8)
    fg = torch.zeros(3, 3, 16, 20)
    fg[:, 1] = 0.69
    fg[:, 2] = 0.25  # all screen: the background shows through everywhere
    out = make_batch_transform({"kernel": "green_screen", "params": {"spill": 0.0}})(fg)
    assert out.shape == fg.shape
    assert float(out.std()) > 0.05  # the bundled background photo, not the green


def test_transform_spec_errors():
    with pytest.raises(InvalidInputError, match="does not take an input image"):
        make_batch_transform({"kernel": "mandelbrot"})
    with pytest.raises(InvalidInputError, match="between 0 and 1"):
        make_batch_transform({"kernel": "colour_blindness", "params": {"severity": 3}})
    with pytest.raises(InvalidInputError):
        make_batch_transform({"params": {}})
    fn = make_batch_transform({"kernel": "colour_blindness"})
    with pytest.raises(InvalidInputError, match="N x 1|3 x H x W"):
        fn(torch.rand(3, 8, 8))


@pytest.mark.gpu
def test_transform_runs_on_cuda():
    batch = torch.rand(8, 3, 32, 32, device="cuda")
    out = make_batch_transform({"kernel": "colour_blindness", "params": {}})(batch)
    assert out.device.type == "cuda"
    cpu = make_batch_transform({"kernel": "colour_blindness", "params": {}})(batch.cpu())
    torch.testing.assert_close(out.cpu(), cpu, atol=1e-4, rtol=0)


def test_save_png_npy_ply(shipped, tmp_path):
    img = run_kernel(shipped["julia"], {"max_iter": 32}, size=(40, 30)).result
    save_result(img, tmp_path / "j.png")
    from PIL import Image

    assert Image.open(tmp_path / "j.png").size == (40, 30)
    save_result(img, tmp_path / "j.npy")
    assert np.load(tmp_path / "j.npy").shape == (30, 40, 3)
    pts = run_kernel(shipped["mandelbulb"], {"max_iter": 5}, size=(16,)).result
    save_result(pts, tmp_path / "b.ply")
    back = load_ply(tmp_path / "b.ply")
    np.testing.assert_allclose(back["x"], pts.positions[:, 0].numpy())
    assert back["red"].dtype == np.uint8 and len(back["value"]) == pts.size()
    with pytest.raises(InvalidInputError, match="holds points"):
        save_result(img, tmp_path / "j.ply")
    with pytest.raises(InvalidInputError, match="use .png"):
        save_result(img, tmp_path / "j.gif")


def test_cli_list_and_run(tmp_path, capsys):
    assert main(["--home", str(tmp_path), "kernels", "list", "--json"]) == 0
    names = [json.loads(line)["name"] for line in capsys.readouterr().out.splitlines()]
    assert "mandelbrot" in names and "lorenz" in names
    out_png = tmp_path / "m.png"
    code = main(["--home", str(tmp_path), "kernels", "run", "mandelbrot", "-p", "max_iter=32", "--size", "64x48",
                 "-o", str(out_png), "--json"])
    assert code == 0
    info = json.loads(capsys.readouterr().out)
    assert info["name"] == "mandelbrot" and info["output"] == "image" and info["shape"] == [48, 64, 3]
    assert info["device"] == "cpu" and info["run_ms"] > 0 and info["compile_ms"] is None
    assert out_png.is_file()


@pytest.mark.parametrize(
    "argv, message",
    [
        (["kernels", "run", "nope"], "no kernel named 'nope'"),
        (["kernels", "run", "julia", "-p", "max_iter=1"], "between 16 and 4096"),
        (["kernels", "run", "julia", "-p", "oops"], "key=value"),
        (["kernels", "run", "julia", "--size", "big"], "WxH"),
        (["kernels", "run", "julia", "--device", "tpu"], "unknown device"),
        (["kernels", "run", "julia", "-o", "x.gif"], "use .png"),
        (["kernels", "run", "colour_blindness", "--input", "/no/such.png"], "not found"),
        (["kernels", "run", "lorenz", "-o", "out.png"], "cannot be saved as .png"),
    ],
)
def test_cli_bad_input_is_one_clear_line(tmp_path, capsys, argv, message):
    code = main(["--home", str(tmp_path), *argv, "--size", "16x16"] if "--size" not in argv and argv[2] != "lorenz" else ["--home", str(tmp_path), *argv])
    err = capsys.readouterr().err.strip()
    assert code == 1
    assert err.startswith("studio: error:") and message in err and "\n" not in err


def test_cli_input_image_that_is_not_an_image(tmp_path, capsys):
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not a png")
    assert main(["kernels", "run", "colour_blindness", "--input", str(bad)]) == 1
    assert "cannot read bad.png as an image" in capsys.readouterr().err


def test_latest_only_runner_drops_stale_requests():
    results: list[tuple[int, object]] = []
    gate = threading.Event()
    runner = LatestOnlyRunner(lambda i, r: results.append((i, r)), lambda i, e: results.append((i, e)))

    def slow(value):
        def work():
            gate.wait(5)
            return value
        return work

    first = runner.submit(slow("first"))
    time.sleep(0.05)  # the first one has started and blocks on the gate
    for k in range(10):
        runner.submit(slow(f"burst {k}"))
    gate.set()
    assert runner.wait_idle(5)
    runner.close()
    assert [r for _, r in results] == ["first", "burst 9"]  # the 9 in between were never computed
    assert runner.dropped == 9 and results[0][0] == first


def test_latest_only_runner_reports_errors_and_keeps_going():
    seen = []
    runner = LatestOnlyRunner(lambda i, r: seen.append(("ok", r)), lambda i, e: seen.append(("error", str(e))))
    runner.submit(lambda: 1 / 0)
    assert runner.wait_idle(5)
    runner.submit(lambda: 42)
    assert runner.wait_idle(5)
    runner.close()
    assert seen == [("error", "division by zero"), ("ok", 42)]


def test_compile_failure_falls_back_to_eager(shipped, monkeypatch):
    import studio.kernels.runtime as rt

    def broken_compile(*a, **k):
        raise RuntimeError("no C++ compiler")

    monkeypatch.setattr(rt, "compiled_function", broken_compile)
    monkeypatch.setattr(rt, "_COMPILE_FAILED", {})
    run = run_kernel(shipped["lorenz"], {"particles": 2, "steps": 60}, compile=True)
    assert not run.compiled and "torch.compile failed" in run.note and "no C++ compiler" in run.note
    assert run.result.size() == 120


def test_cli_bench_includes_the_numpy_reference(tmp_path, capsys):
    code = main(["--home", str(tmp_path), "kernels", "bench", "julia", "--size", "64x48", "-p", "max_iter=32",
                 "--repeats", "1", "--json"])
    assert code == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["target"] for r in rows] == ["cpu", "numpy reference"]
    assert all(r["run_ms"] > 0 and r["throughput"] > 0 and r["unit"] == "px/s" for r in rows)
