"""index access_tokens revoked_at

The Redis denylist is refilled and caught up from the revoked, unexpired access tokens; an index
on revoked_at keeps those reads from scanning every token ever issued.

Revision ID: 8e2f4c1a9b37
Revises: c5dfe93489da
Create Date: 2026-11-29 17:20:00.000000
"""
from alembic import op

revision = '8e2f4c1a9b37'
down_revision = 'c5dfe93489da'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('access_tokens', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_access_tokens_revoked_at'), ['revoked_at'], unique=False)


def downgrade():
    with op.batch_alter_table('access_tokens', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_access_tokens_revoked_at'))
