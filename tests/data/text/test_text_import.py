"""Importing texts as samples: real reviews from a CSV and a folder of class folders, pasted
lines, and every bad input handled (invalid UTF-8, empty texts, duplicates, a line that is not
JSON, a wrong dataset kind), plus cancel and a full disk leaving nothing half-done."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from studio.core.errors import InvalidInputError, NotFoundError
from studio.core.jobs import JobState
from studio.data.text import importing
from studio.data.text.importing import import_text_files, import_text_lines, import_text_table
from studio.data.text.samples import read_text, read_texts, text_lengths, text_starts
from studio.store.adding import LibraryWriteError
from studio.store.datasets import class_counts, create_dataset, split_counts
from studio.store.models import Sample


def write_reviews_csv(path: Path, reviews) -> Path:
    with open(path, "w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["review", "sentiment"])
        writer.writerows(reviews)
    return path


def write_reviews_folder(root: Path, reviews) -> Path:
    for i, (review, label) in enumerate(reviews):
        split = "test" if i % 5 == 0 else "train"
        folder = root / split / label
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{i:04d}.txt").write_text(review + "\n", encoding="utf-8")
    return root


def rows(lib, dataset_id):
    with lib.session() as s:
        return s.execute(select(Sample.id, Sample.blob, Sample.format, Sample.width, Sample.source_path)
                         .where(Sample.dataset_id == dataset_id).order_by(Sample.id)).all()


def assert_consistent(lib, dataset_id):
    """Every row has its blob file, every blob file a row, every row its word-index entry."""
    blobs = {b for _, b, *_ in rows(lib, dataset_id)}
    on_disk = {p.name for p in lib.blobs.root.glob("??/*") if not p.name.startswith(".")}
    assert on_disk == blobs
    with lib.session() as s:
        indexed = s.execute(text("SELECT count(*) FROM text_search")).scalar()
    assert indexed == len(blobs)


def test_real_reviews_from_a_csv_become_labelled_text_samples(library, text_dataset, rotten_tomatoes, tmp_path):
    path = write_reviews_csv(tmp_path / "rt.csv", rotten_tomatoes)
    seen = []
    report = import_text_table(library, text_dataset, path, state=JobState(on_progress=lambda f, m: seen.append(m)))
    assert (report.added, report.duplicates, report.rejected) == (300, 0, [])
    assert sorted(report.classes_created) == ["neg", "pos"] and seen[-1] == "300/300 texts"
    with library.session() as s:
        assert {c.name: c.count for c in class_counts(s, text_dataset)} == {"neg": 150, "pos": 150}
        assert text_lengths(s, text_dataset).longest == max(len(t) for t, _ in rotten_tomatoes)
    got = rows(library, text_dataset)
    assert {fmt for _, _, fmt, _, _ in got} == {"txt"}
    assert [w for *_, w, _ in got] == [len(t) for t, _ in rotten_tomatoes]
    assert got[0][4] == f"{path}:2"
    assert read_texts(library, [got[0][0], got[-1][0]]) == [rotten_tomatoes[0][0], rotten_tomatoes[-1][0]]
    assert_consistent(library, text_dataset)


def test_a_folder_of_class_folders_sets_classes_and_splits_and_reads_back(library, text_dataset,
                                                                         rotten_tomatoes, tmp_path):
    reviews = rotten_tomatoes[:20] + rotten_tomatoes[-20:]
    root = write_reviews_folder(tmp_path / "reviews", reviews)
    (root / "train" / "pos" / "cover.jpg").write_bytes(b"\xff\xd8 not a text")
    report = import_text_files(library, text_dataset, [root])
    assert report.added == 40 and report.rejected == []
    assert any("1 files that are not .txt were skipped" in why for _, why in report.warnings)
    with library.session() as s:
        assert split_counts(s, text_dataset) == {"train": 32, "val": 0, "test": 8, None: 0}
        assert {c.name: c.count for c in class_counts(s, text_dataset)} == {"neg": 20, "pos": 20}
    by_source = {source: sample_id for sample_id, _, _, _, source in rows(library, text_dataset)}
    first = str(root / "test" / reviews[0][1] / "0000.txt")
    assert read_text(library, by_source[first]) == reviews[0][0]  # the trailing newline is not part of it


def test_a_zip_of_class_folders_imports_like_the_folder(library, text_dataset, tmp_path):
    import zipfile

    with zipfile.ZipFile(tmp_path / "reviews.zip", "w") as zf:
        zf.writestr("reviews/pos/a.txt", "warm and funny")
        zf.writestr("reviews/neg/b.txt", b"flat and l\xe2ng")  # Latin-1 inside a zip too
    report = import_text_files(library, text_dataset, [tmp_path / "reviews.zip"])
    assert report.added == 2 and sorted(report.classes_created) == ["neg", "pos"]
    assert [src.endswith("!/reviews/neg/b.txt") for src, _ in report.warnings] == [True]
    assert sorted(read_texts(library, [r[0] for r in rows(library, text_dataset)])) == ["flat and lâng", "warm and funny"]


def test_many_texts_read_back_in_the_order_asked(library, text_dataset):
    texts = [f"text number {i}" for i in range(5000)]
    import_text_lines(library, text_dataset, texts)
    ids = [r[0] for r in rows(library, text_dataset)]
    assert read_texts(library, ids[::-1]) == texts[::-1]
    with pytest.raises(NotFoundError, match="no text sample with id 999999"):
        read_texts(library, [ids[0], 999999])



def test_text_starts_are_the_texts_starts_and_skip_texts_deleted_meanwhile(library, text_dataset):
    texts = ["ünïcödé " * 300, "short", "x" * 5_000_000]  # multi-byte letters; a 5 MB text
    import_text_lines(library, text_dataset, texts)
    ids = [r[0] for r in rows(library, text_dataset)]
    starts = text_starts(library, [*ids, 999999], 40)
    assert starts == {ids[0]: texts[0][:40].strip(), ids[1]: "short", ids[2]: "x" * 40}


def test_duplicates_in_one_import_and_on_reimport_are_counted_not_added(library, text_dataset, tmp_path):
    path = write_reviews_csv(tmp_path / "d.csv", [("same text", "a"), ("other", "b"), ("  same text ", "b")])
    first = import_text_table(library, text_dataset, path)
    assert (first.added, first.duplicates) == (2, 1)
    again = import_text_table(library, text_dataset, path)
    assert (again.added, again.duplicates) == (0, 3)
    assert_consistent(library, text_dataset)


def test_invalid_utf8_is_read_as_latin1_and_empty_files_are_rejected_with_a_reason(library, text_dataset, tmp_path):
    folder = tmp_path / "texts" / "fr"
    folder.mkdir(parents=True)
    (folder / "latin.txt").write_bytes(b"caf\xe9 cr\xe8me")
    (folder / "empty.txt").write_bytes(b"")
    (folder / "blank.txt").write_bytes(b" \n\t\n")
    (folder / "binary.txt").write_bytes(b"PK\x00\x03")
    report = import_text_files(library, text_dataset, [tmp_path / "texts"])
    assert report.added == 1
    assert read_text(library, rows(library, text_dataset)[0][0]) == "café crème"
    assert report.warnings == [(str(folder / "latin.txt"), "not valid UTF-8; read as Latin-1")]
    reasons = {Path(src).name: why for src, why in report.rejected}
    assert set(reasons) == {"empty.txt", "blank.txt", "binary.txt"}
    assert "empty text" in reasons["blank.txt"] and "NUL" in reasons["binary.txt"]


def test_a_jsonl_line_that_is_not_json_is_rejected_and_the_rest_imported(library, text_dataset, tmp_path):
    path = tmp_path / "t.jsonl"
    path.write_text(json.dumps({"text": "good", "label": "pos"}) + "\n{oops\n"
                    + json.dumps({"text": "bad", "label": "neg"}) + "\n", encoding="utf-8")
    report = import_text_files(library, text_dataset, [path])
    assert report.added == 2
    assert [(src.rsplit(":", 1)[1], "not valid JSON" in why) for src, why in report.rejected] == [("2", True)]


def test_long_texts_are_kept_whole_and_counted(library, text_dataset, tmp_path):
    long_text = "long " * 3000
    path = write_reviews_csv(tmp_path / "l.csv", [(long_text, "a"), ("short", "b")])
    report = import_text_table(library, text_dataset, path, text_column="review", label_column="sentiment")
    assert report.long_texts == 1
    assert any("1 texts are longer than 10,000" in why for _, why in report.warnings)
    assert read_text(library, rows(library, text_dataset)[0][0]) == long_text.strip()


def test_pasted_lines_get_the_class_given_and_blank_ones_a_reason(library, text_dataset):
    report = import_text_lines(library, text_dataset, ["first", "", "second", "first", "broken \ud800 pair"],
                               class_name="pasted")
    assert (report.added, report.duplicates) == (3, 1)
    assert report.rejected == [("pasted:2", "empty text (nothing but whitespace)")]
    with library.session() as s:
        assert [(c.name, c.count) for c in class_counts(s, text_dataset)] == [("pasted", 3)]
    assert read_text(library, rows(library, text_dataset)[-1][0]) == "broken ? pair"
    with pytest.raises(InvalidInputError, match="class name must not be empty"):
        import_text_lines(library, text_dataset, ["x"], class_name="  ")


def test_an_import_racing_another_counts_its_rows_as_duplicates_and_indexes_each_text_once(library, text_dataset):
    texts = [f"shared text {i}" for i in range(10)] + ["only in the slow import"]
    slow = importing._TextImporter(library, text_dataset, JobState(), importing.TextImportReport(), batch_size=500)
    import_text_lines(library, text_dataset, texts[:10])  # commits while the slow import is under way
    slow.run_texts([importing._Text(importing.Candidate(f"pasted:{i}", "", None, None), t) for i, t in enumerate(texts)])
    assert (slow.report.added, slow.report.duplicates) == (1, 10)
    assert_consistent(library, text_dataset)


def test_texts_go_only_into_a_text_dataset(library, tmp_path):
    with library.transaction() as s:
        images = create_dataset(s, "pictures").id
    with pytest.raises(InvalidInputError, match="holds images, not texts"):
        import_text_lines(library, images, ["hello"])


def test_cancel_keeps_what_was_stored_and_leaves_no_file_without_a_row(library, text_dataset, monkeypatch):
    monkeypatch.setattr(importing, "PROGRESS_INTERVAL_S", 0.0)
    state = JobState(on_progress=lambda fraction, message: fraction >= 0.5 and state.cancel())
    report = import_text_lines(library, text_dataset, [f"text {i}" for i in range(1000)], state=state, batch_size=64)
    assert report.cancelled and 0 < report.added < 1000
    assert len(rows(library, text_dataset)) == report.added
    assert_consistent(library, text_dataset)


def test_a_cancel_while_a_table_file_is_read_imports_nothing(library, text_dataset, tmp_path):
    path = write_reviews_csv(tmp_path / "c.csv", [(f"text {i}", "a") for i in range(100)])
    state = JobState(on_progress=lambda fraction, message: message.startswith("reading") and state.cancel())
    report = import_text_table(library, text_dataset, path, state=state)
    assert report.cancelled and report.added == 0 and rows(library, text_dataset) == []


def test_a_full_disk_stops_the_import_and_leaves_nothing_half_done(library, text_dataset, monkeypatch):
    real_write = importing.write_blob
    written = []

    def fill_up(root, data, digest, shards=None):
        if len(written) == 150:
            raise LibraryWriteError("cannot write to the library: the disk is full")
        written.append(digest)
        return real_write(root, data, digest, shards)

    monkeypatch.setattr(importing, "write_blob", fill_up)
    with pytest.raises(LibraryWriteError, match=r"disk is full \(150 texts were imported before\)"):
        import_text_lines(library, text_dataset, [f"text {i}" for i in range(400)], batch_size=64)
    with library.session() as s:
        assert s.scalar(select(func.count(Sample.id))) == 150
    assert_consistent(library, text_dataset)
