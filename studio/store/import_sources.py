"""What an import reads: the files under a folder, the entries of a zip, single files, and what
their paths say (class and split).

Layout rules: the folder holding a file names its class; folders called train, val/valid/
validation or test (at any depth) set the split instead and are never class names; files at the
top are unlabelled. Hidden files, __MACOSX and .DS_Store are skipped silently; special files
(FIFOs, devices) are skipped with a note, and links that lead out of the chosen folder are noted.
A zip passes the bomb checks (entries, total size, ratio, overlapping entries) before any entry
is read. Nothing here reads a file's content: the importer's workers do.
"""

from __future__ import annotations

import os
import stat
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from studio.core.jobs import JobState
from studio.core.limits import MiB, Limits, limits
from studio.store.adding import display_text
from studio.store.images import special_file_kind

if TYPE_CHECKING:
    from studio.store.importers import ImportReport

ZIP_RATIO_MIN_BYTES = 1 * MiB  # the ratio limit applies to entries bigger than this

SPLIT_FOLDERS = {
    "train": "train", "training": "train",
    "val": "val", "valid": "val", "validation": "val",
    "test": "test", "testing": "test",
}
SKIP_NAMES = {"__macosx", ".ds_store", "thumbs.db", "desktop.ini", "__pycache__"}


@dataclass(frozen=True)
class Candidate:
    """One file to import: where it came from, how to read it, and what its path says.
    Plain data, so it can be sent to a worker process."""

    source: str  # shown to the user and stored as source_path (valid UTF-8)
    path: str  # the file, or the zip holding the entry (a str with surrogate escapes is fine)
    class_name: str | None
    split: str | None
    entry: int = -1  # index in the zip's infolist; -1 = a plain file


def _is_valid_utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
        return True
    except UnicodeEncodeError:
        return False


def _skipped(name: str) -> bool:
    return name.startswith(".") or name.lower() in SKIP_NAMES


def _layout(folders: list[str]) -> tuple[str | None, str | None]:
    """(class, split) from the folders between the import root and the file."""
    split = None
    class_name = None
    for folder in folders:
        as_split = SPLIT_FOLDERS.get(folder.lower())
        if as_split:
            split = as_split
        else:
            class_name = display_text(folder).strip() or None
    return class_name, split


def _class_problem(class_name: str | None) -> str | None:
    if class_name is None:
        return None
    from studio.store.datasets import name_problem

    problem = name_problem(class_name, "class")
    return f"{problem}; files under it are not imported" if problem else None


def candidates_for(path: Path, report: ImportReport, state: JobState) -> list[Candidate]:
    try:
        st = os.stat(path)
    except OSError as exc:
        report.rejected.append((display_text(str(path)), os_reason(exc, "file")))
        return []
    if stat.S_ISDIR(st.st_mode):
        return list(_walk_folder(path, report, state))
    if not stat.S_ISREG(st.st_mode):  # a FIFO would block the read forever, /dev/zero never ends
        report.rejected.append((display_text(str(path)), f"not a regular file ({special_file_kind(st.st_mode)}); not read"))
        return []
    if zipfile.is_zipfile(path):
        return _zip_candidates(path, report)
    return [_file_candidate(path, class_name=None, split=None, report=report)]


def _file_candidate(path: Path, class_name: str | None, split: str | None, report: ImportReport) -> Candidate:
    text = str(path)
    source = display_text(text)
    if not _is_valid_utf8(text):
        report.warnings.append((source, "file name is not valid UTF-8; stored with U+FFFD in its place"))
    return Candidate(source=source, path=text, class_name=class_name, split=split)


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def _walk_folder(root: Path, report: ImportReport, state: JobState) -> Iterator[Candidate]:
    """Depth-first, sorted (stable order = stable ids); unreadable folders are reported, not fatal."""
    stack: list[tuple[Path, list[str]]] = [(root, [])]
    seen: set[tuple[int, int]] = set()  # (device, inode) of folders walked: links cannot loop us
    real_root = os.path.realpath(root)
    while stack:
        state.check_cancelled()  # a huge tree takes a while to list
        folder, parts = stack.pop()
        try:
            st = os.stat(folder)
            if (st.st_dev, st.st_ino) in seen:
                report.warnings.append((display_text(str(folder)), "folder link seen before; skipped"))
                continue
            seen.add((st.st_dev, st.st_ino))
            with os.scandir(folder) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError as exc:
            report.rejected.append((display_text(str(folder)) + os.sep, os_reason(exc, "folder")))
            continue
        subfolders = []
        for entry in entries:
            if _skipped(entry.name):
                continue
            shown = display_text(entry.path)
            try:
                is_dir = entry.is_dir()
                is_file = entry.is_file()
                mode = entry.stat().st_mode if not (is_dir or is_file) else 0
            except FileNotFoundError:
                report.warnings.append((shown, "broken link; skipped"))
                continue
            except OSError as exc:
                report.rejected.append((shown, os_reason(exc, "file")))
                continue
            if not (is_dir or is_file):
                report.warnings.append((shown, f"{special_file_kind(mode)}, not a file; skipped"))
                continue
            if entry.is_symlink():
                target = os.path.realpath(entry.path)
                if not _inside(target, real_root):
                    what = "folder" if is_dir else "file"
                    report.warnings.append((shown, f"link to a {what} outside the chosen folder "
                                                   f"({display_text(target)}); followed"))
            if is_dir:
                subfolders.append((Path(entry.path), parts + [entry.name]))
            else:
                class_name, split = _layout(parts)
                problem = _class_problem(class_name)
                if problem:
                    report.rejected.append((shown, problem))
                    continue
                yield _file_candidate(Path(entry.path), class_name, split, report)
        stack.extend(reversed(subfolders))


def os_reason(exc: OSError, what: str) -> str:
    if isinstance(exc, PermissionError):
        return f"permission denied: cannot read this {what}"
    return f"cannot read this {what} ({exc.strerror or exc})"


def _zip_candidates(path: Path, report: ImportReport) -> list[Candidate]:
    """The entries to import, after the archive passed the bomb checks (each failure is one
    clear reason: the archive, or the entry, is rejected; nothing is decompressed here)."""
    shown = display_text(str(path))
    lim = limits()
    try:
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
            if len(infos) > lim.max_zip_entries:
                report.rejected.append((shown, f"zip has {len(infos):,} entries, limit {lim.max_zip_entries:,} "
                                               "(setting STUDIO_MAX_ZIP_ENTRIES)"))
                return []
            overlap = _overlapping_entries(zf.fp, infos)
    except (OSError, zipfile.BadZipFile, EOFError) as exc:
        report.rejected.append((shown, f"damaged zip file ({exc})"))
        return []
    if overlap:
        report.rejected.append((shown, f"zip entries overlap ({overlap}): a zip bomb? nothing imported"))
        return []
    files = []
    for index, info in enumerate(infos):
        name = info.filename.replace("\\", "/")
        parts = [p for p in name.split("/") if p]
        source = f"{shown}!/{display_text(info.filename)}"
        if ".." in parts:
            report.rejected.append((source, "entry path contains '..'; not imported"))
            continue
        if info.is_dir() or not parts or any(_skipped(p) for p in parts):
            continue
        files.append((index, info, parts, source))
    total = sum(info.file_size for _, info, _, _ in files)
    if total > lim.max_zip_total_bytes:
        report.rejected.append((shown, f"zip would decompress to {total / MiB:,.0f} MB, limit "
                                       f"{lim.max_zip_total_bytes / MiB:,.0f} MB (setting STUDIO_MAX_ZIP_TOTAL_BYTES)"))
        return []
    # A zip that wraps everything in one top folder: that folder is the archive's name, not a class.
    tops = {parts[0] for _, _, parts, _ in files}
    strip = 1 if len(tops) == 1 and all(len(parts) > 1 for _, _, parts, _ in files) else 0
    out = []
    for index, info, parts, source in sorted(files, key=lambda f: f[1].filename):
        class_name, split = _layout(parts[strip:-1])
        problem = _entry_problem(info, lim) or _class_problem(class_name)
        if problem:
            report.rejected.append((source, problem))
            continue
        out.append(Candidate(source, str(path), class_name, split, entry=index))
    return out


def _entry_problem(info: zipfile.ZipInfo, lim: Limits) -> str | None:
    if info.flag_bits & 0x1:
        return "encrypted zip entry"
    if info.file_size > lim.max_file_bytes:
        return f"file too large ({info.file_size / MiB:,.0f} MB, limit {lim.max_file_bytes / MiB:,.0f} MB)"
    ratio = info.file_size / max(info.compress_size, 1)
    if info.file_size > ZIP_RATIO_MIN_BYTES and ratio > lim.max_zip_ratio:
        return (f"compressed {ratio:,.0f}:1, limit {lim.max_zip_ratio}:1 for entries over 1 MB "
                "(a zip bomb? setting STUDIO_MAX_ZIP_RATIO)")
    return None


def _overlapping_entries(fp, infos: list[zipfile.ZipInfo]) -> str | None:
    """Names of two entries whose compressed data share bytes (the overlapping-file zip bomb:
    many entries pointing at one compressed stream), None when every entry has its own bytes."""
    spans = []
    for info in infos:
        fp.seek(info.header_offset)
        header = fp.read(30)
        if len(header) < 30 or header[:4] != b"PK\x03\x04":
            raise zipfile.BadZipFile(f"bad local header for {info.filename!r}")
        name_len = int.from_bytes(header[26:28], "little")
        extra_len = int.from_bytes(header[28:30], "little")
        start = info.header_offset + 30 + name_len + extra_len
        spans.append((info.header_offset, start + info.compress_size, info.filename))
    spans.sort()
    for (_, end, name), (next_start, _, next_name) in zip(spans, spans[1:]):
        if next_start < end:
            return f"{name!r} and {next_name!r}"
    return None
