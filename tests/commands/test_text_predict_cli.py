"""`studio predict` with a text run: sentences given with --text, files of texts (.txt one per line,
CSV with a text column) and stdin, printed or written to a CSV of predictions; the numbers are
Evaluate's (TextClassifier). Real Rotten Tomatoes sentences and a trained tiny BERT (text_runs.py)."""

from __future__ import annotations

import csv
import io
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "train" / "text"))
from text_runs import shared_text_library

from studio.cli import main

REPO = Path(__file__).resolve().parents[2]
POSITIVE = "a delightful, charming and heartfelt comedy"
NEGATIVE = "a dull, lifeless mess with a plot that makes no sense"


@pytest.fixture(scope="module")
def text_run(tmp_path_factory):
    template, run_id = shared_text_library(tmp_path_factory)
    home = tmp_path_factory.mktemp("text-predict-cli") / "library"
    shutil.copytree(template, home)
    return home, run_id


@pytest.fixture(scope="module")
def classifier(text_run):
    from studio.store.library import Library
    from studio.train.text.inference import load_text_run

    lib = Library.open(text_run[0])
    yield load_text_run(lib, text_run[1])
    lib.close()


def studio(home: Path, *args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, "-m", "studio", "--home", str(home), *args], cwd=REPO,
                          capture_output=True, input=stdin, timeout=300, check=False)
    proc.stdout, proc.stderr = proc.stdout.decode(), proc.stderr.decode()
    return proc


def test_sentences_a_file_and_stdin_are_predicted_in_order(text_run, classifier, tmp_path):
    home, run_id = text_run
    lines = tmp_path / "more.txt"
    lines.write_text("an instant classic\n\nterrible acting throughout\n", encoding="utf-8")
    proc = studio(home, "predict", str(run_id), "--text", POSITIVE, "--text", NEGATIVE, "-", str(lines), "--top", "1",
                  stdin=b"a warm and funny story\n")
    assert proc.returncode == 0, proc.stderr
    texts = [POSITIVE, NEGATIVE, "a warm and funny story", "an instant classic", "terrible acting throughout"]
    probabilities = classifier.probabilities(texts)
    printed = proc.stdout.splitlines()
    assert len(printed) == len(texts)
    for line, text, row in zip(printed, texts, probabilities):
        best = int(row.argmax())
        assert line == f"{classifier.classes[best]} {row[best]:.1%}  {text}"
    assert printed[0].startswith("pos ") and printed[1].startswith("neg ")


def test_json_lines_give_every_class_and_say_when_a_text_was_cut(text_run, classifier, capsys):
    home, run_id = text_run
    long_text = " ".join([POSITIVE] * 10)
    assert main(["--home", str(home), "predict", str(run_id), "--text", POSITIVE, "--text", long_text, "--json"]) == 0
    results = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["text"] for r in results] == [POSITIVE, long_text]
    assert [r["truncated"] for r in results] == [False, True]
    for result, row in zip(results, classifier.probabilities([POSITIVE, long_text])):
        shown = {t["class"]: t["probability"] for t in result["top"]}
        assert shown == pytest.approx(dict(zip(classifier.classes, row.tolist())), abs=1e-6)
        assert result["top"][0]["probability"] >= result["top"][1]["probability"]


def test_a_csv_of_texts_is_written_with_its_predictions(text_run, classifier, tmp_path, capsys, monkeypatch):
    home, run_id = text_run
    source = tmp_path / "reviews.csv"
    source.write_text('stars,comment\n5,"Loved it, truly moving"\n1,a boring film\n3,' + " ".join(["long"] * 200) + "\n",
                      encoding="utf-8")
    target = tmp_path / "predictions.csv"
    assert main(["--home", str(home), "predict", str(run_id), str(source), "--text-column", "comment", "--out", str(target)]) == 0
    out, err = capsys.readouterr()
    assert out == f"predicted 3 texts: {target}\n"
    assert "1 text was longer than 48 tokens" in err and "column 'comment'" in err
    with open(target, encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    texts = ["Loved it, truly moving", "a boring film", " ".join(["long"] * 200)]
    assert [r["text"] for r in rows] == texts and list(rows[0]) == ["text", "class", "probability", "P(neg)", "P(pos)"]
    np.testing.assert_allclose([[float(r["P(neg)"]), float(r["P(pos)"])] for r in rows], classifier.probabilities(texts),
                               atol=1e-6)

    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"a gripping film\n")))
    assert main(["--home", str(home), "predict", str(run_id), "-", "--out", str(target), "--json"]) == 0
    event = json.loads(capsys.readouterr().out)
    assert (event["kind"], event["texts"], event["truncated"]) == ("text", 1, 0)
    assert event["columns"] == ["text", "class", "probability", "P(neg)", "P(pos)"]


@pytest.mark.parametrize(("args", "message"), [
    ([], "give the texts to predict"),
    (["--text", "   "], "--text is empty"),
    (["missing.txt"], "no such file"),
    (["notes.pdf"], "cannot read texts from a .pdf"),
    ([".", "--text", "fine"], "is a folder"),
    (["notes.pdf", "--out", "x.csv", "--text", "fine"], "cannot read texts from a .pdf"),
])
def test_text_predictions_that_cannot_be_made_get_one_clear_message(text_run, tmp_path, capsys, monkeypatch, args, message):
    home, run_id = text_run
    monkeypatch.chdir(tmp_path)
    (tmp_path / "notes.pdf").write_bytes(b"%PDF-1.4")
    assert main(["--home", str(home), "predict", str(run_id), *args]) != 0
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert not (tmp_path / "x.csv").exists()
