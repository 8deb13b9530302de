"""`studio evaluate RUN` on a text run, as a real subprocess: the report of an image run (accuracy,
per-class table, confusion matrix, the surest mistakes, each shown by the start of its text), and
--json with the kind and the scores."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "train" / "text"))
from text_runs import shared_text_library

REPO = Path(__file__).resolve().parents[2]


def studio(home: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "studio", "--home", str(home), *args], cwd=REPO,
                          capture_output=True, text=True, timeout=300, check=False)


@pytest.fixture(scope="module")
def text_run(tmp_path_factory):
    """A copy of the shared library: evaluating stores the predictions in it."""
    home, run_id = shared_text_library(tmp_path_factory)
    copy = tmp_path_factory.mktemp("text-evaluate-cli") / "library"
    shutil.copytree(home, copy)
    return copy, run_id


def test_evaluate_a_text_run_prints_the_report_with_the_mistaken_texts(text_run):
    from studio.data.text.samples import read_text
    from studio.store.library import Library

    home, run_id = text_run
    shown = studio(home, "evaluate", str(run_id))
    assert shown.returncode == 0, shown.stderr
    as_json = studio(home, "evaluate", str(run_id), "--split", "test", "--json")
    assert as_json.returncode == 0, as_json.stderr
    result = json.loads(as_json.stdout.splitlines()[0])
    assert (result["kind"], result["split"], result["classes"]) == ("text", "test", ["neg", "pos"])
    assert sum(map(sum, result["confusion_matrix"])) == result["samples"] == result["labelled"] > 40

    out = shown.stdout
    assert f"run {run_id} on test: {result['samples']} texts" in out
    assert f"accuracy {result['accuracy']:.4f} ({result['labelled']} labelled)" in out
    for row, counts in zip(result["per_class"], result["confusion_matrix"]):
        assert re.search(rf"{row['class']}\s+{row['precision']:.3f}\s+{row['recall']:.3f}\s+{row['f1']:.3f}\s+{row['support']}", out)
        assert re.search(rf"{row['class']}\s+" + r"\s+".join(str(c) for c in counts), out)
    mistakes = re.findall(r"text (\d+) “(.*)”: labelled (\w+), predicted (\w+) \(([\d.]+)%\)", out)
    assert mistakes, out  # the run gets some test texts wrong
    lib = Library.open(home)
    try:
        for sample_id, start, truth, guess, _confidence in mistakes:
            text = " ".join(read_text(lib, int(sample_id)).split())
            assert text.startswith(start.rstrip("…")) and truth != guess
    finally:
        lib.close()
    confidences = [float(m[4]) for m in mistakes]
    assert confidences == sorted(confidences, reverse=True)
    assert "predictions stored for the labelling view" in out
