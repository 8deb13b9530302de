from sqlalchemy import inspect, text

from studio.store.library import Library, make_engine
from studio.store.migrate import upgrade_to_head
from studio.store.models import Base


def test_empty_db_upgrades_to_head_with_every_table(tmp_path):
    engine = make_engine(tmp_path / "empty.db")
    upgrade_to_head(engine)
    tables = set(inspect(engine).get_table_names())
    assert set(Base.metadata.tables) <= tables
    assert "alembic_version" in tables


def test_upgrade_is_idempotent_and_pragmas_are_on(home):
    Library.open(home).close()
    lib = Library.open(home)
    with lib.engine.connect() as conn:
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA busy_timeout")).scalar() >= 10000
    lib.close()


def test_migrations_match_the_models(tmp_path):
    """The schema the migrations build is the schema the models describe (no drift)."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    engine = make_engine(tmp_path / "drift.db")
    upgrade_to_head(engine)
    with engine.connect() as conn:
        from studio.store.models import is_unmapped_table

        def include_name(name, type_, _parent):  # the FTS5 index is built by a migration, not a model
            return not (type_ == "table" and is_unmapped_table(name))

        diff = compare_metadata(MigrationContext.configure(conn, opts={"include_name": include_name}), Base.metadata)
    assert diff == []


def test_a_library_from_a_newer_version_is_refused_untouched(tmp_path):
    import sqlite3

    import pytest

    from studio.core.errors import StudioError
    from studio.store.library import Library

    Library.open(tmp_path / "lib").close()
    db = tmp_path / "lib" / "library.db"
    with sqlite3.connect(db) as conn:  # as a newer app would leave it
        conn.execute("update alembic_version set version_num = '0099_from_the_future'")
        conn.execute("create table added_by_newer_app (x integer)")
    before = db.read_bytes()
    with pytest.raises(StudioError, match="newer Model Studio"):
        Library.open(tmp_path / "lib")
    assert db.read_bytes() == before
