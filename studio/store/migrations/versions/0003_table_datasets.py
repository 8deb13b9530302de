"""table datasets: the rows as blobs, the schema and splits, edited cells

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02 12:10:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('table_data',
    sa.Column('dataset_id', sa.Integer(), nullable=False),
    sa.Column('source_blob', sa.String(length=64), nullable=False),
    sa.Column('source_name', sa.Text(), nullable=False),
    sa.Column('data_blob', sa.String(length=64), nullable=False),
    sa.Column('splits_blob', sa.String(length=64), nullable=False),
    sa.Column('reading', sa.JSON(), nullable=False),
    sa.Column('schema', sa.JSON(), nullable=False),
    sa.Column('rows', sa.Integer(), nullable=False),
    sa.Column('split_seed', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['dataset_id'], ['datasets.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('dataset_id')
    )
    for column in ('source_blob', 'data_blob', 'splits_blob'):
        op.create_index(op.f(f'ix_table_data_{column}'), 'table_data', [column], unique=False)
    op.create_table('table_edits',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('dataset_id', sa.Integer(), nullable=False),
    sa.Column('row', sa.Integer(), nullable=False),
    sa.Column('column', sa.Text(), nullable=False),
    sa.Column('value', sa.Text(), nullable=True),
    sa.Column('edited_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['dataset_id'], ['datasets.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('dataset_id', 'row', 'column')
    )
    op.create_index(op.f('ix_table_edits_dataset_id'), 'table_edits', ['dataset_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_table_edits_dataset_id'), table_name='table_edits')
    op.drop_table('table_edits')
    for column in ('source_blob', 'data_blob', 'splits_blob'):
        op.drop_index(op.f(f'ix_table_data_{column}'), table_name='table_data')
    op.drop_table('table_data')
