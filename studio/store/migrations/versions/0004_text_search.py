"""text datasets: an FTS5 word index over text samples, kept in step with samples by triggers

The index holds each text sample's words under the sample's id (rowid). The importer adds a
sample's text in the transaction that inserts its row (the text is in a blob file, which SQL
cannot read); the triggers remove it when the row goes (a deleted sample, a deleted dataset's
cascade, `studio doctor` dropping a row whose file is lost) or when its blob changes.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02 12:50:00
"""
from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None

# unicode61 folds case; remove_diacritics 2 lets "cafe" find "café".
CREATE_INDEX = """
CREATE VIRTUAL TABLE text_search USING fts5(
    body, tokenize = 'unicode61 remove_diacritics 2'
)
"""
CREATE_TRIGGERS = (
    """
    CREATE TRIGGER samples_text_search_delete AFTER DELETE ON samples
    WHEN old.format = 'txt'
    BEGIN
        DELETE FROM text_search WHERE rowid = old.id;
    END
    """,
    """
    CREATE TRIGGER samples_text_search_blob AFTER UPDATE OF blob ON samples
    WHEN old.format = 'txt' AND new.blob IS NOT old.blob
    BEGIN
        DELETE FROM text_search WHERE rowid = old.id;
    END
    """,
)


def upgrade() -> None:
    op.execute(CREATE_INDEX)
    for trigger in CREATE_TRIGGERS:
        op.execute(trigger)


def downgrade() -> None:
    op.execute("DROP TRIGGER IF EXISTS samples_text_search_blob")
    op.execute("DROP TRIGGER IF EXISTS samples_text_search_delete")
    op.execute("DROP TABLE IF EXISTS text_search")
