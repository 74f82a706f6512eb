"""The Alembic chain: empty -> head -> base -> head on both databases, data survives a
down/up step, built-in roles are seeded, and on PostgreSQL the models match head exactly."""

import os
import uuid

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade
from flask_migrate import upgrade

from app import create_app
from app import schema
from app.extensions import db

from ..helpers import require
from ..helpers import reset_postgres

TABLES = {"users", "profiles", "roles", "permissions", "user_roles", "role_permissions", "sessions",
          "login_history", "verification_codes", "signing_keys", "alembic_version", "applications",
          "user_applications", "authorization_codes", "refresh_tokens", "token_revocations", "pending_authorizations",
          "audit_events", "application_permissions", "session_applications", "logout_deliveries",
          "client_assertion_uses"}


@pytest.fixture(params=["sqlite", "postgresql"])
def migration_app(request, tmp_path, secrets_config):
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'migrations.sqlite3'}"
    else:
        url = os.environ.get("TEST_MIGRATIONS_DATABASE_URL")
        require(bool(url), "TEST_MIGRATIONS_DATABASE_URL is not set")
        reset_postgres(url)
    app = create_app({**secrets_config, "DATABASE_URL": url})
    schema.use_migrations(app)
    with app.app_context():
        yield app
        db.session.remove()
        db.engine.dispose()


def table_names() -> set[str]:
    return set(sa.inspect(db.engine).get_table_names())


def role_names() -> list[str]:
    with db.engine.connect() as connection:
        return sorted(connection.execute(sa.text("SELECT name FROM roles")).scalars())


def test_upgrade_downgrade_upgrade(migration_app):
    upgrade()
    assert table_names() == TABLES
    assert role_names() == ["admin", "superAdmin", "user"]
    downgrade(revision="base")
    assert table_names() == {"alembic_version"}
    upgrade()
    assert table_names() == TABLES and role_names() == ["admin", "superAdmin", "user"]


def test_rows_survive_a_down_up_step(migration_app):
    upgrade()
    with db.engine.begin() as connection:
        connection.execute(sa.text(
            "INSERT INTO users (id, email, fullname, email_verified, is_active, created_at, updated_at)"
            " VALUES (:id, 'kept@example.com', 'Kept', false, true, :at, :at)"),
            {"id": "0b5c8a52c0b84a5f9d6f3f2b7f4f4b11" if db.engine.dialect.name == "sqlite"
             else "0b5c8a52-c0b8-4a5f-9d6f-3f2b7f4f4b11", "at": "2026-01-01 00:00:00"})
    downgrade(revision="-1")
    upgrade()
    with db.engine.connect() as connection:
        assert connection.execute(sa.text("SELECT email FROM users")).scalars().all() == ["kept@example.com"]


@pytest.mark.parametrize("migration_app", ["postgresql"], indirect=True)
def test_models_match_head_on_postgresql(migration_app):
    """Autogenerate against head finds nothing: models and migrations agree."""
    upgrade()
    with db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, db.metadata) == []


def test_revoked_access_tokens_still_alive_become_jti_revocations(migration_app):
    """access_tokens goes (b3e81f5a7c24): a revoked token that has not expired is carried over
    into token_revocations by its jti, so it stays denied; nothing else is."""
    upgrade(revision="f4b8d2c6a1e3")
    sqlite = db.engine.dialect.name == "sqlite"

    def uuid_text(value: uuid.UUID) -> str:
        return value.hex if sqlite else str(value)

    application = uuid.uuid4()
    rows = [("revoked-alive", "2999-01-01 00:00:00", "2026-01-01 00:00:00"),
            ("revoked-expired", "2000-01-01 00:00:00", "2000-01-01 00:00:00"),
            ("never-revoked", "2999-01-01 00:00:00", None)]
    with db.engine.begin() as connection:
        connection.execute(sa.text(
            "INSERT INTO applications (id, client_id, name, redirect_uris, post_logout_redirect_uris, grant_types,"
            " response_types, scope, token_endpoint_auth_method, skip_consent, introspect, request_uris,"
            " backchannel_logout_session_required, frontchannel_logout_session_required, created_at, updated_at)"
            " VALUES (:id, 'c', 'C', '[]', '[]', '[]', '[]', '', 'none', false, false, '[]', false, false, :at, :at)"),
            {"id": uuid_text(application), "at": "2026-01-01 00:00:00"})
        for jti, expires_at, revoked_at in rows:
            connection.execute(sa.text(
                "INSERT INTO access_tokens (id, jti, application_id, scope, expires_at, revoked_at, created_at,"
                " updated_at) VALUES (:id, :jti, :application, '', :expires_at, :revoked_at, :at, :at)"),
                {"id": uuid_text(uuid.uuid4()), "jti": jti, "application": uuid_text(application),
                 "expires_at": expires_at, "revoked_at": revoked_at, "at": "2026-01-01 00:00:00"})
    upgrade()
    with db.engine.connect() as connection:
        carried = connection.execute(sa.text("SELECT kind, subject FROM token_revocations")).all()
    assert [tuple(row) for row in carried] == [("jti", "revoked-alive")]
