"""`studio datasets ...` and `studio import ...` run as real subprocesses, as users script them."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

REPO = Path(__file__).resolve().parents[2]


def studio(home: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "studio", "--home", str(home), *args],
        cwd=REPO, capture_output=True, text=True, input=stdin if stdin is not None else "", timeout=300,
    )


def json_lines(out: str) -> list[dict]:
    return [json.loads(line) for line in out.splitlines() if line.strip()]


@pytest.fixture(scope="module")
def digits_folder(tmp_path_factory) -> Path:
    """40 sklearn digits in class folders (train/ and test/ split folders) plus one bad file."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    root = tmp_path_factory.mktemp("digits")
    for i in range(40):
        folder = root / ("test" if i % 4 == 0 else "train") / str(digits.target[i])
        folder.mkdir(parents=True, exist_ok=True)
        img = Image.fromarray((digits.images[i] * 15.9).astype(np.uint8)).resize((28, 28))
        buf = io.BytesIO()
        img.save(buf, "PNG")
        (folder / f"{i}.png").write_bytes(buf.getvalue())
    (root / "train" / "0" / "broken.png").write_bytes(b"")
    return root


def test_create_list_import_show_split_delete(tmp_path, digits_folder):
    home = tmp_path / "lib"
    created = studio(home, "datasets", "create", "digits", "--json")
    assert created.returncode == 0, created.stderr
    (row,) = json_lines(created.stdout)
    assert row["name"] == "digits" and row["kind"] == "image"

    imported = studio(home, "import", "digits", str(digits_folder), "--json")
    assert imported.returncode == 0, imported.stderr
    events = json_lines(imported.stdout)
    assert all(e["event"] in ("progress", "done") for e in events)
    assert events[-2]["event"] == "progress" and events[-2]["fraction"] == 1.0
    done = events[-1]
    assert done["event"] == "done" and done["added"] == 40 and done["duplicates"] == 0
    assert done["rejected"] == [{"source": str(digits_folder / "train" / "0" / "broken.png"),
                                 "reason": "empty file (0 bytes)"}]
    assert done["splits_seen"] == {"test": 10, "train": 30}

    again = json_lines(studio(home, "import", "digits", str(digits_folder), "--json").stdout)[-1]
    assert (again["added"], again["duplicates"]) == (0, 40)

    listed = studio(home, "datasets", "list", "--json")
    assert listed.returncode == 0
    (summary,) = json_lines(listed.stdout)
    assert summary["name"] == "digits" and summary["samples"] == 40 and summary["labelled"] == 40
    assert set(summary) == {"id", "name", "kind", "samples", "labelled", "classes", "created_at"}

    shown = json_lines(studio(home, "datasets", "show", "digits", "--json").stdout)[0]
    assert sum(c["count"] for c in shown["classes"]) == 40
    assert shown["splits"] == {"train": 30, "val": 0, "test": 10, "none": 0}

    split = studio(home, "datasets", "split", "digits", "--train", "0.5", "--val", "0.25", "--test", "0.25", "--json")
    assert split.returncode == 0, split.stderr
    counts = json_lines(split.stdout)[0]
    assert counts["train"] + counts["val"] + counts["test"] == 40 and counts["val"] >= 5

    refused = studio(home, "datasets", "delete", "digits")  # stdin is not a terminal
    assert refused.returncode != 0
    assert "without --yes" in refused.stderr and len(refused.stderr.strip().splitlines()) == 1

    deleted = studio(home, "datasets", "delete", "digits", "--yes", "--json")
    assert deleted.returncode == 0, deleted.stderr
    assert json_lines(deleted.stdout)[0]["deleted_samples"] == 40
    assert json_lines(deleted.stdout)[0]["removed_files"] == 40
    assert studio(home, "datasets", "list", "--json").stdout == ""


def test_import_creates_a_missing_dataset_and_prints_a_summary(tmp_path, digits_folder):
    home = tmp_path / "lib"
    result = studio(home, "import", "fresh", str(digits_folder))
    assert result.returncode == 0, result.stderr
    assert "created dataset 'fresh'" in result.stdout
    assert "added 40, duplicates 0, rejected 1" in result.stdout
    assert "empty file (0 bytes)" in result.stdout
    assert "importing [" in result.stderr  # the progress bar


def test_import_no_create_refuses_unknown_dataset(tmp_path, digits_folder):
    result = studio(tmp_path / "lib", "import", "nope", str(digits_folder), "--no-create")
    assert result.returncode == 1
    assert result.stderr.startswith("studio: error: no dataset named 'nope'")


def test_missing_path_is_one_clear_line(tmp_path):
    home = tmp_path / "lib"
    result = studio(home, "import", "digits", str(tmp_path / "nowhere"), "--json")
    assert result.returncode == 1
    assert result.stderr.strip() == f"studio: error: no such file or folder: {tmp_path / 'nowhere'}"
    assert result.stdout == ""
    assert studio(home, "datasets", "list", "--json").stdout == ""  # no dataset was created


@pytest.mark.parametrize(
    "args, message",
    [
        (("datasets", "show", "ghost"), "no dataset named 'ghost'"),
        (("datasets", "rename", "ghost", "x"), "no dataset named 'ghost'"),
        (("datasets", "create", " "), "dataset name must not be empty"),
        (("datasets", "split", "a", "--train", "0.9", "--val", "0.2", "--test", "0.1"), "must sum to 1"),
    ],
)
def test_bad_input_exits_non_zero_with_one_line(tmp_path, args, message):
    home = tmp_path / "lib"
    assert studio(home, "datasets", "create", "a").returncode == 0
    result = studio(home, *args)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("studio: error: ") and message in lines[0]


def test_rename_then_list_text(tmp_path):
    home = tmp_path / "lib"
    studio(home, "datasets", "create", "old")
    renamed = studio(home, "datasets", "rename", "old", "new name")
    assert renamed.returncode == 0 and "renamed dataset 'old' to 'new name'" in renamed.stdout
    listed = studio(home, "datasets", "list")
    assert "new name" in listed.stdout and "old" not in listed.stdout
