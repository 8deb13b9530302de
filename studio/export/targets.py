"""Where an export (or a saved kernel output) may write: never over a file it does not own unless
the user passed --force, never through a symlink unless asked (--follow-symlinks), and always
through a fresh temporary file beside the target that is then renamed onto it, so a crash
leaves the old file whole and a planted ``*.tmp`` symlink is never written through."""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from pathlib import Path

from studio.core.errors import InvalidInputError

FORCE_HINT = "pass --force to replace it"
SYMLINK_HINT = "name the real file, or pass --follow-symlinks to write where the link points"


def output_path(raw: str | os.PathLike, *, follow_symlinks: bool) -> Path:
    """The absolute path the user named. A symlink is refused, or with ``follow_symlinks``
    resolved to where it points; folders above it are taken as they are."""
    path = Path(raw).expanduser().absolute()
    if path.is_symlink():
        if not follow_symlinks:
            raise InvalidInputError(f"{path} is a symbolic link to {os.readlink(path)}", hint=SYMLINK_HINT)
        return path.resolve()
    return path


class TargetExists(InvalidInputError):
    """An existing file that is not ours would be replaced: the GUI asks, the CLI wants --force."""

    def __init__(self, path: Path) -> None:
        super().__init__(f"{path} already exists", hint=FORCE_HINT)
        self.path = path


def check_target(path: Path, *, force: bool, follow_symlinks: bool, owned: Callable[[Path], bool] | None = None) -> Path:
    """``path`` if it may be written: absent, ours (``owned``), or ``force``. A symlink is refused
    (or followed when asked, and the file it points to is checked instead)."""
    if path.is_symlink():
        if not follow_symlinks:
            raise InvalidInputError(f"{path} is a symbolic link to {os.readlink(path)}", hint=SYMLINK_HINT)
        path = path.resolve()
    if path.is_dir():
        raise InvalidInputError(f"{path} is a folder; it cannot be replaced by a file")
    if path.exists() and not force and not (owned and owned(path)):
        raise TargetExists(path)
    return path


def temp_beside(path: Path) -> Path:
    """A new, empty, uniquely named file in the target's folder (O_EXCL: never an existing file or
    link), with the usual permissions (mode 0666 less the umask, as a plain ``open`` would give)."""
    for _ in range(100):
        candidate = path.parent / f".{path.name}.{secrets.token_hex(4)}.tmp{path.suffix}"
        try:
            os.close(os.open(candidate, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
        except FileExistsError:
            continue
        return candidate
    raise InvalidInputError(f"cannot create a temporary file beside {path}")


def write_via_temp(path: Path, write: Callable[[Path], object]) -> None:
    """``write(tmp)`` then rename tmp onto ``path``; the temporary file never outlives a failure."""
    tmp = temp_beside(path)
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def read_head(path: Path, limit: int = 4096) -> bytes:
    """The first bytes of a regular file (to recognise our own earlier output), b"" if unreadable."""
    try:
        with open(path, "rb") as fh:
            return fh.read(limit)
    except OSError:
        return b""
