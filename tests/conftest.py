"""Fixtures: every test that touches data runs on SQLite and on PostgreSQL + Redis.

The ``backend`` fixture is parametrised: ``sqlite`` is the embedded default (SQLite, in-process
rate limits); ``postgresql`` is the production configuration (TEST_DATABASE_URL and
TEST_REDIS_URL). The schema comes from the migrations, once per backend; tables are emptied
after each test because services really commit. Under CI=true nothing is skipped: a missing
service fails the run.
"""

import os
import secrets
import shutil
import threading
from contextlib import contextmanager
from datetime import datetime
from datetime import timezone
from types import SimpleNamespace

import pytest
import redis
import sqlalchemy as sa
import time_machine
from flask_migrate import upgrade
from werkzeug.serving import make_server

from app import create_app
from app import schema
from app.extensions import db
from app.models import Permission
from app.models import role_permissions
from app.services import accounts
from app.services import mailer
from app.services import notices
from oauth import clients
from oauth import logout

from .helpers import AuthActions
from .helpers import Browser
from .helpers import Mailbox
from .helpers import PrivateRedis
from .helpers import require
from .helpers import reset_postgres
from .helpers import start_smtp

PASSWORD = "correct horse battery staple"
COLD_CACHES = {"KEY_RING_CHECK_INTERVAL": 0, "CLIENT_CACHE_CHECK_INTERVAL": 0, "DENYLIST_SYNC_INTERVAL": 0}
# Back-channel logout notices are delivered when a test says so (oauth.logout.deliver_pending); a
# test of the delivery thread itself turns it on.
NO_BACKGROUND_DELIVERY = {"BACKCHANNEL_LOGOUT_WORKER": False}


@pytest.fixture(scope="session")
def secrets_config():
    return {"SECRET_KEY": secrets.token_urlsafe(32), "KEY_ENCRYPTION_SECRET": secrets.token_urlsafe(32)}


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def backend(request, tmp_path_factory, secrets_config):
    """One database per backend, migrated to head once."""
    if request.param == "sqlite":
        folder = tmp_path_factory.mktemp("sqlite")
        database_url = f"sqlite:///{folder / 'test.sqlite3'}"
        redis_url = None
    else:
        database_url = os.environ.get("TEST_DATABASE_URL")
        redis_url = os.environ.get("TEST_REDIS_URL")
        require(bool(database_url and redis_url), "TEST_DATABASE_URL and TEST_REDIS_URL are not set")
        reset_postgres(database_url)
    config = {**secrets_config, "DATABASE_URL": database_url, "REDIS_URL": redis_url}
    app = create_app(config)
    schema.use_migrations(app)
    with app.app_context():
        upgrade()
        # The migrations' mapping of permissions onto the built-in roles, restored after each test.
        seeded = [dict(row) for row in db.session.execute(role_permissions.select()).mappings()]
        seeded_permissions = list(db.session.scalars(sa.select(Permission.id)))
        db.session.rollback()
        db.engine.dispose()
    return SimpleNamespace(name=request.param, database_url=database_url, redis_url=redis_url,
                           config=config, seeded_role_permissions=seeded,
                           seeded_permissions=seeded_permissions)


@pytest.fixture(scope="session")
def smtp_server():
    """A real SMTP server (aiosmtpd) on loopback for the whole run."""
    mailbox = Mailbox()
    controller, port = start_smtp(mailbox)
    yield SimpleNamespace(port=port, mailbox=mailbox)
    controller.stop()


@pytest.fixture
def mailbox(smtp_server):
    """What the server mailed during this test."""
    smtp_server.mailbox.clear()
    return smtp_server.mailbox


@pytest.fixture
def make_app(backend, smtp_server):
    """Build an app on the test backend with overrides; each is cleaned up after the test.

    Mail goes by SMTP to the test server (``mailbox``). Every cache check interval is 0, so the
    background checks run inside the requests under test (the shape of a quiet server); a test
    of the intervals themselves sets them."""
    built = []

    def factory(**overrides):
        config = {**backend.config, "EMAIL_VERIFICATION_REQUIRED": True, "MAIL_SERVER": "127.0.0.1",
                  "MAIL_PORT": smtp_server.port, "MAIL_DEFAULT_SENDER": "idp@example.com",
                  **COLD_CACHES, **NO_BACKGROUND_DELIVERY, **overrides}
        app = create_app(config)
        app.config["TESTING"] = True
        built.append(app)
        smtp_server.mailbox.watch(app)
        return app

    yield factory
    # Mail still on its way is delivered before the tables go (and never lands in the next test).
    for app in built:
        assert mailer.wait_until_idle(app, timeout=30), "mail still pending after 30 s"
        logout.stop_worker(app)
    smtp_server.mailbox.apps.clear()
    if built:
        with built[0].app_context():
            _empty_tables(backend)
        for app in built:
            notices.close(app)
            with app.app_context():
                db.engine.dispose()
        if backend.redis_url:
            redis.Redis.from_url(backend.redis_url).flushdb()


def _empty_tables(backend) -> None:
    db.session.rollback()
    keep = {"alembic_version", "roles", "permissions"}
    for table in reversed(db.metadata.sorted_tables):
        if table.name not in keep:
            db.session.execute(table.delete())
    # Roles and permissions seeded by the migrations stay, mapped as seeded; roles a test added go.
    db.session.execute(sa.text("DELETE FROM roles WHERE name NOT IN ('superAdmin', 'admin', 'user')"))
    db.session.execute(sa.delete(Permission).where(Permission.id.not_in(backend.seeded_permissions)))
    db.session.execute(role_permissions.insert(), backend.seeded_role_permissions)
    db.session.commit()


@pytest.fixture
def app(make_app):
    return make_app()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def auth(client):
    return AuthActions(client)


@pytest.fixture
def make_user(app):
    """Create an account through the service; returns its id, email and password."""

    def factory(email=None, password=PASSWORD, fullname="Ada Lovelace", verified=True, roles=()):
        email = email or f"user-{secrets.token_hex(4)}@example.com"
        with app.app_context():
            user = accounts.create_user(email, password, fullname, verified=verified,
                                        extra_roles=frozenset(roles))
            return SimpleNamespace(id=user.id, email=user.email, password=password)

    return factory


@pytest.fixture
def user(make_user):
    return make_user()


@pytest.fixture
def signed_in(client, user):
    """A test client signed in as ``user`` through the login page."""
    assert AuthActions(client).login(user.email, user.password).status_code == 303
    return client


@pytest.fixture
def browser_as(app, make_user):
    """A browser (test client, CSRF token at hand) signed in as a new user holding ``roles``;
    ``.user`` is the account."""

    def factory(*roles, **user_fields):
        user = make_user(roles=roles, **user_fields)
        browser = Browser(app, user)
        browser.user = user
        return browser

    return factory


@pytest.fixture
def private_redis(backend):
    """A redis-server of the test's own on a free port, to stop, flush or cut (never the shared one)."""
    require(shutil.which("redis-server") is not None, "redis-server is not installed")
    server = PrivateRedis()
    yield server
    if server.process.poll() is None:
        server.stop()


@pytest.fixture
def make_client(app):
    """Register an application through the service; returns its id, secret and redirect URIs."""

    def factory(public=False, redirect_uris=("https://app.example.com/callback",), grant_types=None,
                scope=None, skip_consent=False, post_logout_redirect_uris=(), name="Example App",
                introspect=False):
        with app.app_context():
            application, secret = clients.register(
                name, list(redirect_uris), public=public, grant_types=grant_types, scope=scope,
                post_logout_redirect_uris=list(post_logout_redirect_uris), skip_consent=skip_consent,
                introspect=introspect)
            return SimpleNamespace(client_id=application.client_id, client_secret=secret,
                                   redirect_uris=list(application.redirect_uris), public=public)

    return factory


@pytest.fixture
def sql_statements():
    """``with sql_statements(app) as sent:`` lists every statement ``app`` sends to its database,
    and every connection it takes from its pool (as "checkout"), inside the block."""

    @contextmanager
    def watch(app):
        sent = []

        def statement(conn, cursor, text, parameters, context, executemany):
            sent.append(text)

        def checkout(dbapi_connection, record, proxy):
            sent.append("checkout")

        with app.app_context():
            engine = db.engine
        sa.event.listen(engine, "before_cursor_execute", statement)
        sa.event.listen(engine.pool, "checkout", checkout)
        try:
            yield sent
        finally:
            sa.event.remove(engine, "before_cursor_execute", statement)
            sa.event.remove(engine.pool, "checkout", checkout)

    return watch


@pytest.fixture
def clock():
    """Frozen time that a test moves with ``clock.shift(seconds)``."""
    with time_machine.travel(datetime(2026, 3, 1, 9, 0, tzinfo=timezone.utc), tick=False) as traveller:
        yield traveller


@pytest.fixture
def live_server(app):
    """The app served over real HTTP on 127.0.0.1 (a free port), in a thread."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield SimpleNamespace(url=f"http://127.0.0.1:{server.server_port}", app=app)
    server.shutdown()
    thread.join()


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    require(os.path.exists("/usr/bin/chromium"), "Chromium is not installed at /usr/bin/chromium")
    return {
        **browser_type_launch_args,
        "executable_path": "/usr/bin/chromium",
        "args": ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"],
    }
