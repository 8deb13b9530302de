"""`studio samples|label|classes|problems|suggestions`: in-process through studio.cli.main, plus
real subprocesses for the JSON contract and the error path."""

from __future__ import annotations

import io
import json
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image
from sqlalchemy import insert, select

from studio.cli import main
from studio.store.library import Library
from studio.store.models import Dataset, Prediction, Run, Sample


@pytest.fixture
def lib_home(home):
    """A library with dataset "pets": 6 samples, classes cat (2 samples) and dog (1)."""
    lib = Library.open(home)
    from studio.store import classes as store_classes
    from studio.store import labelling as store_labelling

    with lib.transaction() as s:
        ds = Dataset(name="pets")
        s.add(ds)
        s.flush()
        s.execute(insert(Sample), [
            {"dataset_id": ds.id, "blob": f"b{i}", "source_path": f"/src/{i}.png",
             "split": "train" if i < 4 else None}
            for i in range(6)
        ])
        ids = list(s.scalars(select(Sample.id).order_by(Sample.id)))
        cat = store_classes.add_class(s, ds.id, "cat").id
        dog = store_classes.add_class(s, ds.id, "dog").id
        store_labelling.set_labels(s, ds.id, ids[:2], cat)
        store_labelling.set_labels(s, ds.id, ids[2:3], dog)
    lib.close()
    return home, ids


def run_cli(home, *argv) -> int:
    return main(["--home", str(home), *argv])


def json_lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def labels(home) -> dict[int, str | None]:
    lib = Library.open(home)
    from studio.store.models import LabelClass

    with lib.session() as s:
        rows = s.execute(select(Sample.id, LabelClass.name).outerjoin(LabelClass, LabelClass.id == Sample.class_id))
        out = dict(rows.all())
    lib.close()
    return out


def test_samples_list_filters(lib_home, capsys):
    home, ids = lib_home
    assert run_cli(home, "samples", "list", "pets", "--json") == 0
    rows = json_lines(capsys.readouterr().out)
    assert [r["id"] for r in rows] == ids
    assert rows[0] == {"id": ids[0], "class": "cat", "split": "train", "source_path": "/src/0.png",
                       "labelled_by": "user"}
    assert run_cli(home, "samples", "list", "pets", "--class", "CAT", "--json") == 0
    assert [r["id"] for r in json_lines(capsys.readouterr().out)] == ids[:2]
    assert run_cli(home, "samples", "list", "pets", "--unlabelled", "--split", "none", "--json") == 0
    assert [r["id"] for r in json_lines(capsys.readouterr().out)] == ids[4:]
    assert run_cli(home, "samples", "list", "pets", "--split", "train", "--unlabelled") == 0
    out = capsys.readouterr()
    assert out.out.split("\t")[0] == str(ids[3]) and "1 sample(s)" in out.err


def test_label_and_unlabel(lib_home, capsys):
    home, ids = lib_home
    assert run_cli(home, "label", "pets", "--class", "dog", str(ids[0]), str(ids[4]), "--json") == 0
    assert json_lines(capsys.readouterr().out) == [
        {"event": "labelled", "dataset": "pets", "class": "dog", "requested": 2, "changed": 2}]
    assert labels(home)[ids[0]] == "dog" and labels(home)[ids[4]] == "dog"
    assert run_cli(home, "label", "pets", "--none", str(ids[0])) == 0
    assert "1 of 1 sample(s) unlabelled" in capsys.readouterr().out
    assert labels(home)[ids[0]] is None
    assert run_cli(home, "label", "pets", "--class", "bird", "--create", str(ids[5])) == 0
    assert labels(home)[ids[5]] == "bird"


def test_label_reads_ids_from_stdin(lib_home, capsys, monkeypatch):
    home, ids = lib_home
    monkeypatch.setattr(sys, "stdin", io.StringIO(f"{ids[3]}\n{ids[4]}\n"))
    assert run_cli(home, "label", "pets", "--class", "cat", "-") == 0
    got = labels(home)
    assert got[ids[3]] == "cat" and got[ids[4]] == "cat"


@pytest.mark.parametrize("argv, message", [
    (("label", "pets", "--class", "horse", "1"), "no class 'horse'"),
    (("label", "pets", "--class", "cat", "abc"), "whole numbers"),
    (("label", "pets", "--class", "cat", "99999"), "not in this dataset"),
    (("label", "nosuch", "--class", "cat", "1"), "no dataset named 'nosuch'"),
    (("classes", "add", "pets", "Cat"), "already exists"),
    (("classes", "add", "pets", "x", "--colour", "blue"), "#rrggbb"),
    (("classes", "merge", "pets", "cat", "cat"), "itself"),
    (("classes", "reorder", "pets", "cat"), "every class"),
    (("classes", "delete", "pets", "cat"), "add --yes"),
    (("samples", "list", "pets", "--class", "cat", "--unlabelled"), "either --class or --unlabelled"),
    (("suggestions", "pets"), "no run has stored predictions"),
])
def test_bad_input_one_clear_line_and_nothing_changes(lib_home, capsys, monkeypatch, argv, message):
    home, ids = lib_home
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))  # not a tty: delete must not ask
    before = labels(home)
    assert run_cli(home, *argv) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("studio: error: ") and message in err[0]
    assert labels(home) == before


def test_classes_add_rename_recolour_reorder_merge_delete(lib_home, capsys):
    home, ids = lib_home
    assert run_cli(home, "classes", "add", "pets", "bird", "--colour", "#00FF00", "--json") == 0
    added = json_lines(capsys.readouterr().out)[0]
    assert (added["event"], added["name"], added["colour"], added["position"], added["count"]) == (
        "added", "bird", "#00ff00", 2, 0)
    assert run_cli(home, "classes", "rename", "pets", "bird", "parrot") == 0
    assert run_cli(home, "classes", "recolour", "pets", "parrot", "#112233") == 0
    assert run_cli(home, "classes", "reorder", "pets", "parrot", "dog", "cat") == 0
    capsys.readouterr()
    assert run_cli(home, "classes", "list", "pets", "--json") == 0
    listed = json_lines(capsys.readouterr().out)
    assert [(c["name"], c["position"], c["count"]) for c in listed] == [("parrot", 0, 0), ("dog", 1, 1), ("cat", 2, 2)]
    assert listed[0]["colour"] == "#112233"
    assert run_cli(home, "classes", "merge", "pets", "dog", "cat", "--json") == 0
    merged = json_lines(capsys.readouterr().out)[0]
    assert (merged["name"], merged["count"]) == ("cat", 3)
    assert run_cli(home, "classes", "delete", "pets", "cat", "--yes", "--json") == 0
    assert json_lines(capsys.readouterr().out)[0]["unlabelled"] == 3
    assert set(labels(home).values()) == {None}


def test_problems_reports_counts_small_classes_and_duplicates(lib_home, capsys):
    home, ids = lib_home
    lib = Library.open(home)
    from sklearn.datasets import load_digits

    digit = (load_digits().images[0] * 15).astype(np.uint8)
    with lib.transaction() as s:
        ds = s.scalar(select(Dataset.id))
        for fmt in ("PNG", "BMP"):  # the same pixels in two files: an exact duplicate
            buf = io.BytesIO()
            Image.fromarray(np.kron(digit, np.ones((4, 4), np.uint8))).save(buf, format=fmt)
            digest = lib.blobs.put(buf.getvalue())
            s.add(Sample(dataset_id=ds, blob=digest, format=fmt.lower(), width=32, height=32))
    lib.close()
    assert run_cli(home, "problems", "pets", "--duplicates", "--json") == 0
    events = json_lines(capsys.readouterr().out)
    counts = {e["class"]: e for e in events if e["event"] == "counts"}
    assert counts["cat"]["train"] == 2 and counts["(unlabelled)"]["none"] == 4
    small = {e["class"]: e["reasons"] for e in events if e["event"] == "small_class"}
    assert "only 2 samples (at least 10 needed)" in small["cat"] and "no val sample" in small["dog"]
    kinds = sorted(e["kind"] for e in events if e["event"] == "duplicates")
    assert kinds == ["exact", "near"]


def test_suggestions_list_and_accept(lib_home, capsys):
    home, ids = lib_home
    lib = Library.open(home)
    with lib.transaction() as s:
        run = Run(dataset_id=s.scalar(select(Dataset.id)), name="r", status="completed")
        s.add(run)
        s.flush()
        s.execute(insert(Prediction), [
            {"run_id": run.id, "sample_id": ids[0], "class_name": "dog", "confidence": 0.9},
            {"run_id": run.id, "sample_id": ids[4], "class_name": "cat", "confidence": 0.8},
            {"run_id": run.id, "sample_id": ids[5], "class_name": "dog", "confidence": 0.3},
        ])
    lib.close()
    assert run_cli(home, "suggestions", "pets", "--order", "disagreement", "--json") == 0
    rows = json_lines(capsys.readouterr().out)
    assert rows[0]["sample_id"] == ids[0] and rows[0]["disagrees"] and rows[0]["current"] == "cat"
    assert run_cli(home, "suggestions", "pets", "--min-confidence", "0.5", "--accept", "--json") == 0
    assert json_lines(capsys.readouterr().out)[-1] == {"event": "accepted", "run_id": 1, "changed": 1}
    got = labels(home)
    assert got[ids[0]] == "cat" and got[ids[4]] == "cat" and got[ids[5]] is None


def test_real_subprocess_json_and_error(lib_home):
    home, ids = lib_home
    cmd = [sys.executable, "-m", "studio", "--home", str(home)]
    ok = subprocess.run(cmd + ["classes", "list", "pets", "--json"], capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0, ok.stderr
    assert [c["name"] for c in json_lines(ok.stdout)] == ["cat", "dog"]
    bad = subprocess.run(cmd + ["label", "pets", "--class", "nope", str(ids[0])],
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode == 1 and bad.stdout == ""
    assert bad.stderr.strip().splitlines() == [
        "studio: error: no class 'nope' in this dataset (classes: cat, dog)"]
