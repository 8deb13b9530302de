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


# --- errors that are not the studio's own: one line, --debug for the traceback -----------------


def test_damaged_database_is_one_line_and_debug_shows_the_traceback(tmp_path):
    home = tmp_path / "lib"
    assert studio(home, "datasets", "list").returncode == 0
    (home / "library.db").write_bytes(b"this is not a database file at all" * 100)
    for name in ("library.db-wal", "library.db-shm"):
        (home / name).unlink(missing_ok=True)
    plain = studio(home, "datasets", "list")
    assert plain.returncode == 1
    assert plain.stderr.count("\n") == 1 and "Traceback" not in plain.stderr
    assert plain.stderr.startswith("studio: error: ") and "not a database" in plain.stderr
    assert "--debug" in plain.stderr
    debug = subprocess.run([sys.executable, "-m", "studio", "--debug", "--home", str(home), "datasets", "list"],
                           cwd=REPO, capture_output=True, text=True, timeout=120)
    assert debug.returncode == 1 and "Traceback (most recent call last)" in debug.stderr
    assert debug.stderr.rstrip().splitlines()[-1].startswith("studio: error: ")


@pytest.fixture
def read_only_library(tmp_path):
    """A library on a file system mounted read-only (chmod would not stop root)."""
    mount = tmp_path / "ro"
    mount.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(mount)],
                      capture_output=True).returncode != 0:
        pytest.skip("cannot mount a tmpfs here (needs root)")
    try:
        assert studio(mount / "lib", "datasets", "create", "kept").returncode == 0
        subprocess.run(["mount", "-o", "remount,ro", str(mount)], check=True)
        yield mount / "lib"
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


@pytest.mark.parametrize("args", [("datasets", "list"), ("datasets", "create", "new"), ("doctor",)])
def test_read_only_library_is_one_clear_line(read_only_library, args):
    out = studio(read_only_library, *args)
    assert out.returncode == 1
    assert out.stderr == (f"studio: error: cannot open the library at {read_only_library}: the folder is "
                          "read-only; the studio needs to write there (choose another with --home or STUDIO_HOME)\n")


# --- hostile names and files through the CLI --------------------------------------------------


def test_terminal_escapes_in_names_are_shown_escaped(tmp_path):
    src = tmp_path / "src"
    evil = "\x1b[2J\x1b[31mred"
    (src / evil).mkdir(parents=True)
    img = Image.fromarray(np.full((8, 8), 100, np.uint8))
    img.save(src / evil / "a.png")
    (src / evil / "b\x07.png").write_bytes(b"")
    out = studio(tmp_path / "lib", "import", "esc", str(src))
    assert out.returncode == 0, out.stderr
    assert "\x1b" not in out.stdout and "\x07" not in out.stdout
    assert "\\x1b[2J\\x1b[31mred" in out.stdout and "b\\x07.png" in out.stdout
    shown = studio(tmp_path / "lib", "datasets", "show", "esc")
    assert "\x1b" not in shown.stdout and "\\x1b[31mred" in shown.stdout
    as_json = json_lines(studio(tmp_path / "lib", "datasets", "show", "esc", "--json").stdout)[0]
    assert as_json["classes"][0]["name"] == evil  # JSON keeps the real name (escaped by JSON itself)


@pytest.mark.timeout(120)
def test_import_of_postscript_named_png_ends_quickly_with_a_reason(tmp_path):
    bad = tmp_path / "x.png"  # a PostScript program that loops forever in Ghostscript
    bad.write_bytes(b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 100 100\n{ } loop\nshowpage\n")
    out = studio(tmp_path / "lib", "import", "ps", str(bad), "--json")
    assert out.returncode == 0, out.stderr
    done = json_lines(out.stdout)[-1]
    assert done["added"] == 0
    assert done["rejected"][0]["reason"].startswith("EPS/PostScript files are not decoded")


def test_delete_reports_files_kept_for_an_import_in_progress(tmp_path, digits_folder):
    from studio.store.gc import hold_blobs
    from studio.store.library import Library

    home = tmp_path / "lib"
    assert studio(home, "import", "digits", str(digits_folder)).returncode == 0
    lib = Library.open(home)
    try:
        with hold_blobs(lib, "import"):
            out = studio(home, "datasets", "delete", "digits", "--yes", "--json")
            row = json_lines(out.stdout)[0]
            assert (row["removed_files"], row["deferred_files"]) == (0, 40)
        assert not any(p.is_file() for p in (home / "blobs").rglob("*"))
    finally:
        lib.close()
