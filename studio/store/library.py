"""The library: one folder holding the SQLite DB, the blob store, thumbnails, runs and caches.

One engine per process; one session per thread (``library.session()``); short transactions.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from studio.core.errors import StudioError
from studio.core.paths import resolve_home
from studio.store.blobs import BlobStore

DB_NAME = "library.db"


def _open_error(home: Path, exc: Exception) -> StudioError:
    """One clear line for a library that cannot be opened (read-only, full, not a database)."""
    from studio.core.errors import describe_exception

    if home.exists() and not os.access(home, os.W_OK):
        why = "the folder is read-only; the studio needs to write there"
    elif isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
        why = "the disk is full"
    else:
        why = describe_exception(exc)
    return StudioError(f"cannot open the library at {home}: {why}",
                       hint="choose another with --home or STUDIO_HOME")


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA busy_timeout=15000")
    cur.close()


def make_engine(db_path: Path) -> Engine:
    engine = create_engine(
        f"sqlite:///{db_path}",
        connect_args={"timeout": 15, "check_same_thread": False},
    )
    event.listen(engine, "connect", _sqlite_pragmas)
    return engine


class LibraryUpdateError(StudioError):
    """The database refused a change (locked by another process, disk full); nothing was changed."""


class Library:
    """Open with ``Library.open(home)``; the schema is brought to head through Alembic."""

    def __init__(self, home: Path, engine: Engine):
        self.home = Path(home)
        self.engine = engine
        self.blobs = BlobStore(self.home / "blobs")
        self._sessions = sessionmaker(engine, expire_on_commit=False)

    @classmethod
    def open(cls, home: str | Path | None = None, *, demo: bool = False) -> Library:
        """Open (creating and migrating when needed) the library at ``home``.

        ``demo=True`` adds the shipped demo dataset the first time a library is created."""
        from studio.store.migrate import upgrade_to_head

        home = resolve_home(home)
        db_path = home / DB_NAME
        try:
            home.mkdir(parents=True, exist_ok=True)
            is_new = not db_path.exists()
            engine = make_engine(db_path)
            upgrade_to_head(engine)
            lib = cls(home, engine)
            for sub in ("thumbs", "runs", "cache", "exports"):
                (home / sub).mkdir(exist_ok=True)
        except (OSError, OperationalError) as exc:
            raise _open_error(home, exc) from exc
        if is_new and demo:
            from studio.store.demo import add_demo_dataset

            add_demo_dataset(lib)
        return lib

    @property
    def db_path(self) -> Path:
        return self.home / DB_NAME

    @property
    def thumbs_dir(self) -> Path:
        return self.home / "thumbs"

    @property
    def runs_dir(self) -> Path:
        return self.home / "runs"

    @property
    def cache_dir(self) -> Path:
        return self.home / "cache"

    @property
    def exports_dir(self) -> Path:
        return self.home / "exports"

    def session(self) -> Session:
        """A new session; use as ``with lib.session() as s, s.begin(): ...`` on one thread."""
        return self._sessions()

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A short transaction: commits on success, rolls back on error."""
        with self._sessions() as s, s.begin():
            yield s

    @contextmanager
    def user_transaction(self) -> Iterator[Session]:
        """A transaction for one action of a user (label, rename a class): like ``transaction``,
        but a database failure raises LibraryUpdateError, one line the GUI can show."""
        try:
            with self._sessions() as s, s.begin():
                yield s
        except SQLAlchemyError as exc:
            raise LibraryUpdateError(
                f"the library could not be updated ({type(exc).__name__}); nothing was changed") from exc

    def close(self) -> None:
        self.engine.dispose()
