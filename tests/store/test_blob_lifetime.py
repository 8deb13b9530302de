"""Blob files are shared between datasets: no interleaving of import, delete and capture may
leave a row pointing at a missing file. Run with real concurrent processes, and `studio doctor`."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import func, select

from imagefactory import digit_png, write_digit_tree
from studio.store.datasets import create_dataset, delete_dataset
from studio.store.gc import check_library, collect_garbage, hold_blobs, queued_count, take_hold
from studio.store.importers import import_path
from studio.store.models import BlobHold, Sample

REPO = Path(__file__).resolve().parents[2]


def rows_without_files(lib) -> list[str]:
    with lib.session() as s:
        blobs = list(s.scalars(select(Sample.blob)))
    return [b for b in blobs if not lib.blobs.path(b).is_file()]


def count(lib, dataset_id) -> int:
    with lib.session() as s:
        return s.scalar(select(func.count(Sample.id)).where(Sample.dataset_id == dataset_id))


@pytest.mark.timeout(300)
def test_deleting_a_dataset_while_another_process_imports_the_same_images(library, tmp_path):
    """The review's case: A holds the images; `studio import B` (another process) brings in the
    same folder; A is deleted half-way. Every row of B must keep its file."""
    total = 1500
    src = tmp_path / "src"
    write_digit_tree(src, total)
    with library.transaction() as s:
        a = create_dataset(s, "A").id
    assert import_path(library, a, src).added == total
    cmd = [sys.executable, "-m", "studio", "--home", str(library.home), "import", "B", str(src),
           "--json", "--batch-size", "25"]
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deleted_at = None
    try:
        for line in proc.stdout:
            event = json.loads(line)
            if event.get("event") == "progress" and 0.02 <= event["fraction"] < 0.7 and deleted_at is None:
                deleted_at = event["fraction"]
                removed_now = delete_dataset(library, a)  # B's rows are only partly committed
        out, err = proc.communicate(timeout=240)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert deleted_at is not None, "the import finished before the delete could interleave"
    print(f"deleted A at {deleted_at:.0%} of B's import; files removed then: {removed_now}")
    with library.session() as s:
        b = s.scalar(select(Sample.dataset_id).distinct())
    assert count(library, b) == total
    assert rows_without_files(library) == []
    assert removed_now == 0  # every file is B's too (and B's import held them)
    assert queued_count(library) == 0  # the collection ran when B's import ended
    assert check_library(library).healthy


def test_files_only_the_deleted_dataset_used_are_removed_once_the_import_ends(library, tmp_path):
    write_digit_tree(tmp_path / "a", 30)
    write_digit_tree(tmp_path / "b", 10, start=100)
    with library.transaction() as s:
        a, b = create_dataset(s, "A").id, create_dataset(s, "B").id
    import_path(library, a, tmp_path / "a")
    a_files = {p.name for p in library.blobs.root.rglob("*") if p.is_file()}
    with hold_blobs(library, "test import"):  # an import in progress in this process
        assert delete_dataset(library, a) == 0  # deferred: nothing removed under a hold
        assert queued_count(library) == 30
        import_path(library, b, tmp_path / "b")
        assert all(library.blobs.path(d).exists() for d in a_files)
    assert queued_count(library) == 0
    assert not any(library.blobs.path(d).exists() for d in a_files)
    assert rows_without_files(library) == [] and count(library, b) == 10


def test_hold_of_a_killed_process_is_dropped(library, tmp_path):
    """kill -9 of an import leaves its hold row; the next collection sees the process is gone."""
    code = ("import os, sys; from studio.store.library import Library; from studio.store.gc import take_hold; "
            "take_hold(Library.open(sys.argv[1]), 'import'); os._exit(9)")
    done = subprocess.run([sys.executable, "-c", code, str(library.home)], cwd=REPO, capture_output=True, text=True)
    assert done.returncode == 9, done.stderr
    with library.session() as s:
        assert s.scalar(select(func.count(BlobHold.id))) == 1
    write_digit_tree(tmp_path / "a", 5)
    with library.transaction() as s:
        a = create_dataset(s, "A").id
    import_path(library, a, tmp_path / "a")
    assert delete_dataset(library, a) == 5  # the dead hold defers nothing
    with library.session() as s:
        assert s.scalar(select(func.count(BlobHold.id))) == 0


def test_capture_takes_a_hold_and_lands_with_its_file(library):
    from studio.store.adding import add_image

    with library.transaction() as s:
        ds = create_dataset(s, "cam").id
    take_hold(library, "another import")  # a live hold (this process) defers removals only
    sample_id, added = add_image(library, ds, digit_png(3), source="capture:now", labelled_by="capture")
    assert added and rows_without_files(library) == []


# --- studio doctor -----------------------------------------------------------------------------


def studio(home: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "studio", "--home", str(home), *args],
                          cwd=REPO, capture_output=True, text=True, timeout=120)


def test_doctor_reports_and_cleans(library, dataset_id, tmp_path):
    write_digit_tree(tmp_path / "src", 8)
    import_path(library, dataset_id, tmp_path / "src")
    blobs = sorted(p for p in library.blobs.root.rglob("*") if p.is_file())
    lost = blobs[0]
    lost.unlink()  # a row without its file
    orphan = library.blobs.put(digit_png(777))  # a file without a row
    leftover = library.blobs.root / orphan[:2] / f".{orphan}.123.tmp"
    leftover.write_bytes(b"half a file")
    home = library.home

    checked = studio(home, "doctor", "--json")
    assert checked.returncode == 1, checked.stderr
    report = json.loads(checked.stdout)
    assert [r["blob"] for r in report["rows_without_files"]] == [lost.name]
    assert report["rows_without_files"][0]["dataset"] == "test set"
    assert report["files_without_rows"] == [orphan]
    assert report["temp_files"] == [str(leftover)]

    human = studio(home, "doctor")
    assert "1 sample rows whose image file is missing" in human.stdout
    assert "1 image files no sample uses" in human.stdout

    cleaned = studio(home, "doctor", "--clean", "--json")
    report = json.loads(cleaned.stdout)
    assert (report["cleaned_files"], report["cleaned_temp_files"]) == (1, 1)
    assert report["files_without_rows"] == [] and report["temp_files"] == []
    assert cleaned.returncode == 1  # the row without a file is still there
    assert not library.blobs.path(orphan).exists() and not leftover.exists()

    dropped = studio(home, "doctor", "--clean", "--drop-missing", "--json")
    report = json.loads(dropped.stdout)
    assert dropped.returncode == 0 and report["healthy"] and report["dropped_rows"] == 1
    assert report["samples"] == 7


def test_doctor_does_not_clean_under_an_import_in_progress(library, dataset_id):
    orphan = library.blobs.put(digit_png(5))  # as if an import had written it, rows to come
    with hold_blobs(library, "import"):
        out = studio(library.home, "doctor", "--clean")
        assert "not cleaned: an import is in progress" in out.stdout
        assert library.blobs.path(orphan).exists()
    collect_garbage(library)
    assert library.blobs.path(orphan).exists()  # never queued: only doctor --clean removes it
    assert studio(library.home, "doctor", "--clean").returncode == 0
    assert not library.blobs.path(orphan).exists()
