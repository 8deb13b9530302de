"""`studio export`, `studio predict` and `studio models import` from the command line."""

from __future__ import annotations

import json
import os
import pickle
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "export"))
from digits_model import digit_files, digits_exports, digits_home, digits_run  # noqa: E402,F401


def studio(home: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "studio", "--home", str(home), *args],
                          capture_output=True, text=True, timeout=600)


def json_lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines()]


def test_export_json_reports_parity_and_writes_card_and_example(digits_run, tmp_path):
    home, run_id = digits_run
    target = tmp_path / "digits.onnx"
    proc = studio(home, "export", str(run_id), "--format", "onnx", "-o", str(target), "--json")
    assert proc.returncode == 0, proc.stderr
    (report,) = json_lines(proc.stdout)  # only JSON on stdout, nothing from the exporter
    assert report["ok"] is True and report["path"] == str(target)
    assert report["parity"]["agreement"] == 1.0 and report["parity"]["max_prob_diff"] < 1e-4
    assert target.is_file() and (tmp_path / "digits.json").is_file()
    assert (tmp_path / "digits.onnx.example.py").is_file()


def test_export_human_output(digits_run, tmp_path):
    home, run_id = digits_run
    proc = studio(home, "export", str(run_id), "--format", "torchscript", "-o", str(tmp_path / "m.pt"))
    assert proc.returncode == 0, proc.stderr
    assert "parity OK: top-1 agreement 100.00% on 150 test images" in proc.stdout


def test_parity_failure_is_shown_clearly_with_exit_0(digits_run, tmp_path, monkeypatch, capsys):
    """A studio model that disagrees with the file: 'PARITY FAILED', ok false, still exit 0."""
    import numpy as np

    from studio import cli
    from studio.export import service

    class Disagreeing(service.EngineClassifier):
        def __call__(self, images):
            probs, logits = super().__call__(images)
            return probs.roll(1, dims=1), logits

    monkeypatch.setattr(service, "EngineClassifier", Disagreeing)
    home, run_id = digits_run
    assert cli.main(["--home", str(home), "export", str(run_id), "-f", "onnx", "-o", str(tmp_path / "m.onnx")]) == 0
    assert "PARITY FAILED" in capsys.readouterr().out
    assert cli.main(["--home", str(home), "export", str(run_id), "-f", "onnx", "-o", str(tmp_path / "n.onnx"), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] is False and report["parity"]["agreement"] < 1.0
    assert np.isfinite(report["parity"]["max_prob_diff"])


@pytest.fixture(scope="module")
def run_predictions(digits_run, digit_files) -> list[dict]:
    home, run_id = digits_run
    proc = studio(home, "predict", str(run_id), str(Path(digit_files[0]).parent), "--top", "3", "--json")
    assert proc.returncode == 0, proc.stderr
    return json_lines(proc.stdout)


@pytest.mark.parametrize("fmt", ["run", "onnx", "torchscript", "safetensors"])
def test_predict_json_same_for_run_and_every_export(digits_run, digits_exports, digit_files, run_predictions, fmt):
    home, run_id = digits_run
    folder = Path(digit_files[0]).parent
    if fmt == "run":
        results = run_predictions
    else:
        proc = studio(home, "predict", digits_exports[fmt].path, str(folder), "--top", "3", "--json")
        assert proc.returncode == 0, proc.stderr
        results = json_lines(proc.stdout)
    assert [r["file"] for r in results] == sorted(str(f) for f in digit_files)
    for r in results:
        assert set(r) == {"file", "top", "latency_ms"} and len(r["top"]) == 3
        assert r["top"][0]["probability"] >= r["top"][1]["probability"] and r["latency_ms"] > 0
    if fmt != "run":
        for a, b in zip(results, run_predictions):
            assert [t["class"] for t in a["top"]] == [t["class"] for t in b["top"]]
            assert abs(a["top"][0]["probability"] - b["top"][0]["probability"]) < 1e-4


def test_predict_human_output_and_bad_files(digits_exports, tmp_path, digit_files):
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n broken")
    proc = studio(tmp_path / "lib", "predict", digits_exports["onnx"].path, str(digit_files[3]), str(bad))
    assert proc.returncode == 1  # the good file is still predicted; the bad one named on stderr
    assert proc.stdout.startswith(f"{digit_files[3]}: 3 ")
    assert "studio: error: cannot read" in proc.stderr and "broken.png" in proc.stderr


@pytest.mark.parametrize("args, message", [
    (["predict", "777", "x.png"], "no such file or folder: x.png"),
    (["predict", "777", "."], "no run 777"),
    (["predict", "nothing.onnx", "."], "no run, imported model or file named 'nothing.onnx'"),
    (["export", "777", "--format", "onnx"], "no run 777"),
    (["models", "import", "missing.onnx"], "no such model file"),
])
def test_bad_input_one_clear_line(tmp_path, args, message):
    (tmp_path / "a.png").write_bytes(b"")
    proc = subprocess.run([sys.executable, "-m", "studio", "--home", str(tmp_path / "lib"), *args],
                          capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines() == [f"studio: error: {proc.stderr.split('studio: error: ')[1].strip()}"]
    assert message in proc.stderr


class Payload:
    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_planted_pickle_refused_by_cli_predict_and_import(digits_exports, tmp_path, digit_files):
    marker = tmp_path / "PWNED"
    evil = tmp_path / "evil.pt"
    evil.write_bytes(pickle.dumps({"w": Payload(marker)}))
    shutil.copy(digits_exports["safetensors"].card_path, tmp_path / "evil.json")
    for args in (["predict", str(evil), str(digit_files[0]), "--trust"], ["models", "import", str(evil)]):
        proc = studio(tmp_path / "lib", *args)
        assert proc.returncode == 1 and "refusing to load evil.pt" in proc.stderr
    assert not marker.exists()


def test_models_import_and_predict_by_name(digits_exports, tmp_path, digit_files):
    home = tmp_path / "lib"
    proc = studio(home, "models", "import", digits_exports["onnx"].path, "--name", "digits", "--json")
    assert proc.returncode == 0, proc.stderr
    (entry,) = json_lines(proc.stdout)
    assert entry["name"] == "digits" and entry["format"] == "onnx" and (home / entry["path"]).is_file()
    by_name = json_lines(studio(home, "predict", "digits", str(digit_files[5]), "--json").stdout)[0]
    by_file = json_lines(studio(home, "predict", digits_exports["onnx"].path, str(digit_files[5]), "--json").stdout)[0]
    assert by_name["top"] == by_file["top"] and len(by_name["top"]) == 5
    ts = studio(home, "models", "import", digits_exports["torchscript"].path, "--name", "ts")
    assert ts.returncode == 1 and "--trust" in ts.stderr
    ts = studio(home, "models", "import", digits_exports["torchscript"].path, "--name", "ts", "--trust")
    assert ts.returncode == 0 and "for play and finetune" in ts.stdout


def test_imported_weights_fine_tune_with_studio_train(digits_run, digits_exports):
    """`models import` of safetensors + card gives weights that `studio train --pretrained` takes."""
    home, _ = digits_run
    proc = studio(home, "models", "import", digits_exports["safetensors"].path, "--name", "for-finetune", "--json")
    assert proc.returncode == 0, proc.stderr
    (entry,) = json_lines(proc.stdout)
    assert entry["uses"] == ["play", "finetune"]
    weights = home / entry["weights_path"]
    train = studio(home, "train", "digits", "--model", entry["architecture"], "--pretrained", str(weights),
                   "--epochs", "1", "--image-size", "16", "--device", "cpu", "--json")
    assert train.returncode == 0, train.stderr[-1500:]
    done = [e for e in json_lines(train.stdout) if e.get("event") == "done"]
    assert done and done[0]["status"] == "completed"


def one_error_line(proc: subprocess.CompletedProcess) -> str:
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 1 and len(lines) == 1 and lines[0].startswith("studio: error: "), proc.stderr[-2000:]
    return lines[0]


def test_export_never_replaces_a_file_it_did_not_name(digits_run, tmp_path):
    """-o out/config.safetensors used to replace the user's out/config.json with the model card."""
    home, run_id = digits_run
    out = tmp_path / "out"
    out.mkdir()
    config = out / "config.json"
    config.write_text('{"my": "settings"}')
    target = out / "config.safetensors"
    line = one_error_line(studio(home, "export", str(run_id), "-f", "safetensors", "-o", str(target)))
    assert f"{config} already exists" in line and "--force" in line
    assert config.read_text() == '{"my": "settings"}' and sorted(p.name for p in out.iterdir()) == ["config.json"]
    proc = studio(home, "export", str(run_id), "-f", "safetensors", "-o", str(target), "--force", "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(config.read_text())["export"]["file"] == "config.safetensors"
    # its own earlier export (model, card, example) is replaced without --force
    again = studio(home, "export", str(run_id), "-f", "safetensors", "-o", str(target), "--json")
    assert again.returncode == 0, again.stderr
    assert sorted(p.name for p in out.iterdir()) == ["config.json", "config.safetensors", "config.safetensors.example.py"]


@pytest.mark.parametrize("existing", ["m.safetensors", "m.safetensors.example.py"])
def test_export_refuses_an_existing_model_or_example_it_did_not_write(digits_run, tmp_path, existing):
    home, run_id = digits_run
    (tmp_path / existing).write_text("mine")
    line = one_error_line(studio(home, "export", str(run_id), "-f", "safetensors", "-o", str(tmp_path / "m.safetensors")))
    assert f"{tmp_path / existing} already exists" in line
    assert (tmp_path / existing).read_text() == "mine" and len(list(tmp_path.iterdir())) == 1


def test_export_does_not_write_through_a_symlink_unless_asked(digits_run, tmp_path):
    home, run_id = digits_run
    elsewhere, out = tmp_path / "elsewhere", tmp_path / "out"
    elsewhere.mkdir()
    out.mkdir()
    (out / "m.safetensors").symlink_to(elsewhere / "target.safetensors")
    line = one_error_line(studio(home, "export", str(run_id), "-f", "safetensors", "-o", str(out / "m.safetensors")))
    assert "is a symbolic link" in line and "--follow-symlinks" in line
    assert list(elsewhere.iterdir()) == [] and [p.name for p in out.iterdir()] == ["m.safetensors"]
    # a linked card is refused too, even with --force (that replaces files, it does not follow links)
    (out / "m.safetensors").unlink()
    secret = elsewhere / "secret.json"
    secret.write_text("{}")
    (out / "m.json").symlink_to(secret)
    line = one_error_line(studio(home, "export", str(run_id), "-f", "safetensors", "-o", str(out / "m.safetensors"), "--force"))
    assert f"{out / 'm.json'} is a symbolic link" in line and secret.read_text() == "{}"
    # asked: the model goes where the link points, its card and example beside it
    (out / "m.json").unlink()
    (out / "m.safetensors").symlink_to(elsewhere / "target.safetensors")
    proc = studio(home, "export", str(run_id), "-f", "safetensors", "-o", str(out / "m.safetensors"), "--follow-symlinks", "--json")
    assert proc.returncode == 0, proc.stderr
    assert json_lines(proc.stdout)[0]["path"] == str((elsewhere / "target.safetensors").resolve())
    assert {p.name for p in elsewhere.iterdir()} == {"secret.json", "target.safetensors", "target.json",
                                                      "target.safetensors.example.py"}


def test_a_file_name_with_triple_quotes_is_not_code_in_the_example(digits_run, tmp_path, digit_files):
    home, run_id = digits_run
    name = 'm"""+open("PWNED","w").name+"""\\x.safetensors'
    proc = studio(home, "export", str(run_id), "-f", "safetensors", "-o", str(tmp_path / name), "--json")
    assert proc.returncode == 0, proc.stderr
    example = Path(json_lines(proc.stdout)[0]["example_path"])
    run = subprocess.run([sys.executable, str(example), str(digit_files[4])], capture_output=True, text=True,
                         cwd=tmp_path, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    assert not (tmp_path / "PWNED").exists()
    assert run.stdout.splitlines()[0].split("\t")[:2] == [str(digit_files[4]), "4"]
    import ast

    assert name in ast.get_docstring(ast.parse(example.read_text()))  # the docstring shows the real name


def test_kernels_run_output_is_not_overwritten_or_written_through_a_link(tmp_path):
    def kernel_run(*extra):
        return studio(tmp_path / "lib", "kernels", "run", "mandelbrot", "--size", "16x12", "-p", "max_iter=16", *extra)

    mine = tmp_path / "picture.png"
    mine.write_bytes(b"my picture")
    line = one_error_line(kernel_run("-o", str(mine)))
    assert f"{mine} already exists" in line and mine.read_bytes() == b"my picture"
    assert kernel_run("-o", str(mine), "--force").returncode == 0
    from PIL import Image

    assert Image.open(mine).size == (16, 12)
    link = tmp_path / "link.png"
    link.symlink_to(tmp_path / "target.png")
    line = one_error_line(kernel_run("-o", str(link)))
    assert "is a symbolic link" in line and not (tmp_path / "target.png").exists()
    assert kernel_run("-o", str(link), "--follow-symlinks").returncode == 0
    assert Image.open(tmp_path / "target.png").size == (16, 12) and link.is_symlink()
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []  # no temporary files left


def test_models_import_works_beside_a_leftover_folder(digits_exports, tmp_path, digit_files):
    """An import interrupted before it was recorded leaves models/<name>/; the next import of that
    name failed with a FileExistsError traceback. Now it goes beside it and the leftover is kept."""
    home = tmp_path / "lib"
    leftover = home / "models" / "digits"
    leftover.mkdir(parents=True)
    (leftover / "half-copied.onnx").write_bytes(b"partial")
    proc = studio(home, "models", "import", digits_exports["onnx"].path, "--name", "digits", "--json")
    assert proc.returncode == 0, proc.stderr
    (entry,) = json_lines(proc.stdout)
    assert entry["name"] == "digits" and Path(entry["path"]).parent == Path("models/digits-2")
    assert (leftover / "half-copied.onnx").read_bytes() == b"partial"
    predicted = json_lines(studio(home, "predict", "digits", str(digit_files[2]), "--json").stdout)[0]
    assert predicted["top"][0]["class"] == "2"
    again = studio(home, "models", "import", digits_exports["onnx"].path, "--name", "digits")
    assert again.returncode == 1 and "already imported" in again.stderr
