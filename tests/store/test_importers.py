"""import_path / import_files: layouts, duplicates, interruption, and every kind of bad input."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import func, select

from imagefactory import digit_label, digit_png, encode, photo, write_digit_tree
from studio.core.errors import NotFoundError
from studio.core.jobs import JobState
from studio.store.importers import import_files, import_path
from studio.store.models import LabelClass, Sample

from test_images import png_with_header

REPO = Path(__file__).resolve().parents[2]


def samples(lib, dataset_id) -> list[Sample]:
    with lib.session() as s:
        return list(s.scalars(select(Sample).where(Sample.dataset_id == dataset_id).order_by(Sample.id)))


def class_of(lib) -> dict[int, str]:
    with lib.session() as s:
        return dict(s.execute(select(LabelClass.id, LabelClass.name)).all())


def labels_by_source(lib, dataset_id) -> dict[str, tuple[str | None, str | None]]:
    names = class_of(lib)
    return {Path(r.source_path).name: (names.get(r.class_id), r.split) for r in samples(lib, dataset_id)}


def assert_every_row_has_its_file(lib) -> None:
    with lib.session() as s:
        blobs = list(s.scalars(select(Sample.blob)))
    missing = [b for b in blobs if not lib.blobs.path(b).is_file()]
    assert not missing, f"{len(missing)} rows point at missing blob files"


def zip_folder(folder: Path, out: Path, prefix: str = "") -> Path:
    with zipfile.ZipFile(out, "w") as zf:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                zf.write(path, prefix + path.relative_to(folder).as_posix())
    return out


# --- layouts -----------------------------------------------------------------------------------


def test_folder_of_class_folders(library, dataset_id, tmp_path):
    per_class = write_digit_tree(tmp_path / "src", 60)
    report = import_path(library, dataset_id, tmp_path / "src")
    assert report.added == 60 and report.duplicates == 0 and report.rejected == []
    assert sorted(report.classes_created) == sorted(per_class)
    rows = samples(library, dataset_id)
    names = class_of(library)
    counted: dict[str, int] = {}
    for r in rows:
        counted[names[r.class_id]] = counted.get(names[r.class_id], 0) + 1
        assert r.labelled_by == "import" and r.split is None
        assert (r.format, r.width, r.height, r.channels) == ("png", 28, 28, 1)
        assert r.byte_size == lib_file_size(library, r.blob)
        assert r.phash is None  # computed lazily, when near-duplicates are first looked for
    assert counted == per_class
    from studio.store.duplicates import compute_missing_phashes

    assert compute_missing_phashes(library, dataset_id) == 60
    assert all(r.phash is not None and len(r.phash) == 16 for r in samples(library, dataset_id))
    # the class of each file is the folder it came from
    for name, (cls, _) in labels_by_source(library, dataset_id).items():
        assert cls == digit_label(int(name[:5]))


def lib_file_size(lib, blob: str) -> int:
    return lib.blobs.path(blob).stat().st_size


def test_flat_folder_is_unlabelled(library, dataset_id, tmp_path):
    src = tmp_path / "flat"
    src.mkdir()
    for i in range(12):
        (src / f"{i}.png").write_bytes(digit_png(i))
    report = import_path(library, dataset_id, src)
    assert report.added == 12 and report.classes_created == []
    assert all(r.class_id is None and r.labelled_by == "" for r in samples(library, dataset_id))


def test_zip_of_class_folders_with_a_wrapping_folder(library, dataset_id, tmp_path):
    per_class = write_digit_tree(tmp_path / "src", 30)
    archive = zip_folder(tmp_path / "src", tmp_path / "digits.zip", prefix="digits/")
    report = import_path(library, dataset_id, archive)
    assert report.added == 30 and report.rejected == []
    assert sorted(report.classes_created) == sorted(per_class)  # "digits" is not a class
    assert all(r.source_path.startswith(str(archive) + "!/digits/") for r in samples(library, dataset_id))


def test_zip_of_a_flat_folder(library, dataset_id, tmp_path):
    src = tmp_path / "flat"
    src.mkdir()
    for i in range(8):
        (src / f"{i}.png").write_bytes(digit_png(i))
    report = import_path(library, dataset_id, zip_folder(src, tmp_path / "flat.zip"))
    assert report.added == 8 and report.classes_created == []
    assert all(r.class_id is None for r in samples(library, dataset_id))


def test_split_folders_are_honoured_at_any_level(library, dataset_id, tmp_path):
    src = tmp_path / "src"
    layout = {
        "train/cat/a.png": ("cat", "train"),
        "validation/cat/b.png": ("cat", "val"),
        "dog/test/c.png": ("dog", "test"),
        "dog/valid/d.png": ("dog", "val"),
        "Test/e.png": (None, "test"),
        "f.png": (None, None),
    }
    for i, rel in enumerate(layout):
        (src / rel).parent.mkdir(parents=True, exist_ok=True)
        (src / rel).write_bytes(digit_png(i))
    report = import_path(library, dataset_id, src)
    assert report.added == len(layout)
    assert sorted(report.classes_created) == ["cat", "dog"]
    got = labels_by_source(library, dataset_id)
    assert got == {Path(rel).name: want for rel, want in layout.items()}
    assert report.splits_seen == {"train": 1, "val": 2, "test": 2, "none": 1}


def test_single_file_and_mixed_drop(library, dataset_id, tmp_path):
    write_digit_tree(tmp_path / "folder", 10, start=100)
    single = tmp_path / "one.png"
    single.write_bytes(digit_png(500))
    report = import_files(library, dataset_id, [single, tmp_path / "folder"])
    assert report.added == 11
    rows = samples(library, dataset_id)
    assert rows[0].source_path == str(single) and rows[0].class_id is None


def test_hidden_files_and_macos_debris_are_skipped_silently(library, dataset_id, tmp_path):
    src = tmp_path / "src"
    write_digit_tree(src, 5)
    (src / ".DS_Store").write_bytes(b"\x00\x00\x00\x01Bud1")
    (src / "__MACOSX").mkdir()
    (src / "__MACOSX" / "._0.png").write_bytes(b"junk")
    (src / ".hidden.png").write_bytes(digit_png(9))
    report = import_path(library, dataset_id, src)
    assert report.added == 5 and report.rejected == [] and report.duplicates == 0


# --- duplicates and re-runs --------------------------------------------------------------------


def test_reimport_adds_only_what_is_missing(library, dataset_id, tmp_path):
    write_digit_tree(tmp_path / "src", 40)
    first = import_path(library, dataset_id, tmp_path / "src")
    assert (first.added, first.duplicates) == (40, 0)
    write_digit_tree(tmp_path / "src", 10, start=40)  # 10 new files beside the old ones
    second = import_path(library, dataset_id, tmp_path / "src")
    assert (second.added, second.duplicates) == (10, 40)
    assert second.classes_created == [c for c in second.classes_created if c not in first.classes_created]
    assert len(samples(library, dataset_id)) == 50


def test_same_bytes_twice_in_one_import_is_one_sample(library, dataset_id, tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "a.png").write_bytes(digit_png(1))
    (src / "b.png").write_bytes(digit_png(1))
    report = import_path(library, dataset_id, src)
    assert (report.added, report.duplicates) == (1, 1)


def test_same_file_in_two_datasets_shares_one_blob(library, dataset_id, tmp_path):
    from studio.store.datasets import create_dataset

    write_digit_tree(tmp_path / "src", 5)
    with library.transaction() as s:
        other = create_dataset(s, "other").id
    assert import_path(library, dataset_id, tmp_path / "src").added == 5
    assert import_path(library, other, tmp_path / "src").added == 5  # not a duplicate there


# --- interruption ------------------------------------------------------------------------------


class CancelAfter(JobState):
    """A caller that presses Cancel after ``n`` files."""

    def __init__(self, n: int):
        super().__init__()
        self.n = n
        self.checks = 0

    def check_cancelled(self) -> None:
        self.checks += 1
        if self.checks > self.n:
            self.cancel()
        super().check_cancelled()


def test_cancel_keeps_what_was_committed_and_a_rerun_completes(library, dataset_id, tmp_path, monkeypatch):
    import studio.store.importers as importers

    # One file per task: at most max(2 x 50, 4 x workers) files are in flight when Cancel comes,
    # so some of the 300 are certainly left for the re-run.
    monkeypatch.setattr(importers, "TASK_FILES", 1)
    monkeypatch.setattr(importers.os, "cpu_count", lambda: 2)
    write_digit_tree(tmp_path / "src", 300)
    state = CancelAfter(120)
    report = import_path(library, dataset_id, tmp_path / "src", state, batch_size=50)
    assert report.cancelled
    assert 110 <= report.added <= 220  # 120 checks, a few of them while walking the folders
    assert len(samples(library, dataset_id)) == report.added
    assert_every_row_has_its_file(library)
    rest = import_path(library, dataset_id, tmp_path / "src")
    assert not rest.cancelled
    assert rest.added + report.added == 300 and rest.duplicates == report.added
    assert_every_row_has_its_file(library)


def test_import_killed_with_sigkill_leaves_no_dangling_rows(library, dataset_id, tmp_path):
    from studio.store.library import Library

    total = 1500
    write_digit_tree(tmp_path / "src", total)
    home = str(library.home)
    cmd = [sys.executable, "-m", "studio", "--home", home, "import", "test set", str(tmp_path / "src"),
           "--json", "--batch-size", "25"]
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        for line in proc.stdout:
            event = json.loads(line)
            if event.get("event") == "progress" and 0.05 <= event["fraction"] < 0.9:
                break
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    lib = Library.open(home)
    try:
        committed = len(samples(lib, dataset_id))
        print("committed before kill:", committed)
        assert 0 < committed < total, committed  # killed mid-way, after some batches
        assert_every_row_has_its_file(lib)
        report = import_path(lib, dataset_id, tmp_path / "src")
        assert report.duplicates == committed and report.added == total - committed
        assert len(samples(lib, dataset_id)) == total
        assert_every_row_has_its_file(lib)
    finally:
        lib.close()


# --- bad input: each gives one clear reason, the rest still imports ----------------------------


def import_with_bad_file(library, dataset_id, tmp_path, name: str, data: bytes):
    src = tmp_path / "src"
    write_digit_tree(src, 6)
    (src / "0" / name).write_bytes(data)
    report = import_path(library, dataset_id, src)
    assert report.added == 6, report.to_dict()
    return report


def single_reason(report, name: str) -> str:
    matching = [why for source, why in report.rejected if source.endswith(name)]
    assert len(report.rejected) == 1 and len(matching) == 1, report.rejected
    return matching[0]


def test_zero_byte_file_is_rejected(library, dataset_id, tmp_path):
    report = import_with_bad_file(library, dataset_id, tmp_path, "empty.png", b"")
    assert single_reason(report, "empty.png") == "empty file (0 bytes)"


def test_truncated_png_is_rejected(library, dataset_id, tmp_path):
    data = encode(photo("astronaut"), "PNG")
    report = import_with_bad_file(library, dataset_id, tmp_path, "cut.png", data[: len(data) // 3])
    assert single_reason(report, "cut.png").startswith("truncated or damaged PNG file")


def test_truncated_jpeg_is_rejected(library, dataset_id, tmp_path):
    data = encode(photo("astronaut"), "JPEG", quality=90)
    report = import_with_bad_file(library, dataset_id, tmp_path, "cut.jpg", data[: len(data) // 2])
    assert single_reason(report, "cut.jpg").startswith("truncated or damaged JPEG file")


def test_text_file_named_jpg_is_rejected(library, dataset_id, tmp_path):
    report = import_with_bad_file(library, dataset_id, tmp_path, "notes.jpg", b"hello, this is text\n")
    assert single_reason(report, "notes.jpg") == "not an image file (text?)"


def test_decompression_bomb_is_rejected(library, dataset_id, tmp_path):
    """A real bomb: 20000 x 20000 grey with every row in its compressed stream (not a header)."""
    from hostile import real_png

    data = real_png(tmp_path / "made.png", 20000, 20000).read_bytes()
    report = import_with_bad_file(library, dataset_id, tmp_path, "bomb.png", data)
    assert single_reason(report, "bomb.png").startswith("image too large (20000x20000 pixels")


def test_rejected_file_leaves_no_blob(library, dataset_id, tmp_path):
    import hashlib

    data = encode(photo("camera"), "PNG")[:5000]
    import_with_bad_file(library, dataset_id, tmp_path, "cut.png", data)
    assert not library.blobs.path(hashlib.sha256(data).hexdigest()).exists()


@pytest.mark.parametrize("case", ["cmyk_jpeg", "png16", "palette_transparent", "animated_gif", "exif_rotated"])
def test_unusual_but_valid_images_are_imported(library, dataset_id, tmp_path, case):
    import numpy as np

    astronaut = photo("astronaut").resize((64, 48))
    if case == "cmyk_jpeg":
        data, want = encode(astronaut.convert("CMYK"), "JPEG"), ("jpeg", 64, 48, 3)
    elif case == "png16":
        arr = (np.arange(40 * 30, dtype=np.uint32).reshape(30, 40) * 50).astype(np.uint16)
        data, want = encode(Image.fromarray(arr), "PNG"), ("png", 40, 30, 1)
    elif case == "palette_transparent":
        pal = astronaut.convert("P", palette=Image.Palette.ADAPTIVE, colors=16)
        data, want = encode(pal, "PNG", transparency=0), ("png", 64, 48, 4)
    elif case == "animated_gif":
        frames = [astronaut.rotate(a) for a in (0, 90, 180)]
        data = encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=40)
        want = ("gif", 64, 48, 3)
    else:
        exif = Image.Exif()
        exif[0x0112] = 8
        data, want = encode(astronaut, "JPEG", exif=exif.tobytes()), ("jpeg", 48, 64, 3)
    src = tmp_path / "src"
    write_digit_tree(src, 3)
    (src / "odd").mkdir()
    (src / "odd" / f"{case}.img").write_bytes(data)
    report = import_path(library, dataset_id, src)
    assert report.added == 4 and report.rejected == []
    row = next(r for r in samples(library, dataset_id) if r.source_path.endswith(f"{case}.img"))
    assert (row.format, row.width, row.height, row.channels) == want


def test_unreadable_folder_is_reported_and_the_rest_imports(library, dataset_id, tmp_path):
    src = tmp_path / "src"
    write_digit_tree(src, 8)
    locked = src / "locked"
    locked.mkdir()
    (locked / "x.png").write_bytes(digit_png(77))
    locked.chmod(0)
    try:
        if os.access(locked, os.R_OK):
            pytest.skip("running with rights that read a chmod 000 folder (root)")
        report = import_path(library, dataset_id, src)
    finally:
        locked.chmod(0o755)
    assert report.added == 8
    assert report.rejected == [(str(locked) + os.sep, "permission denied: cannot read this folder")]


def test_unreadable_folder_reported_even_as_root(library, dataset_id, tmp_path, monkeypatch):
    """The same path through the importer with the permission error injected (root reads anything)."""
    import studio.store.importers as importers

    src = tmp_path / "src"
    write_digit_tree(src, 8)
    locked = src / "locked"
    locked.mkdir()
    (locked / "x.png").write_bytes(digit_png(77))
    real_scandir = os.scandir

    def scandir(path):
        if Path(path) == locked:
            raise PermissionError(13, "Permission denied", str(path))
        return real_scandir(path)

    monkeypatch.setattr(importers.os, "scandir", scandir)
    report = import_path(library, dataset_id, src)
    assert report.added == 8
    assert report.rejected == [(str(locked) + os.sep, "permission denied: cannot read this folder")]


def test_non_utf8_file_name_is_imported_and_reported(library, dataset_id, tmp_path):
    src = tmp_path / "src"
    write_digit_tree(src, 4)
    bad_name = os.path.join(os.fsencode(src / "0"), b"caf\xe9.png")  # latin-1 bytes, not UTF-8
    with open(bad_name, "wb") as fh:
        fh.write(digit_png(1234))
    report = import_path(library, dataset_id, src)
    assert report.added == 5 and report.rejected == []
    assert len(report.warnings) == 1 and report.warnings[0][0].endswith("caf\ufffd.png")
    assert "not valid UTF-8" in report.warnings[0][1]
    row = next(r for r in samples(library, dataset_id) if r.source_path.endswith("caf\ufffd.png"))
    assert class_of(library)[row.class_id] == "0"
    json.dumps(report.to_dict())  # the report is printable as JSON


def test_missing_path_is_a_clear_error(library, dataset_id, tmp_path):
    with pytest.raises(NotFoundError, match="no such file or folder: .*not-here"):
        import_path(library, dataset_id, tmp_path / "not-here")
    assert samples(library, dataset_id) == []


def test_missing_dataset_is_a_clear_error(library, tmp_path):
    write_digit_tree(tmp_path / "src", 2)
    with pytest.raises(NotFoundError, match="no dataset with id 999"):
        import_path(library, 999, tmp_path / "src")


def test_damaged_zip_is_reported(library, dataset_id, tmp_path):
    archive = zip_folder(write_tree_and_return(tmp_path / "src"), tmp_path / "d.zip")
    data = bytearray(archive.read_bytes())
    # corrupt the first member's compressed bytes (after its 30-byte local header and name)
    start = 30 + len(zipfile.ZipFile(archive).infolist()[0].filename)
    data[start : start + 40] = b"\xff" * 40
    archive.write_bytes(bytes(data))
    report = import_path(library, dataset_id, archive)
    assert report.added == 3 and len(report.rejected) == 1
    assert "damaged" in report.rejected[0][1] or "truncated" in report.rejected[0][1]


def write_tree_and_return(root: Path) -> Path:
    write_digit_tree(root, 4)
    return root


def test_progress_is_reported(library, dataset_id, tmp_path):
    write_digit_tree(tmp_path / "src", 20)
    seen: list[tuple[float, str]] = []
    import_path(library, dataset_id, tmp_path / "src", JobState(on_progress=lambda f, m: seen.append((f, m))))
    assert seen[0][0] == 0.0 and seen[-1] == (1.0, "20/20 files")
    assert [f for f, _ in seen] == sorted(f for f, _ in seen)


def test_folder_import_does_not_change_the_source(library, dataset_id, tmp_path):
    write_digit_tree(tmp_path / "src", 10)
    before = sorted((p.name, p.stat().st_size) for p in (tmp_path / "src").rglob("*"))
    import_path(library, dataset_id, tmp_path / "src")
    after = sorted((p.name, p.stat().st_size) for p in (tmp_path / "src").rglob("*"))
    assert before == after
    shutil.rmtree(tmp_path / "src")
    assert_every_row_has_its_file(library)  # the library holds its own copies
    with library.session() as s:
        assert s.scalar(select(func.count(Sample.id))) == 10


def test_folder_link_loop_is_walked_once(library, dataset_id, tmp_path):
    src = tmp_path / "src"
    write_digit_tree(src, 6)
    (src / "0" / "again").symlink_to(src, target_is_directory=True)
    report = import_path(library, dataset_id, src)
    assert report.added == 6 and report.rejected == []
    assert any("seen before" in why for _, why in report.warnings)


def test_equal_files_in_two_class_folders_keep_the_first_label(library, dataset_id, tmp_path):
    src = tmp_path / "src"
    for folder in ("a_first", "b_second"):
        (src / folder).mkdir(parents=True)
        for i in range(30):
            (src / folder / f"{i:02d}.png").write_bytes(digit_png(i))
    report = import_path(library, dataset_id, src)
    assert (report.added, report.duplicates) == (30, 30)
    assert report.classes_created == ["a_first"]
    assert {cls for cls, _ in labels_by_source(library, dataset_id).values()} == {"a_first"}


def test_cancel_while_finding_files_adds_nothing(library, dataset_id, tmp_path):
    write_digit_tree(tmp_path / "src", 20)
    state = JobState()
    state.cancel()
    report = import_path(library, dataset_id, tmp_path / "src", state)
    assert report.cancelled and report.added == 0
    assert samples(library, dataset_id) == []


def test_one_missing_path_in_a_drop_imports_nothing(library, dataset_id, tmp_path):
    write_digit_tree(tmp_path / "src", 5)
    with pytest.raises(NotFoundError, match="gone.png"):
        import_files(library, dataset_id, [tmp_path / "src", tmp_path / "gone.png"])
    assert samples(library, dataset_id) == []


def test_relative_path_is_stored_absolute(library, dataset_id, tmp_path, monkeypatch):
    write_digit_tree(tmp_path / "src", 3)
    monkeypatch.chdir(tmp_path)
    import_path(library, dataset_id, "src")
    assert all(Path(r.source_path).is_absolute() and Path(r.source_path).exists()
               for r in samples(library, dataset_id))


def test_zip_with_split_and_class_folders(library, dataset_id, tmp_path):
    write_digit_tree(tmp_path / "src", 20, splits=True)
    report = import_path(library, dataset_id, zip_folder(tmp_path / "src", tmp_path / "s.zip"))
    assert report.added == 20 and report.splits_seen == {"test": 4, "train": 16}
    assert "train" not in report.classes_created and "test" not in report.classes_created


def test_rows_committed_meanwhile_by_another_import_count_as_duplicates(library, dataset_id, tmp_path):
    """Another import (say the CLI while the GUI imports) adds one of our files and one of our
    classes after we started: our batch must not fail on the unique constraints."""
    import hashlib

    from studio.store.datasets import get_or_create_class

    write_digit_tree(tmp_path / "src", 30)
    first_file = sorted((tmp_path / "src" / "0").iterdir())[0]
    digest = hashlib.sha256(first_file.read_bytes()).hexdigest()

    class OtherImportMeanwhile(JobState):
        done = False

        def check_cancelled(self) -> None:
            if not self.done:
                self.done = True
                with library.transaction() as s:
                    cid = get_or_create_class(s, dataset_id, "0").id
                    s.add(Sample(dataset_id=dataset_id, blob=digest, class_id=cid))
                library.blobs.put(first_file.read_bytes())
            super().check_cancelled()

    report = import_path(library, dataset_id, tmp_path / "src", OtherImportMeanwhile())
    assert (report.added, report.duplicates) == (29, 1) and report.rejected == []
    assert "0" not in report.classes_created
    assert len(samples(library, dataset_id)) == 30
    assert_every_row_has_its_file(library)
