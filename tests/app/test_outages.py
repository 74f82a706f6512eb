"""A database or Redis outage answers 503 (never a 500), and the service recovers by itself.

The dependencies are real; a TCP proxy in front of each one is cut and restored.
"""

from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa

from app.extensions import db
from keys import ring

from ..helpers import AuthActions
from ..helpers import TcpProxy
from ..helpers import production_only

pytestmark = production_only


def proxied(url: str, proxy: TcpProxy) -> str:
    parts = urlsplit(url)
    return parts._replace(netloc=parts.netloc.replace(f"{parts.hostname}:{parts.port}",
                                                      f"127.0.0.1:{proxy.port}")).geturl()


@pytest.fixture
def database_proxy(backend):
    parts = urlsplit(backend.database_url)
    proxy = TcpProxy(parts.hostname, parts.port or 5432)
    yield proxy
    proxy.close()


@pytest.fixture
def redis_proxy(backend):
    parts = urlsplit(backend.redis_url)
    proxy = TcpProxy(parts.hostname, parts.port or 6379)
    yield proxy
    proxy.close()


def test_database_outage_gives_503_then_recovers(backend, database_proxy, make_app, make_user):
    app = make_app(DATABASE_URL=proxied(backend.database_url, database_proxy), KEY_RING_CHECK_INTERVAL=0)
    with app.app_context():
        ring.ensure_ready()
    user = make_user()
    client = app.test_client()
    assert AuthActions(client).login(user.email, user.password).status_code == 303

    database_proxy.cut()
    api = client.get("/currentuser")
    assert api.status_code == 503
    assert api.headers["Content-Type"] == "application/problem+json"
    assert api.headers["Retry-After"] == "5"
    assert api.get_json()["title"] == "Service Unavailable"
    page = AuthActions(app.test_client()).login(user.email, user.password)
    assert page.status_code == 503 and page.headers["Content-Type"].startswith("text/html")
    assert "Traceback" not in page.text
    health = client.get("/admin/health")
    assert health.status_code == 503
    assert health.get_json()["components"]["database"] == "unavailable"
    assert client.get("/health").status_code == 200  # liveness does not depend on the database
    jwks = client.get("/.well-known/jwks.json")  # verifiers keep the keys this process holds
    assert jwks.status_code == 200 and len(jwks.get_json()["keys"]) == 1

    database_proxy.restore()
    assert client.get("/currentuser").status_code == 200
    assert client.get("/admin/health").status_code == 200


def test_redis_outage_keeps_sign_in_working_and_readiness_says_so(backend, redis_proxy,
                                                                  make_app, make_user):
    """Rate limits fall back to per-process memory while Redis is away; readiness names Redis."""
    app = make_app(REDIS_URL=proxied(backend.redis_url, redis_proxy))
    with app.app_context():
        ring.ensure_ready()
    user = make_user()
    client = app.test_client()
    assert client.get("/admin/health").status_code == 200

    redis_proxy.cut()
    health = client.get("/admin/health")
    assert health.status_code == 503
    assert health.get_json()["components"] == {"database": "ok", "redis": "unavailable", "keys": "ok"}
    assert AuthActions(client).login(user.email, user.password).status_code == 303
    assert client.get("/currentuser").status_code == 200

    redis_proxy.restore()
    assert client.get("/admin/health").status_code == 200


def test_connections_the_server_ended_are_replaced_before_the_next_request(backend, make_app, make_user):
    """No ping per checkout: the pooled connections an administrator terminates between two requests
    are recognised when taken from the pool and replaced, and the next requests answer as usual."""
    app = make_app(KEY_RING_CHECK_INTERVAL=0)
    with app.app_context():
        ring.ensure_ready()
    user = make_user()
    client = app.test_client()
    assert AuthActions(client).login(user.email, user.password).status_code == 303
    assert client.get("/currentuser").status_code == 200
    with app.app_context():
        pool_size = db.engine.pool.checkedin()
    assert pool_size >= 1
    with sa.create_engine(backend.database_url.replace("postgresql://", "postgresql+psycopg2://")).connect() as admin:
        ended = admin.execute(sa.text("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                                      "WHERE datname = current_database() AND pid <> pg_backend_pid()")).scalar()
    assert ended >= pool_size
    for _ in range(3):
        answer = client.get("/currentuser")
        assert answer.status_code == 200 and answer.get_json()["email"] == user.email
    assert AuthActions(app.test_client()).login(user.email, user.password).status_code == 303


def test_a_connection_ended_while_a_request_holds_it_does_not_turn_the_answer_into_a_500(backend, make_app):
    """The server ends the connection of a unit of work that has read and is done: the rollback at the
    end of the context meets a dead connection, which is discarded without an error (the answer stands)."""
    app = make_app()
    with app.app_context():
        held = db.session.execute(sa.text("SELECT pg_backend_pid()")).scalar()
        url = backend.database_url.replace("postgresql://", "postgresql+psycopg2://")
        with sa.create_engine(url).connect() as admin:
            assert admin.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": held}).scalar() is True
    with app.app_context():
        assert db.session.execute(sa.text("SELECT pg_backend_pid()")).scalar() != held


def test_the_jwks_is_a_503_while_the_database_is_away_before_the_ring_was_read(backend, database_proxy, make_app):
    """The prebuilt JWKS needs the ring read once: with the database away before that, the answer is
    the usual 503 problem, never a bare 500."""
    app = make_app(DATABASE_URL=proxied(backend.database_url, database_proxy))
    with app.app_context():
        ring.ensure_ready()
    fresh = make_app(DATABASE_URL=proxied(backend.database_url, database_proxy))
    database_proxy.cut()
    response = fresh.test_client().get("/.well-known/jwks.json")
    assert response.status_code == 503 and response.headers["Retry-After"] == "5"
    database_proxy.restore()
    assert fresh.test_client().get("/.well-known/jwks.json").status_code == 200


def test_with_redis_away_only_the_limited_views_fall_back_to_memory_limits(backend, redis_proxy, make_app, make_user):
    """The in-memory fallback limits while Redis is away apply to the views that declare a limit,
    never to the endpoints without one (a Redis outage must not cap the protocol endpoints)."""
    app = make_app(REDIS_URL=proxied(backend.redis_url, redis_proxy), LOGIN_RATE_LIMIT_IP="2 per minute")
    with app.app_context():
        ring.ensure_ready()
    user = make_user()
    client = app.test_client()
    redis_proxy.cut()
    auth = AuthActions(client)
    assert [auth.login(user.email, "wrong password number one").status_code for _ in range(3)] == [400, 400, 429]
    unlimited = ["/health", "/.well-known/openid-configuration?via=flask", "/.well-known/jwks.json?via=flask"]
    assert [client.get(path).status_code for path in unlimited * 3] == [200] * 9
    redis_proxy.restore()
