"""`studio import` for texts (a CSV with --text-column, a folder with --kind text, lines on stdin with PATH -) and
`studio texts search|show`, run as real subprocesses; images and tables keep importing as before."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def studio(home: Path, *args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, "-m", "studio", "--home", str(home), *args], cwd=REPO,
                          capture_output=True, input=stdin, timeout=300, check=False)
    proc.stdout, proc.stderr = proc.stdout.decode(), proc.stderr.decode()
    return proc


def events(out: str) -> list[dict]:
    return [json.loads(line) for line in out.splitlines()]


def test_a_csv_a_folder_and_pasted_lines_become_one_searchable_text_dataset(tmp_path):
    home = tmp_path / "lib"
    csv_file = tmp_path / "reviews.csv"
    csv_file.write_text('id,body,stars\n1,"A gripping, moving film",good\n2,a dull film,bad\n3,,bad\n', encoding="utf-8")
    done = studio(home, "import", "reviews", str(csv_file), "--text-column", "body", "--label-column", "stars", "--json")
    assert done.returncode == 0, done.stderr
    result = events(done.stdout)
    assert result[0] == {"event": "created", "dataset": "reviews", "dataset_id": 1}
    assert (result[-1]["kind"], result[-1]["added"], len(result[-1]["rejected"])) == ("text", 2, 1)
    assert sorted(result[-1]["classes_created"]) == ["bad", "good"]

    folder = tmp_path / "more" / "train" / "good"
    folder.mkdir(parents=True)
    (folder / "a.txt").write_text("a moving story\n", encoding="utf-8")
    added = studio(home, "import", "reviews", str(tmp_path / "more"))  # the dataset holds texts: no --kind needed
    assert added.returncode == 0 and "added 1 texts" in added.stdout, added.stderr

    pasted = studio(home, "import", "reviews", "-", "--class", "good", stdin=b"moving pictures\n\nfilm noir\n")
    assert pasted.returncode == 0 and "added 2 texts, duplicates 0, rejected 0" in pasted.stdout, pasted.stderr

    found = studio(home, "texts", "search", "reviews", "moving", "--json")
    assert found.returncode == 0, found.stderr
    hits = events(found.stdout)
    assert {h["preview"] for h in hits} == {"A gripping, moving film", "a moving story", "moving pictures"}
    assert {h["class"] for h in hits} == {"good"}
    assert "no text holds every word" in studio(home, "texts", "search", "reviews", "AND \"(").stdout

    shown = events(studio(home, "texts", "show", "reviews", "--json").stdout)[0]
    assert (shown["texts"], shown["classes"], shown["splits"]["train"]) == (5, {"good": 4, "bad": 1}, 1)
    whole = studio(home, "texts", "show", "reviews", "--id", str(hits[0]["id"]))
    assert whole.stdout == hits[0]["preview"] + "\n"


def test_text_options_that_do_not_fit_get_one_clear_message(tmp_path):
    home = tmp_path / "lib"
    csv_file = tmp_path / "numbers.csv"
    csv_file.write_text("a,b\n1,2\n", encoding="utf-8")
    cases = [
        (["import", "t", str(csv_file), "--text-column", "body"], "no column 'body' for the text"),
        (["import", "t", str(csv_file), "--kind", "text"], "no column of text"),
        (["import", "t", str(tmp_path), "--class", "x"], "--class applies to texts read from stdin"),
        (["import", "t", str(tmp_path), "-"], "give no other PATH"),
        (["import", "t"], "the following arguments are required: PATH"),
        (["import", "t", str(tmp_path), "--label-column", "x"], "apply to one CSV, TSV or JSONL file"),
        (["import", "t", str(csv_file), "--kind", "text", "--target", "a"], "apply to table files"),
        (["import", "t", str(csv_file), "--kind", "image"], "--kind image imports images"),
        (["texts", "search", "nothing", "x"], "no dataset named 'nothing'"),
    ]
    for args, message in cases:
        proc = studio(home, *args)
        assert proc.returncode != 0 and message in proc.stderr, (args, proc.stderr)
    from studio.data.tables.demos import DEMO_TABLES

    penguins = str(DEMO_TABLES["penguins"].path)
    table = studio(home, "import", "nums", penguins, "--json")  # a CSV without text options is a table
    assert table.returncode == 0 and events(table.stdout)[-1]["kind"] == "table", table.stderr
    refused = studio(home, "texts", "show", "nums")
    assert refused.returncode != 0 and "holds tables, not texts" in refused.stderr
