"""logout propagation: the applications each session signed in to, and the back-channel outbox

``session_applications`` records, when a code is issued, which application a sign-in session
signed the user in to: those applications are told when the session ends (OpenID Connect
Back-Channel and Front-Channel Logout). ``logout_deliveries`` is the durable outbox of
back-channel logout notices, written with the session's end and worked by a delivery thread in
every server process (claimed rows, bounded retries).

Revision ID: 4b8d2f6e1c93
Revises: e3a7c51f0b92
Create Date: 2026-11-29 23:30:00
"""
import sqlalchemy as sa
from alembic import op

revision = '4b8d2f6e1c93'
down_revision = 'e3a7c51f0b92'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'session_applications',
        sa.Column('session_id', sa.Uuid(), nullable=False),
        sa.Column('application_id', sa.Uuid(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['application_id'], ['applications.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['session_id'], ['sessions.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('session_id', 'application_id'),
    )
    op.create_index('ix_session_applications_application_id', 'session_applications', ['application_id'])
    op.create_table(
        'logout_deliveries',
        sa.Column('id', sa.Uuid(), nullable=False),
        sa.Column('application_id', sa.Uuid(), nullable=False),
        sa.Column('user_id', sa.Uuid(), nullable=False),
        sa.Column('session_id', sa.Uuid(), nullable=False),
        sa.Column('state', sa.String(length=16), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('claim_id', sa.Uuid(), nullable=True),
        sa.Column('claimed_until', sa.DateTime(timezone=True), nullable=True),
        sa.Column('delivered_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('last_error', sa.String(length=200), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['application_id'], ['applications.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['session_id'], ['sessions.id']),
        sa.ForeignKeyConstraint(['user_id'], ['users.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_logout_deliveries_application_id', 'logout_deliveries', ['application_id'])
    op.create_index('ix_logout_deliveries_claim_id', 'logout_deliveries', ['claim_id'])
    op.create_index('ix_logout_deliveries_state_next_attempt_at', 'logout_deliveries', ['state', 'next_attempt_at'])


def downgrade():
    op.drop_index('ix_logout_deliveries_state_next_attempt_at', table_name='logout_deliveries')
    op.drop_index('ix_logout_deliveries_claim_id', table_name='logout_deliveries')
    op.drop_index('ix_logout_deliveries_application_id', table_name='logout_deliveries')
    op.drop_table('logout_deliveries')
    op.drop_index('ix_session_applications_application_id', table_name='session_applications')
    op.drop_table('session_applications')
