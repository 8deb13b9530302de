from alembic import context
from sqlalchemy import create_engine

from studio.store.models import Base, is_unmapped_table

config = context.config
target_metadata = Base.metadata


def include_name(name, type_, _parent) -> bool:
    """Autogenerate must not drop the FTS5 index (built by migration 0004, not a model)."""
    return not (type_ == "table" and is_unmapped_table(name))


def run_migrations_online() -> None:
    engine = config.attributes.get("engine") or create_engine(config.get_main_option("sqlalchemy.url"))
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True,
                          include_name=include_name)
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()


run_migrations_online()
