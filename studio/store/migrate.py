"""Schema changes only through Alembic; configured in code so no alembic.ini has to ship."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(engine: Engine) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", str(engine.url))
    cfg.attributes["engine"] = engine
    return cfg


def upgrade_to_head(engine: Engine) -> None:
    """Bring an older library up to this version's schema. A library written by a *newer* app is
    refused with a clear message before anything is touched (downgrading could lose data)."""
    cfg = alembic_config(engine)
    check_not_newer(engine, cfg)
    command.upgrade(cfg, "head")


def check_not_newer(engine: Engine, cfg: Config) -> None:
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    from studio.core.errors import StudioError

    with engine.connect() as conn:
        current = MigrationContext.configure(conn).get_current_heads()
    script = ScriptDirectory.from_config(cfg)
    known = {rev.revision for rev in script.walk_revisions()}
    unknown = [rev for rev in current if rev not in known]
    if unknown:
        raise StudioError(
            f"this library was written by a newer Model Studio (schema {unknown[0]}; this version knows up to "
            f"{script.get_current_head()}); nothing was changed",
            hint="install the newer Model Studio, or open another library with --home",
        )
