"""`studio import DATASET table.csv`, `studio columns`, `studio demo` and `studio datasets show|split`
for a table, run as real subprocesses."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from studio.data.tables.demos import DEMO_TABLES

REPO = Path(__file__).resolve().parents[2]
PENGUINS = DEMO_TABLES["penguins"].path


def studio(home: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "studio", "--home", str(home), *args],
                          cwd=REPO, capture_output=True, text=True, timeout=300)


def last_json(out: str) -> dict:
    return json.loads(out.strip().splitlines()[-1])


def test_import_a_csv_with_target_ignore_and_type_then_change_a_column(tmp_path):
    home = tmp_path / "lib"
    done = studio(home, "import", "peng", str(PENGUINS), "--target", "species", "--ignore", "year",
                  "--type", "island=category", "--json")
    assert done.returncode == 0, done.stderr
    events = [json.loads(line) for line in done.stdout.splitlines()]
    assert events[0]["event"] == "progress" and events[-1]["event"] == "done"
    result = events[-1]
    assert (result["kind"], result["rows"], result["task"]) == ("table", 344, "classification")
    roles = {c["name"]: c["role"] for c in result["columns"]}
    assert roles["species"] == "target" and roles["year"] == "ignore"

    changed = studio(home, "columns", "peng", "--set", "year", "--role", "feature", "--json")
    assert changed.returncode == 0, changed.stderr
    assert {c["name"]: c["role"] for c in last_json(changed.stdout)["columns"]}["year"] == "feature"

    refused = studio(home, "columns", "peng", "--set", "sex", "--type", "number")
    assert refused.returncode != 0 and "cannot be a number" in refused.stderr and "'male'" in refused.stderr

    split = studio(home, "datasets", "split", "peng", "--train", "0.5", "--val", "0.25", "--test", "0.25", "--json")
    assert split.returncode == 0, split.stderr
    counts = last_json(split.stdout)
    assert counts["train"] + counts["val"] + counts["test"] == 344 and abs(counts["train"] - 172) <= 3

    shown = last_json(studio(home, "datasets", "show", "peng", "--json").stdout)
    assert shown["splits"] == {k: counts[k] for k in ("train", "val", "test")} and shown["file"] == "penguins.csv"


def test_table_options_on_images_and_bad_files_get_one_clear_message(tmp_path):
    home = tmp_path / "lib"
    folder = tmp_path / "pictures"
    folder.mkdir()
    wrong = studio(home, "import", "pics", str(folder), "--target", "x")
    assert wrong.returncode != 0 and "apply to table files" in wrong.stderr
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    failed = studio(home, "import", "e", str(empty))
    assert failed.returncode != 0 and "empty" in failed.stderr and "Traceback" not in failed.stderr
    listed = studio(home, "datasets", "list", "--json")
    assert listed.stdout.strip() == ""  # no dataset was created


def test_demo_tables_ship_with_the_studio(tmp_path):
    home = tmp_path / "lib"
    added = studio(home, "demo", "xor", "--json")
    assert added.returncode == 0, added.stderr
    shown = last_json(studio(home, "datasets", "show", "Demo xor", "--json").stdout)
    assert shown["rows"] == 4
    assert shown["targets"] == ["xor"]
