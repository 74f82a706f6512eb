"""token revocations replace access tokens

Issuing a JWT access token no longer writes a row: ``access_tokens`` goes. What revokes access
tokens is recorded in ``token_revocations`` (a jti, or a "not before" mark on a session, grant
family, application, user or user's grant), read by every process's in-memory denylist past the
last id it saw (an id that only grows: AUTOINCREMENT on SQLite) and pruned by ``expires_at``.
A code exchange keeps the grant family it issued in ``authorization_codes.family_id``. Revoked
access tokens still alive are carried over as jti rows.

Revision ID: b3e81f5a7c24
Revises: f4b8d2c6a1e3
Create Date: 2026-11-30 03:10:00
"""
import sqlalchemy as sa
from alembic import op

revision = 'b3e81f5a7c24'
down_revision = 'f4b8d2c6a1e3'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'token_revocations',
        sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
        sa.Column('kind', sa.String(length=16), nullable=False),
        sa.Column('subject', sa.String(length=128), nullable=False),
        sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_token_revocations')),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table('token_revocations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_token_revocations_expires_at'), ['expires_at'], unique=False)
    with op.batch_alter_table('authorization_codes', schema=None) as batch_op:
        batch_op.add_column(sa.Column('family_id', sa.Uuid(), nullable=True))
    # CURRENT_TIMESTAMP is UTC on both; SQLite's text sorts like the stored one to the second.
    op.execute("INSERT INTO token_revocations (kind, subject, revoked_at, expires_at) "
               "SELECT 'jti', jti, revoked_at, expires_at FROM access_tokens "
               "WHERE revoked_at IS NOT NULL AND expires_at > CURRENT_TIMESTAMP")
    op.drop_table('access_tokens')


def downgrade():
    op.create_table(
        'access_tokens',
        sa.Column('jti', sa.String(length=64), nullable=False),
        sa.Column('application_id', sa.Uuid(), nullable=False),
        sa.Column('user_id', sa.Uuid(), nullable=True),
        sa.Column('session_id', sa.Uuid(), nullable=True),
        sa.Column('code_id', sa.Uuid(), nullable=True),
        sa.Column('refresh_family_id', sa.Uuid(), nullable=True),
        sa.Column('scope', sa.Text(), nullable=False),
        sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('id', sa.Uuid(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('claims', sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(['application_id'], ['applications.id'],
                                name=op.f('fk_access_tokens_application_id_applications')),
        sa.ForeignKeyConstraint(['code_id'], ['authorization_codes.id'],
                                name=op.f('fk_access_tokens_code_id_authorization_codes')),
        sa.ForeignKeyConstraint(['session_id'], ['sessions.id'], name=op.f('fk_access_tokens_session_id_sessions')),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_access_tokens_user_id_users')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_access_tokens')),
        sa.UniqueConstraint('jti', name=op.f('uq_access_tokens_jti')),
    )
    with op.batch_alter_table('access_tokens', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_access_tokens_code_id'), ['code_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_access_tokens_refresh_family_id'), ['refresh_family_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_access_tokens_session_id'), ['session_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_access_tokens_user_id'), ['user_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_access_tokens_revoked_at'), ['revoked_at'], unique=False)
    # Access tokens issued meanwhile were never recorded; those revoked by jti are no longer denied
    # once this table is the denylist again (a downgrade within their 15 minutes is the risk).
    with op.batch_alter_table('authorization_codes', schema=None) as batch_op:
        batch_op.drop_column('family_id')
    with op.batch_alter_table('token_revocations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_token_revocations_expires_at'))
    op.drop_table('token_revocations')
