"""index users for the admin list

The admin user list pages by keyset on (sort key, id), newest first by default, and filters by
equality on phone and isActive: each of those reads follows an index instead of sorting or
scanning every account. Email is unique already, so its index serves the email sort and filter;
user_roles has an index on role_id for the role filter.

Revision ID: b7c4e2a9d1f0
Revises: a1d9c0f3b7e2
Create Date: 2026-11-29 21:00:00.000000
"""
from alembic import op

revision = "b7c4e2a9d1f0"
down_revision = "a1d9c0f3b7e2"
branch_labels = None
depends_on = None

INDEXES = {
    "ix_users_created_at_id": ["created_at", "id"],
    "ix_users_fullname_id": ["fullname", "id"],
    "ix_users_is_active_created_at_id": ["is_active", "created_at", "id"],
    "ix_users_phone": ["phone"],
}


def upgrade():
    with op.batch_alter_table("users", schema=None) as batch_op:
        for name, columns in INDEXES.items():
            batch_op.create_index(name, columns, unique=False)


def downgrade():
    with op.batch_alter_table("users", schema=None) as batch_op:
        for name in reversed(INDEXES):
            batch_op.drop_index(name)
