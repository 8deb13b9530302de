"""`studio export` of a text run: a Hugging Face folder (--format hf) with its parity line and the
example it prints (which runs), and one clear line for a format that does not apply. ONNX export
of a text run is tested in tests/export/test_text_export.py and from the Export page."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("onnxruntime")
pytest.importorskip("transformers")

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "train" / "text"))
from text_runs import shared_text_library


@pytest.fixture
def text_home(tmp_path_factory, tmp_path) -> tuple[Path, int]:
    template, run_id = shared_text_library(tmp_path_factory)
    shutil.copytree(template, tmp_path / "library")
    return tmp_path / "library", run_id


def studio_answers(home: Path, run_id: int, texts: list[str]) -> list[str]:
    from studio.store.library import Library
    from studio.train.text.inference import load_text_run

    lib = Library.open(home)
    try:
        classifier = load_text_run(lib, run_id)
        return [classifier.classes[i] for i in classifier.probabilities(texts).argmax(axis=1)]
    finally:
        lib.close()


def test_export_hf_then_run_the_example_it_prints(text_home, tmp_path, capsys):
    from studio import cli

    home, run_id = text_home
    out = tmp_path / "exported"
    assert cli.main(["--home", str(home), "export", str(run_id), "--format", "hf", "--out", str(out)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f"exported run {run_id} as hf: {out.resolve()}"
    assert lines[1] == f"  model card: {out.resolve() / 'model.json'}"
    assert lines[2] == f'  example:    python {out.resolve() / "predict.py"} "a sentence to classify"'
    assert lines[3].startswith("  parity OK: top-1 agreement 100.00% on 44 test texts, max probability difference ")
    assert "(transformers " in lines[3] and "fresh process" in lines[3]
    assert (out / "config.json").is_file() and (out / "model.safetensors").is_file()

    texts = ["a gripping, funny and moving film", "a dull, lifeless mess"]
    example = subprocess.run([sys.executable, "-I", str(out / "predict.py"), *texts], check=False, capture_output=True,
                             text=True, timeout=300, cwd=tmp_path)
    assert example.returncode == 0, example.stderr
    assert [line.split("\t")[0] for line in example.stdout.splitlines()] == studio_answers(home, run_id, texts)


@pytest.mark.parametrize("fmt, message", [
    ("torchscript", ("a text model exports as onnx (with tokenizer.json and predict.py) or hf (a Hugging Face folder), "
                     "not torchscript")),
    ("safetensors", "not safetensors"),
])
def test_a_format_that_does_not_apply_is_one_clear_line(text_home, tmp_path, capsys, fmt, message):
    from studio import cli

    home, run_id = text_home
    assert cli.main(["--home", str(home), "export", str(run_id), "-f", fmt, "-o", str(tmp_path / "m")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("studio: error: ") and message in err[0]
    assert not (tmp_path / "m").exists()


def test_hf_for_an_image_run_is_refused(tmp_path, capsys):
    from studio import cli

    assert cli.main(["--home", str(tmp_path / "lib"), "export", "777", "--format", "hf"]) == 1
    assert "a Hugging Face folder (hf) is the export of a text model" in capsys.readouterr().err
