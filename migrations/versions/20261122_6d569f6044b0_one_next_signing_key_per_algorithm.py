"""one next signing key per algorithm

A partial unique index, beside the one for current keys, so two processes rotating together
cannot both publish a successor.

Revision ID: 6d569f6044b0
Revises: 4c1e0b7d9a2f
Create Date: 2026-11-22 05:25:00.612597
"""
import sqlalchemy as sa
from alembic import op

revision = '6d569f6044b0'
down_revision = '4c1e0b7d9a2f'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('signing_keys', schema=None) as batch_op:
        batch_op.create_index('uq_signing_keys_next_alg', ['alg'], unique=True,
                              sqlite_where=sa.text("state = 'next'"), postgresql_where=sa.text("state = 'next'"))


def downgrade():
    with op.batch_alter_table('signing_keys', schema=None) as batch_op:
        batch_op.drop_index('uq_signing_keys_next_alg')

