"""`flask users ...` and `flask bootstrap`."""

import json

import pytest
from sqlalchemy import func
from sqlalchemy import select

from app.extensions import db
from app.models import User
from keys.models import SigningKey

from ..helpers import AuthActions

PASSWORD = "correct horse battery staple"


@pytest.fixture
def cli(app):
    return app.test_cli_runner()


def test_users_create_prints_json(cli):
    result = cli.invoke(args=["users", "create", "--email", "Grace@Example.com", "--password", PASSWORD,
                              "--name", "Grace Hopper", "--verified", "--role", "admin", "--json"])
    assert result.exit_code == 0, result.output
    body = json.loads(result.output)
    assert body["email"] == "grace@example.com"
    assert body["roles"] == ["admin", "user"]
    assert body["email_verified"] is True and body["is_active"] is True


@pytest.mark.parametrize("args, message", [
    (["--email", "not-an-email", "--password", PASSWORD], "email address"),
    (["--email", "a@example.com", "--password", "Zq9!xk2"], "Use at least 8"),
    (["--email", "a@example.com", "--password", "password1"], "too easy to guess"),
    (["--email", "a@example.com", "--password", "a@example.com"], "email address as your password"),
    (["--email", "a@example.com", "--password", PASSWORD, "--role", "wizard"], "No role named 'wizard'"),
], ids=["bad-email", "short", "weak", "equals-email", "unknown-role"])
def test_users_create_refuses_bad_input_with_one_line(app, cli, args, message):
    result = cli.invoke(args=["users", "create", *args])
    assert result.exit_code == 1
    assert message in result.output
    assert len(result.output.strip().splitlines()) == 1
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(User)) == 0


def test_users_create_twice_is_refused(cli):
    args = ["users", "create", "--email", "twice@example.com", "--password", PASSWORD]
    assert cli.invoke(args=args).exit_code == 0
    result = cli.invoke(args=args)
    assert result.exit_code == 1 and "already exists" in result.output


def test_users_list_json(cli, make_user):
    first, second = make_user(), make_user()
    result = cli.invoke(args=["users", "list", "--json"])
    assert result.exit_code == 0
    emails = [entry["email"] for entry in json.loads(result.output)["users"]]
    assert emails == [first.email, second.email]


def test_users_set_password_ends_sessions_and_enforces_policy(app, cli, user):
    client = app.test_client()
    AuthActions(client).login(user.email, user.password)
    weak = cli.invoke(args=["users", "set-password", "--email", user.email, "--password", "12345678"])
    assert weak.exit_code == 1
    new = "a brand new passphrase for grace"
    result = cli.invoke(args=["users", "set-password", "--email", user.email, "--password", new, "--json"])
    assert result.exit_code == 0, result.output
    assert client.get("/currentuser").status_code == 401
    assert AuthActions(app.test_client()).login(user.email, new).status_code == 303


def test_users_deactivate(app, cli, user):
    result = cli.invoke(args=["users", "deactivate", "--email", user.email, "--json"])
    assert result.exit_code == 0 and json.loads(result.output)["is_active"] is False
    missing = cli.invoke(args=["users", "deactivate", "--email", "ghost@example.com"])
    assert missing.exit_code == 1 and "No account" in missing.output


def test_bootstrap_creates_super_admin_and_key_once(app, cli):
    """First start: a verified superAdmin with a printed password and a signing key; then nothing."""
    first = cli.invoke(args=["bootstrap"])
    assert first.exit_code == 0, first.output
    line = next(text for text in first.output.splitlines() if "with password:" in text)
    password = line.rsplit(": ", 1)[1]
    second = cli.invoke(args=["bootstrap"])
    assert second.exit_code == 0 and "with password" not in second.output
    with app.app_context():
        admins = db.session.scalars(select(User)).all()
        assert [(admin.email, admin.role_names, admin.email_verified) for admin in admins] == [
            ("admin@admin.com", ["superAdmin", "user"], True)]
        assert db.session.scalar(select(func.count()).select_from(SigningKey)) == 1
    assert AuthActions(app.test_client()).login("admin@admin.com", password).status_code == 303


def test_flask_db_runs_flask_migrate_with_its_options(cli, tmp_path):
    """`flask db` loads Flask-Migrate (and Alembic) only when run, as its own group: options included."""
    current = cli.invoke(args=["db", "current"])
    assert current.exit_code == 0, current.output
    elsewhere = cli.invoke(args=["db", "--directory", str(tmp_path / "no-migrations"), "current"])
    assert elsewhere.exit_code != 0  # the group's own option reached Alembic: no such folder


def test_bootstrap_uses_configured_password(make_app):
    app = make_app(SUPERADMIN_EMAIL="root@example.org", SUPERADMIN_PASSWORD="the configured admin passphrase")
    result = app.test_cli_runner().invoke(args=["bootstrap"])
    assert result.exit_code == 0 and "with password" not in result.output
    response = AuthActions(app.test_client()).login("root@example.org", "the configured admin passphrase")
    assert response.status_code == 303
