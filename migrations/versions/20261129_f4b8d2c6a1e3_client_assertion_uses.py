"""client assertion uses: the jti of every client assertion that authenticated a client

private_key_jwt and client_secret_jwt (RFC 7523) authenticate a client with a signed JWT; each
one is single-use. Its ``jti`` is kept (as a SHA-256 digest) until the assertion's ``exp`` plus
the allowed clock skew; the unique (application, jti) pair makes exactly one of two concurrent
uses win. Expired rows are purged as new ones are written.

Revision ID: f4b8d2c6a1e3
Revises: 4b8d2f6e1c93
Create Date: 2026-11-29 23:30:00
"""
import sqlalchemy as sa
from alembic import op

revision = 'f4b8d2c6a1e3'
down_revision = '4b8d2f6e1c93'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'client_assertion_uses',
        sa.Column('application_id', sa.Uuid(), nullable=False),
        sa.Column('jti_hash', sa.String(length=64), nullable=False),
        sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('id', sa.Uuid(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['application_id'], ['applications.id'], ondelete='CASCADE',
                                name=op.f('fk_client_assertion_uses_application_id_applications')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_client_assertion_uses')),
        sa.UniqueConstraint('application_id', 'jti_hash', name=op.f('uq_client_assertion_uses_application_id_jti_hash')),
    )
    with op.batch_alter_table('client_assertion_uses', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_client_assertion_uses_expires_at'), ['expires_at'], unique=False)


def downgrade():
    with op.batch_alter_table('client_assertion_uses', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_client_assertion_uses_expires_at'))
    op.drop_table('client_assertion_uses')
