"""Settings: embedded defaults, generated secrets, and the production safety checks."""

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy import select

from app import create_app
from app.config import SettingsError
from app.config import check_settings
from app.config import derive_settings
from app.config import load_settings
from app.extensions import db
from app.models import LoginAttempt

from ..helpers import AuthActions

PRODUCTION = {
    "APP_ENV": "production",
    "ISSUER": "https://id.example.com",
    "SECRET_KEY": "s" * 40,
    "KEY_ENCRYPTION_SECRET": "k" * 40,
    "DATABASE_URL": "postgresql://idp@db/idp",
    "MAIL_SERVER": "smtp.example.com",
}


def settings(env, instance):
    config = load_settings(env)
    derive_settings(config, str(instance))
    return config


def test_defaults_need_no_environment(tmp_path):
    config = settings({}, tmp_path)
    assert config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{tmp_path / 'idp.sqlite3'}"
    assert config["REDIS_URL"] is None and config["RATELIMIT_STORAGE_URI"] == "memory://"
    assert config["ISSUER"] == "http://localhost:5000"
    assert config["SUPERADMIN_EMAIL"] == "admin@admin.com"
    assert (config["ACCESS_TOKEN_TTL"], config["SIGNING_ALG"], config["KEY_ROTATION_DAYS"]) == (900, "RS256", 30)
    assert config["EMAIL_VERIFICATION_REQUIRED"] is True and config["EMAIL_2FA_REQUIRED"] is False
    assert config["MAIL_SUPPRESS_SEND"] is True
    check_settings(config)


def test_generated_secrets_are_kept_private_and_stable(tmp_path):
    first = settings({}, tmp_path)
    second = settings({}, tmp_path)
    assert first["SECRET_KEY"] == second["SECRET_KEY"] and len(first["SECRET_KEY"]) >= 43
    assert first["KEY_ENCRYPTION_SECRET"] == second["KEY_ENCRYPTION_SECRET"] != first["SECRET_KEY"]
    for name in ("secret_key", "key_encryption_secret"):
        assert stat.S_IMODE(os.stat(tmp_path / name).st_mode) == 0o600


def test_environment_values_are_read_and_typed(tmp_path):
    config = settings({"ACCESS_TOKEN_TTL": "300", "EMAIL_2FA_REQUIRED": "yes", "REDIS_URL": "redis://r:6379/0",
                       "ISSUER": "https://id.example.com/", "DATABASE_URL": "postgres://u@h/d",
                       "SIGNING_ALG": "es256"}, tmp_path)
    assert config["ACCESS_TOKEN_TTL"] == 300 and config["EMAIL_2FA_REQUIRED"] is True
    assert config["RATELIMIT_STORAGE_URI"] == "redis://r:6379/0"
    assert config["ISSUER"] == "https://id.example.com" and config["ISSUER_IS_HTTPS"] is True
    assert config["SESSION_COOKIE_NAME"] == "__Host-state" and config["SESSION_COOKIE_SECURE"] is True
    assert config["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg2://u@h/d"
    # No ping per checkout (app/extensions.py recognises a closed connection without a round trip).
    assert "pool_pre_ping" not in config["SQLALCHEMY_ENGINE_OPTIONS"]
    assert config["SQLALCHEMY_ENGINE_OPTIONS"]["connect_args"]["keepalives"] == 1
    assert config["SIGNING_ALG"] == "ES256"


@pytest.mark.parametrize("env, message", [
    ({"ACCESS_TOKEN_TTL": "soon"}, "ACCESS_TOKEN_TTL must be a whole number"),
    ({"ACCESS_TOKEN_TTL": "0"}, "ACCESS_TOKEN_TTL must be at least 1"),
    ({"EMAIL_2FA_REQUIRED": "maybe"}, "EMAIL_2FA_REQUIRED must be true or false"),
], ids=["not-a-number", "too-small", "not-a-bool"])
def test_malformed_values_stop_start_up(tmp_path, env, message):
    with pytest.raises(SettingsError, match=message):
        settings(env, tmp_path)


@pytest.mark.parametrize("override, message", [
    ({"ISSUER": "ftp://id.example.com"}, "ISSUER must be an http"),
    ({"SIGNING_ALG": "HS256"}, "SIGNING_ALG must be RS256 or ES256"),
    ({"SESSION_IDLE_TTL": "7200", "SESSION_MAX_TTL": "3600"}, "SESSION_IDLE_TTL must not exceed"),
], ids=["issuer-scheme", "alg", "idle-over-max"])
def test_invalid_settings_stop_start_up(tmp_path, override, message):
    with pytest.raises(SettingsError, match=message):
        check_settings(settings(override, tmp_path))


@pytest.mark.parametrize("override, message", [
    ({"ISSUER": "http://id.example.com"}, "ISSUER must be an https URL in production"),
    ({"SECRET_KEY": ""}, "SECRET_KEY must be set in production"),
    ({"KEY_ENCRYPTION_SECRET": ""}, "KEY_ENCRYPTION_SECRET must be set in production"),
    ({"SECRET_KEY": "short"}, "SECRET_KEY must be at least 32 characters"),
    ({"MAIL_SERVER": ""}, "MAIL_SERVER must be set in production"),
], ids=["http-issuer", "no-secret-key", "no-key-secret", "short-secret", "no-mail-server"])
def test_unsafe_production_settings_stop_start_up(tmp_path, override, message):
    with pytest.raises(SettingsError, match=message):
        check_settings(settings({**PRODUCTION, **override}, tmp_path))


def test_flask_env_production_counts_too(tmp_path):
    env = {**PRODUCTION, "APP_ENV": "", "FLASK_ENV": "production", "ISSUER": "http://id.example.com"}
    with pytest.raises(SettingsError, match="https"):
        check_settings(settings(env, tmp_path))


def test_safe_production_settings_start(tmp_path):
    check_settings(settings(PRODUCTION, tmp_path))


def test_create_app_refuses_unsafe_production(monkeypatch):
    monkeypatch.setenv("APP_ENV", "production")
    monkeypatch.setenv("ISSUER", "http://id.example.com")
    with pytest.raises(SettingsError):
        create_app({"SECRET_KEY": "s" * 40, "KEY_ENCRYPTION_SECRET": "k" * 40})


def test_trusted_proxy_hops_apply_forwarded_for(make_app, make_user):
    """Behind one trusted proxy, login history records the client's address, not the proxy's."""
    app = make_app(TRUSTED_PROXY_HOPS=1)
    AuthActions(app.test_client()).login("x@example.com", "some password here",
                                         **{"X-Forwarded-For": "203.0.113.7"})
    with app.app_context():
        assert db.session.scalar(select(LoginAttempt.ip_address)) == "203.0.113.7"
    untrusting = make_app()
    AuthActions(untrusting.test_client()).login("x@example.com", "some password here",
                                                **{"X-Forwarded-For": "203.0.113.8"})
    with untrusting.app_context():
        assert "203.0.113.8" not in db.session.scalars(select(LoginAttempt.ip_address)).all()


ROOT = Path(__file__).resolve().parents[2]


def run_entry_point(args, tmp_path):
    """A real process of the installed entry point, in the project folder, with a bad setting."""
    env = {**os.environ, "ACCESS_TOKEN_TTL": "soon", "DATABASE_URL": f"sqlite:///{tmp_path / 'idp.sqlite3'}"}
    return subprocess.run([str(Path(sys.executable).parent / args[0]), *args[1:]], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("args", [["flask", "--app", "wsgi", "users", "list"],
                                  ["gunicorn", "--bind", "127.0.0.1:0", "--workers", "1", "wsgi:app"]],
                         ids=["flask", "gunicorn"])
def test_a_bad_setting_stops_the_entry_points_with_one_line(tmp_path, args):
    result = run_entry_point(args, tmp_path)
    message = "Configuration error: ACCESS_TOKEN_TTL must be a whole number, not 'soon'"
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    if args[0] == "flask":
        assert result.stderr.strip().splitlines() == [message]
    else:  # gunicorn's own log lines come and go around it (two processes share the stream)
        assert result.stderr.count(message) == 1 and "App failed to load" in result.stderr


def test_the_default_database_and_instance_folder_are_private(tmp_path):
    """make run's SQLite file is 0600 and its instance folder 0700, from the first start."""
    instance = tmp_path / "instance"
    config = settings({"SECRET_KEY": "s" * 40, "KEY_ENCRYPTION_SECRET": "k" * 40}, instance)
    engine = sa.create_engine(config["SQLALCHEMY_DATABASE_URI"])
    with engine.begin() as connection:
        connection.execute(sa.text("CREATE TABLE probe (id INTEGER)"))
    engine.dispose()
    assert stat.S_IMODE(os.stat(instance).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(instance / "idp.sqlite3").st_mode) == 0o600
