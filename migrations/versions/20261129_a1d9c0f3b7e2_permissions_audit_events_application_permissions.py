"""permissions, audit events, application permissions

Seeds the permissions the admin API checks and maps them onto the built-in roles: `superAdmin`
gets every one (and the server treats it as holding any permission added later), `admin` every
one but role and key administration, `user` none. Adds the security event log and the
permissions an application holds for itself (a service account using client credentials).
Written with table stubs, not the application's models, so later model changes never break it.

Revision ID: a1d9c0f3b7e2
Revises: 8e2f4c1a9b37
Create Date: 2026-11-29 19:50:00.000000
"""
import uuid
from datetime import datetime
from datetime import timezone

import sqlalchemy as sa
from alembic import op

revision = "a1d9c0f3b7e2"
down_revision = "8e2f4c1a9b37"
branch_labels = None
depends_on = None

PERMISSIONS = {
    "users:read": "List and read user accounts, their sessions, sign-ins and grants",
    "users:write": "Create, change, deactivate and reactivate user accounts; end their sessions and grants",
    "roles:read": "List roles and permissions",
    "roles:write": "Create, change and delete roles and choose the permissions each role gives",
    "clients:read": "List and read OAuth applications",
    "clients:write": "Register, change and delete OAuth applications and rotate their secrets",
    "keys:read": "List the signing keys and their states",
    "keys:write": "Rotate and revoke signing keys",
    "sessions:read": "List any user's sessions",
    "sessions:write": "End any user's sessions",
    "audit:read": "Read the security event log",
}
# admin: everything but role/permission administration and key operations.
ADMIN_WITHOUT = {"roles:write", "keys:read", "keys:write"}


def _stub(name, *columns):
    return sa.table(name, sa.column("id", sa.Uuid()), *columns,
                    sa.column("created_at", sa.DateTime(timezone=True)),
                    sa.column("updated_at", sa.DateTime(timezone=True)))


permissions = _stub("permissions", sa.column("name", sa.String()), sa.column("description", sa.String()))
role_permissions = sa.table("role_permissions", sa.column("role_id", sa.Uuid()), sa.column("permission_id", sa.Uuid()),
                            sa.column("created_at", sa.DateTime(timezone=True)),
                            sa.column("updated_at", sa.DateTime(timezone=True)))
roles = sa.table("roles", sa.column("id", sa.Uuid()), sa.column("name", sa.String()))


def upgrade():
    op.create_table(
        "audit_events",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("actor_user_id", sa.Uuid(), nullable=True),
        sa.Column("actor_client_id", sa.String(length=100), nullable=True),
        sa.Column("target_type", sa.String(length=32), nullable=True),
        sa.Column("target_id", sa.String(length=100), nullable=True),
        sa.Column("before", sa.JSON(), nullable=True),
        sa.Column("after", sa.JSON(), nullable=True),
        sa.Column("detail", sa.String(length=255), nullable=True),
        sa.Column("ip_address", sa.String(length=64), nullable=True),
        sa.Column("user_agent", sa.String(length=255), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_audit_events_created_at_id", "audit_events", ["created_at", "id"])
    op.create_index("ix_audit_events_action_created_at", "audit_events", ["action", "created_at"])
    op.create_index("ix_audit_events_actor_created_at", "audit_events", ["actor_user_id", "created_at"])
    op.create_index("ix_audit_events_target_created_at", "audit_events", ["target_id", "created_at"])
    op.create_table(
        "application_permissions",
        sa.Column("application_id", sa.Uuid(), sa.ForeignKey("applications.id", ondelete="CASCADE"),
                  primary_key=True),
        sa.Column("permission_id", sa.Uuid(), sa.ForeignKey("permissions.id", ondelete="CASCADE"),
                  primary_key=True, index=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )

    at = datetime.now(timezone.utc)
    if op.get_bind().dialect.name == "sqlite":
        at = at.replace(tzinfo=None)  # stored as the application stores it: naive UTC
    ids = {name: uuid.uuid4() for name in PERMISSIONS}
    op.bulk_insert(permissions, [
        {"id": ids[name], "name": name, "description": description, "created_at": at, "updated_at": at}
        for name, description in PERMISSIONS.items()
    ])
    role_ids = dict(op.get_bind().execute(sa.select(roles.c.name, roles.c.id)).all())
    grants = [("superAdmin", name) for name in PERMISSIONS]
    grants += [("admin", name) for name in PERMISSIONS if name not in ADMIN_WITHOUT]
    op.bulk_insert(role_permissions, [
        {"role_id": role_ids[role], "permission_id": ids[name], "created_at": at, "updated_at": at}
        for role, name in grants if role in role_ids
    ])


def downgrade():
    names = list(PERMISSIONS)
    chosen = sa.select(permissions.c.id).where(permissions.c.name.in_(names))
    op.execute(role_permissions.delete().where(role_permissions.c.permission_id.in_(chosen)))
    op.execute(permissions.delete().where(permissions.c.name.in_(names)))
    op.drop_table("application_permissions")
    op.drop_index("ix_audit_events_target_created_at", table_name="audit_events")
    op.drop_index("ix_audit_events_actor_created_at", table_name="audit_events")
    op.drop_index("ix_audit_events_action_created_at", table_name="audit_events")
    op.drop_index("ix_audit_events_created_at_id", table_name="audit_events")
    op.drop_table("audit_events")
