"""add two-factor flag, session amr and code target

users.two_factor_enabled (2FA opted in), users.phone_verified (a code sent by SMS confirmed
users.phone), sessions.amr (how the user authenticated; the
sessions before this revision were all password sign-ins), verification_codes.target (where a
code went when not to the account's own address: a new email, a phone).

Revision ID: bf06e3b066dd
Revises: d9f8bcc99ddf
Create Date: 2026-11-22 06:03:23.646261
"""
import sqlalchemy as sa
from alembic import op

revision = 'bf06e3b066dd'
down_revision = 'd9f8bcc99ddf'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('sessions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('amr', sa.JSON(), server_default=sa.text("'[\"pwd\"]'"), nullable=False))
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('two_factor_enabled', sa.Boolean(), server_default=sa.text('false'),
                                      nullable=False))
        batch_op.add_column(sa.Column('phone_verified', sa.Boolean(), server_default=sa.text('false'),
                                      nullable=False))
    with op.batch_alter_table('verification_codes', schema=None) as batch_op:
        batch_op.add_column(sa.Column('target', sa.String(length=254), nullable=True))


def downgrade():
    with op.batch_alter_table('verification_codes', schema=None) as batch_op:
        batch_op.drop_column('target')
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('phone_verified')
        batch_op.drop_column('two_factor_enabled')
    with op.batch_alter_table('sessions', schema=None) as batch_op:
        batch_op.drop_column('amr')
