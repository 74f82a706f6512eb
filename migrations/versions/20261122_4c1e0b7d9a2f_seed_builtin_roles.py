"""seed built-in roles

The roles every installation has: superAdmin, admin, user. Written with a table stub, not
the application's models, so later model changes never break this step.

Revision ID: 4c1e0b7d9a2f
Revises: 865652c55660
Create Date: 2026-11-22 05:20:00.000000
"""
import uuid
from datetime import datetime
from datetime import timezone

import sqlalchemy as sa
from alembic import op

revision = "4c1e0b7d9a2f"
down_revision = "865652c55660"
branch_labels = None
depends_on = None

ROLES = {
    "superAdmin": "Every permission, including managing administrators",
    "admin": "Manages users, roles, applications and keys",
    "user": "A signed-up account; every new user has it",
}

roles = sa.table(
    "roles",
    sa.column("id", sa.Uuid()),
    sa.column("name", sa.String()),
    sa.column("description", sa.String()),
    sa.column("created_at", sa.DateTime(timezone=True)),
    sa.column("updated_at", sa.DateTime(timezone=True)),
)


def upgrade():
    at = datetime.now(timezone.utc)
    if op.get_bind().dialect.name == "sqlite":
        at = at.replace(tzinfo=None)  # stored as the application stores it: naive UTC
    op.bulk_insert(roles, [
        {"id": uuid.uuid4(), "name": name, "description": description, "created_at": at,
         "updated_at": at}
        for name, description in ROLES.items()
    ])


def downgrade():
    op.execute(roles.delete().where(roles.c.name.in_(list(ROLES))))
