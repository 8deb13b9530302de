"""Reading CSV/TSV/JSONL files of texts: which column is the text and which the label, mixed
encodings, long fields, and the files that cannot work (one clear message each)."""

from __future__ import annotations

import csv
import json

import pytest

from studio.core.errors import InvalidInputError
from studio.data.text.reading import decode_text, read_text_table


def write_csv(path, header, rows, delimiter=","):
    with open(path, "w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, delimiter=delimiter)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def test_the_text_and_label_columns_are_found_in_real_reviews_and_said_in_notes(tmp_path, rotten_tomatoes):
    rows = [(i, label, text) for i, (text, label) in enumerate(rotten_tomatoes)]
    table = read_text_table(write_csv(tmp_path / "rt.csv", ["id", "polarity", "sentence"], rows))
    assert (table.text_column, table.label_column) == ("sentence", "polarity")
    assert [(r.text, r.label) for r in table.rows] == [(t, lab) for t, lab in rotten_tomatoes]
    assert table.rows[0].line == 2 and table.rows[-1].line == len(rows) + 1
    assert any("'sentence'" in note and "--text-column" in note for note in table.notes)
    assert any("'polarity'" in note and "--label-column" in note for note in table.notes)


def test_a_column_named_like_labels_wins_and_given_columns_are_used_as_given(tmp_path):
    path = write_csv(tmp_path / "t.tsv", ["text", "notes", "label"],
                     [("a long enough sentence here", "x", "a"), ("another sentence", "y", "b")], delimiter="\t")
    assert read_text_table(path).label_column == "label"
    table = read_text_table(path, text_column="notes", label_column="text")
    assert [(r.text, r.label) for r in table.rows] == [("x", "a long enough sentence here"), ("y", "another sentence")]
    assert table.notes == []


def test_no_label_column_when_nothing_looks_like_one(tmp_path):
    path = write_csv(tmp_path / "t.csv", ["body", "author"], [(f"text number {i}", f"person {i}") for i in range(10)])
    table = read_text_table(path)
    assert (table.text_column, table.label_column) == ("body", None)
    assert {r.label for r in table.rows} == {None}


def test_a_csv_without_the_named_or_any_text_column_is_refused_naming_its_columns(tmp_path):
    path = write_csv(tmp_path / "t.csv", ["review", "stars"], [("good", "5")])
    with pytest.raises(InvalidInputError, match=r"no column 'text' for the text; its columns are: 'review', 'stars'"):
        read_text_table(path, text_column="text")
    numbers = write_csv(tmp_path / "n.csv", ["a", "b"], [("1", "2.5"), ("3", "")])
    with pytest.raises(InvalidInputError, match="no column of text"):
        read_text_table(numbers)
    empty = tmp_path / "e.csv"
    empty.write_bytes(b"")
    with pytest.raises(InvalidInputError, match="empty"):
        read_text_table(empty)
    blank = write_csv(tmp_path / "b.csv", ["review", "stars"], [("", "5"), ("  ", "4")])
    with pytest.raises(InvalidInputError, match="column 'review' of b.csv is empty in every row"):
        read_text_table(blank, text_column="review")
    with pytest.raises(InvalidInputError, match="cannot be the same column"):
        read_text_table(path, text_column="review", label_column="review")


def test_mixed_encodings_are_read_line_by_line_with_the_latin1_lines_named(tmp_path):
    path = tmp_path / "mixed.csv"
    path.write_bytes("text,label\nnaïve café,a\n".encode() + b"caf\xe9 cr\xe8me,b\n" + b"plain,a\n")
    table = read_text_table(path)
    assert [r.text for r in table.rows] == ["naïve café", "café crème", "plain"]
    assert any("1 lines are not valid UTF-8" in note and "(lines 3)" in note for note in table.notes)
    assert decode_text(b"\xef\xbb\xbfbom") == ("bom", False)


def test_a_ten_megabyte_text_is_one_field_kept_whole(tmp_path):
    big = "word " * 2_000_000
    path = write_csv(tmp_path / "big.csv", ["text", "label"], [(big, "long"), ("short one", "short")])
    table = read_text_table(path)
    assert [len(r.text) for r in table.rows] == [len(big.strip()), len("short one")]


def test_jsonl_lines_that_are_not_json_objects_become_rejected_rows(tmp_path):
    path = tmp_path / "t.jsonl"
    lines = [json.dumps({"text": "first text", "label": "a"}), "{not json", "[1, 2]", "",
             json.dumps({"text": 7, "label": "b"}), json.dumps({"text": "  ", "label": "b"}),
             json.dumps({"text": "last", "label": "b", "extra": 1})]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    table = read_text_table(path, text_column="text")
    assert table.label_column == "label"
    got = [(r.line, r.text, r.problem) for r in table.rows]
    assert got[0] == (1, "first text", None) and got[-1] == (7, "last", None)
    problems = {line: problem for line, _, problem in got if problem}
    assert "not valid JSON" in problems[2] and "JSON list" in problems[3]
    assert "not a string" in problems[5] and "empty text" in problems[6]
    garbage = tmp_path / "g.jsonl"
    garbage.write_text("not json\n[1]\n", encoding="utf-8")
    with pytest.raises(InvalidInputError, match="holds no JSON object with a text field"):
        read_text_table(garbage)
    header_only = write_csv(tmp_path / "h.csv", ["text", "label"], [])
    with pytest.raises(InvalidInputError, match="h.csv has no rows of texts"):
        read_text_table(header_only)


def test_windows_line_ends_and_quoted_multiline_texts_keep_their_line_numbers(tmp_path):
    path = tmp_path / "crlf.csv"
    path.write_bytes(b'text,label\r\n"two\r\nlines",a\r\nplain,b\r\n')
    assert [(r.line, r.text, r.label) for r in read_text_table(path).rows] == [(2, "two\nlines", "a"), (4, "plain", "b")]


def test_an_empty_column_named_text_is_refused_not_replaced_by_the_labels(tmp_path):
    path = write_csv(tmp_path / "e.csv", ["text", "label"], [("", "pos"), ("  ", "neg"), ("", "pos")])
    with pytest.raises(InvalidInputError, match="column 'text' of e.csv is empty in every row"):
        read_text_table(path)
    named = read_text_table(write_csv(tmp_path / "n.csv", ["review", "id"], [("ok", "a long identifier value")]))
    assert named.text_column == "review" and "its name" in named.notes[0]
