"""One app window per library: a second launch on the same library gets a clear choice instead of
two windows writing one library. The lock is an OS file lock (fcntl), so it goes away with the
process, even after a crash or kill -9: there is never a stale lock to clean up."""

from __future__ import annotations

import os
from pathlib import Path

LOCK_NAME = ".window.lock"


class LibraryInUse(Exception):
    def __init__(self, home: Path, pid: int | None) -> None:
        super().__init__(f"Model Studio is already open on {home}" + (f" (process {pid})" if pid else ""))
        self.home = home
        self.pid = pid


class WindowLock:
    """Held by the process that shows a window on ``home``; ``acquire`` raises LibraryInUse."""

    def __init__(self, home: str | os.PathLike) -> None:
        self.home = Path(home)
        self.path = self.home / LOCK_NAME
        self._fd: int | None = None

    def acquire(self) -> WindowLock:
        try:
            import fcntl
        except ImportError:  # Windows: no fcntl; the single-instance check is not available there yet
            return self
        self.home.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            pid = _read_pid(fd)
            os.close(fd)
            raise LibraryInUse(self.home, pid) from None
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing drops the flock
            self._fd = None

    def __enter__(self) -> WindowLock:
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()


def _read_pid(fd: int) -> int | None:
    try:
        text = os.pread(fd, 32, 0).decode().strip()
        return int(text) if text.isdigit() else None
    except OSError:
        return None
