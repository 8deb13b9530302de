"""Imports fed hostile or odd input for real: zip bombs, long class names, special files, links
out of the folder, '..' entries, a full disk. Each ends with one clear reason and loses nothing."""

from __future__ import annotations

import os
import subprocess
import zipfile
from pathlib import Path

import pytest
from sqlalchemy import select

from hostile import EPS_LOOP, HTML_PAGE, overlapping_zip, real_png, zeros_zip
from imagefactory import digit_png, write_digit_tree
from studio.core.limits import Limits, MiB, set_limits
from studio.store.gc import check_library
from studio.store.importers import LibraryWriteError, import_files, import_path
from studio.store.models import LabelClass, Sample


def samples(lib, dataset_id) -> list[Sample]:
    with lib.session() as s:
        return list(s.scalars(select(Sample).where(Sample.dataset_id == dataset_id).order_by(Sample.id)))


def reasons(report) -> dict[str, str]:
    return {Path(src.split("!/")[-1]).name if "!/" in src else Path(src).name: why for src, why in report.rejected}


@pytest.fixture
def custom_limits():
    yield lambda **kw: set_limits(Limits(**kw))
    set_limits(None)


# --- bad files among good ones -----------------------------------------------------------------


def test_hostile_files_are_rejected_and_the_rest_imports(library, dataset_id, tmp_path):
    import numpy as np
    from PIL import Image

    src = tmp_path / "src"
    write_digit_tree(src, 6)
    (src / "0" / "x.png").write_bytes(EPS_LOOP)
    (src / "0" / "page.jpg").write_bytes(HTML_PAGE)
    (src / "0" / "noise.png").write_bytes(np.random.default_rng(1).integers(0, 256, 2048, dtype=np.uint8).tobytes())
    real_png(src / "0" / "bomb.png", 20000, 20000)
    Image.new("L", (1, 1), 7).save(src / "0" / "one.png")
    report = import_path(library, dataset_id, src)
    why = reasons(report)
    assert report.added == 7, report.to_dict()  # 6 digits and the 1-pixel image
    assert why["x.png"].startswith("EPS/PostScript files are not decoded")
    assert why["page.jpg"] == "not an image file (text?)"
    assert why["noise.png"] == "not an image file (unknown format)"
    assert why["bomb.png"].startswith("image too large (20000x20000 pixels")
    one = next(r for r in samples(library, dataset_id) if r.source_path.endswith("one.png"))
    assert (one.width, one.height) == (1, 1)
    assert check_library(library).healthy  # no blob for any rejected file


# --- class names -------------------------------------------------------------------------------


def test_overlong_class_folder_rejects_only_its_files(library, dataset_id, tmp_path):
    src = tmp_path / "src"
    write_digit_tree(src, 40)
    long_name = "c" * 230
    (src / long_name).mkdir()
    for i in range(3):
        (src / long_name / f"{i}.png").write_bytes(digit_png(500 + i))
    report = import_path(library, dataset_id, src)
    assert report.added == 40
    assert len(report.rejected) == 3
    assert all("class name is too long (230 characters, at most 200)" in why for _, why in report.rejected)
    with library.session() as s:
        assert long_name not in set(s.scalars(select(LabelClass.name)))


def test_overlong_class_folder_in_a_zip_rejects_only_its_files(library, dataset_id, tmp_path):
    archive = tmp_path / "set.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for i in range(10):
            zf.writestr(f"ok/{i}.png", digit_png(i))
        zf.writestr(f"{'z' * 250}/a.png", digit_png(99))
    report = import_path(library, dataset_id, archive)
    assert report.added == 10
    assert [why for _, why in report.rejected] == [
        "class name is too long (250 characters, at most 200); files under it are not imported"]


# --- zip bombs -------------------------------------------------------------------------------


def test_zip_of_overlapping_entries_is_refused_unread(library, dataset_id, tmp_path):
    """250 directory entries sharing one deflated 16 MB stream: a 16 KB zip that unzips to 4 GB."""
    bomb = overlapping_zip(tmp_path / "bomb.zip", entries=250, entry_bytes=16 * MiB)
    assert bomb.stat().st_size < 200_000
    with zipfile.ZipFile(bomb) as zf:  # a real archive: the standard library lists all 250
        assert sum(i.file_size for i in zf.infolist()) == 250 * 16 * MiB
    report = import_path(library, dataset_id, bomb)
    assert report.added == 0
    assert len(report.rejected) == 1
    assert "zip entries overlap" in report.rejected[0][1]


def test_zip_over_the_total_budget_is_refused(library, dataset_id, tmp_path, custom_limits):
    archive = zeros_zip(tmp_path / "big.zip", {f"a/{i}.bmp": 900_000 for i in range(12)})
    custom_limits(max_zip_total_bytes=10 * MiB)
    report = import_path(library, dataset_id, archive)
    assert report.added == 0
    assert report.rejected[0][1].startswith("zip would decompress to 10 MB, limit 10 MB")


def test_zip_entry_over_the_ratio_is_refused_and_the_rest_imports(library, dataset_id, tmp_path):
    archive = tmp_path / "mixed.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        for i in range(5):
            zf.writestr(f"d/{i}.png", digit_png(i))
        zf.writestr("d/zeros.bmp", b"\x00" * (40 * MiB))  # 40 MB in about 40 KB
    report = import_path(library, dataset_id, archive)
    assert report.added == 5
    (source, why), = report.rejected
    assert source.endswith("zeros.bmp") and "limit 100:1" in why and "STUDIO_MAX_ZIP_RATIO" in why


def test_zip_entries_with_dot_dot_are_reported(library, dataset_id, tmp_path):
    archive = tmp_path / "sneaky.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("cats/a.png", digit_png(1))
        zf.writestr("../../etc/b.png", digit_png(2))
    report = import_path(library, dataset_id, archive)
    assert report.added == 1
    assert report.rejected == [(f"{archive}!/../../etc/b.png", "entry path contains '..'; not imported")]


# --- special files and links -------------------------------------------------------------------


@pytest.mark.timeout(60)
def test_fifo_in_a_folder_is_skipped_with_a_note(library, dataset_id, tmp_path):
    src = tmp_path / "src"
    write_digit_tree(src, 5)
    os.mkfifo(src / "0" / "pipe.png")
    report = import_path(library, dataset_id, src)
    assert report.added == 5 and report.rejected == []
    assert [(Path(s).name, why) for s, why in report.warnings] == [("pipe.png", "a FIFO, not a file; skipped")]


@pytest.mark.timeout(60)
def test_fifo_or_dev_zero_passed_directly_are_rejected_at_once(library, dataset_id, tmp_path):
    fifo = tmp_path / "pipe.png"
    os.mkfifo(fifo)
    good = tmp_path / "good.png"
    good.write_bytes(digit_png(4))
    report = import_files(library, dataset_id, [fifo, Path("/dev/zero"), good])
    assert report.added == 1
    assert report.rejected == [(str(fifo), "not a regular file (a FIFO); not read"),
                               ("/dev/zero", "not a regular file (a character device); not read")]


def test_link_leaving_the_folder_is_noted(library, dataset_id, tmp_path):
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "far.png").write_bytes(digit_png(8))
    src = tmp_path / "src"
    write_digit_tree(src, 4)
    os.symlink(outside / "far.png", src / "0" / "link.png")
    os.symlink("/etc/passwd", src / "0" / "passwd.png")
    os.symlink(src / "1", src / "0" / "inside")  # stays inside: no note (a loop guard covers it)
    report = import_path(library, dataset_id, src)
    notes = {Path(s).name: why for s, why in report.warnings}
    assert notes["link.png"] == f"link to a file outside the chosen folder ({outside / 'far.png'}); followed"
    assert notes["passwd.png"].startswith("link to a file outside the chosen folder (/etc/passwd)")
    assert "inside" not in notes
    assert reasons(report)["passwd.png"] == "not an image file (text?)"
    assert report.added == 5


# --- the library cannot be written -------------------------------------------------------------


@pytest.fixture
def small_fs(tmp_path):
    """A real, small file system (tmpfs) to fill up; needs root (CAP_SYS_ADMIN)."""
    mount = tmp_path / "small"
    mount.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount)],
                      capture_output=True).returncode != 0:
        pytest.skip("cannot mount a small tmpfs here (needs root)")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)


def _noise_pngs(folder: Path, count: int, side: int = 48) -> None:
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    for i in range(count):
        (folder / str(i % 3)).mkdir(parents=True, exist_ok=True)
        Image.fromarray(rng.integers(0, 256, (side, side, 3), dtype=np.uint8)).save(folder / str(i % 3) / f"{i}.png")


@pytest.mark.timeout(120)
@pytest.mark.parametrize("side,count,fails", [(48, 400, "database"), (512, 12, "blob file")])
def test_full_disk_stops_the_import_with_one_reason_and_leaves_no_debris(small_fs, tmp_path, side, count, fails):
    """Images into a 2 MB file system: 7 KB ones fill it so the database write fails first,
    800 KB ones so a blob write fails first (the third; the empty library takes 176 KB). Either
    way the import stops with one clear reason (not "cannot read this file"), committed rows keep
    their files, and no temp file or orphan blob is left."""
    from studio.store.datasets import create_dataset
    from studio.store.library import Library

    src = tmp_path / "src"
    _noise_pngs(src, count, side)
    lib = Library.open(small_fs / "lib")
    try:
        with lib.transaction() as s:
            ds = create_dataset(s, "big").id
        with pytest.raises(LibraryWriteError) as caught:
            import_path(lib, ds, src, batch_size=20)
        message = str(caught.value)
        if fails == "database":
            assert message.startswith("import stopped: cannot write to the library database (database or disk is full)")
        else:
            assert message.startswith(f"import stopped: cannot write to the library at {small_fs / 'lib'}: the disk is full")
        assert "cannot read" not in message
        check = check_library(lib)
        assert check.rows_without_files == [] and check.temp_files == []
        assert check.files_without_rows == []
        assert check.samples == len(samples(lib, ds))
    finally:
        lib.close()


# --- kill -9 -----------------------------------------------------------------------------------


def _processes_mentioning(text: str) -> list[int]:
    found = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
                state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
            except OSError:
                continue
            if text in cmdline and state != "Z":
                found.append(int(proc.name))
    return found


@pytest.mark.timeout(180)
def test_kill_9_of_an_import_leaves_no_worker_processes_and_no_dangling_rows(library, dataset_id, tmp_path):
    import json
    import signal
    import sys
    import time

    write_digit_tree(tmp_path / "src", 1500)
    home = str(library.home)
    proc = subprocess.Popen([sys.executable, "-m", "studio", "--home", home, "import", "test set",
                             str(tmp_path / "src"), "--json", "--batch-size", "25"],
                            cwd=Path(__file__).resolve().parents[2], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    for line in proc.stdout:
        event = json.loads(line)
        if event.get("event") == "progress" and 0.05 <= event["fraction"] < 0.9:
            break
    assert len(_processes_mentioning(home)) >= 2  # the importer and its worker processes
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    deadline = time.monotonic() + 60  # the workers notice within a second; allow a slow machine
    while _processes_mentioning(home) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _processes_mentioning(home) == []
    check = check_library(library)
    assert check.rows_without_files == [] and check.samples > 0
    again = import_path(library, dataset_id, tmp_path / "src")  # the dead hold defers nothing
    assert again.added + check.samples == 1500
    assert check_library(library).rows_without_files == []


@pytest.mark.timeout(120)
def test_import_pool_without_fork_as_in_the_app(library, dataset_id, tmp_path, custom_limits, monkeypatch):
    """The app has Qt threads, so its pool starts through the fork server (or spawn): the same
    result, including the large-decode budget shared by the worker processes."""
    import threading

    import studio.store.importers as importers

    custom_limits(import_pool_min_files=1, import_workers=2, large_decode_bytes=1000)
    real_count = threading.active_count
    monkeypatch.setattr(importers.threading, "active_count", lambda: real_count() + 1)
    assert importers._mp_context().get_start_method() in ("forkserver", "spawn")
    write_digit_tree(tmp_path / "src", 30)
    (tmp_path / "src" / "0" / "x.png").write_bytes(EPS_LOOP)
    report = import_path(library, dataset_id, tmp_path / "src")
    assert report.added == 30 and report.warnings == []
    assert reasons(report)["x.png"].startswith("EPS/PostScript")
    assert check_library(library).healthy
