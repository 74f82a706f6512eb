"""A database or Redis outage answers 503 (never a 500), and the service recovers by itself.

The dependencies are real; a TCP proxy in front of each one is cut and restored.
"""

from urllib.parse import urlsplit

import pytest

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
