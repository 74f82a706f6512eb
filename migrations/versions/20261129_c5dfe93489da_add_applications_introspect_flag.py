"""add applications introspect flag

applications.introspect: the application is a resource server and may use the introspection
endpoint (RFC 7662 §4). Existing applications start without it; an operator grants it with
`flask clients update CLIENT_ID --introspect`.

Revision ID: c5dfe93489da
Revises: bf06e3b066dd
Create Date: 2026-11-29 16:55:15.483758
"""
import sqlalchemy as sa
from alembic import op

revision = 'c5dfe93489da'
down_revision = 'bf06e3b066dd'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('applications', schema=None) as batch_op:
        batch_op.add_column(sa.Column('introspect', sa.Boolean(), server_default=sa.text('false'), nullable=False))


def downgrade():
    with op.batch_alter_table('applications', schema=None) as batch_op:
        batch_op.drop_column('introspect')
