"""Revocations outlive Redis, and a deleted application's tokens stop everywhere at once.

The database is the source of truth for revocations; the Redis denylist is a cache that a restart,
a flush or an outage may empty or make stale at any moment. The Redis tests run a private
``redis-server`` without persistence (restarting the shared one would disturb other runs) and a
TCP proxy in front of it to cut the connection while keeping its data.
"""


import pytest
from sqlalchemy import select
from sqlalchemy import update

from app.clock import now
from app.extensions import db
from oauth import clients
from oauth import tokens as token_service
from oauth.models import AccessToken
from oauth.models import Application
from oauth.models import RefreshToken

from ..helpers import INACTIVE
from ..helpers import AuthActions
from ..helpers import TcpProxy
from ..helpers import bearer
from ..helpers import grant_tokens
from ..helpers import introspect
from ..helpers import production_only
from ..helpers import refresh
from ..helpers import revoke

SCOPE = "openid profile email account"


@pytest.fixture
def redis_proxy(private_redis):
    proxy = TcpProxy("127.0.0.1", private_redis.port)
    proxy.url = f"redis://127.0.0.1:{proxy.port}/0"
    yield proxy
    proxy.close()


@pytest.fixture
def resource_server(make_client):
    return make_client(redirect_uris=(), grant_types=["client_credentials"], name="Resource Server",
                       introspect=True)


@pytest.fixture
def application(make_client):
    return make_client(scope=SCOPE)


def assert_stopped(http, resource_server, access_token):
    """Introspection inactive; userinfo, /currentuser and /api/v1/me 401 (never 200, never 500)."""
    assert introspect(http, resource_server, access_token) == INACTIVE
    userinfo = http.get("/oauth/userinfo", headers=bearer(access_token))
    assert userinfo.status_code == 401 and 'error="invalid_token"' in userinfo.headers["WWW-Authenticate"]
    outsider = http.application.test_client()
    assert outsider.get("/currentuser", headers=bearer(access_token)).status_code == 401
    assert outsider.get("/api/v1/me", headers=bearer(access_token)).status_code == 401


def assert_working(http, resource_server, access_token):
    assert introspect(http, resource_server, access_token)["active"] is True
    assert http.get("/oauth/userinfo", headers=bearer(access_token)).status_code == 200
    outsider = http.application.test_client()
    assert outsider.get("/currentuser", headers=bearer(access_token)).status_code == 200
    assert outsider.get("/api/v1/me", headers=bearer(access_token)).status_code == 200


def jti_of(app, access_token) -> str:
    from keys import ring
    with app.app_context():
        return ring.verify(access_token, typ="at+jwt")["jti"]


# --- item: the denylist survives Redis (PostgreSQL + Redis only) ----------------------------------------

@production_only
@pytest.mark.parametrize("how", ["revocation endpoint", "sign-out"])
def test_revoked_token_stays_revoked_after_redis_restarts(make_app, private_redis, make_user, application,
                                                          resource_server, how):
    """Revoke, restart a Redis without persistence: inactive, 401 everywhere; the set is refilled."""
    app = make_app(REDIS_URL=private_redis.url)
    user = make_user()
    browser = app.test_client()
    assert AuthActions(browser).login(user.email, user.password).status_code == 303
    issued = grant_tokens(browser, application, scope=SCOPE)
    assert_working(browser, resource_server, issued["access_token"])
    if how == "revocation endpoint":
        assert revoke(browser, application, issued["access_token"]).status_code == 200
    else:
        assert AuthActions(browser).logout().status_code == 303
    assert_stopped(browser, resource_server, issued["access_token"])

    private_redis.restart()

    assert_stopped(browser, resource_server, issued["access_token"])
    # The first check after the restart refilled the denylist from the database and marked it complete.
    cache = private_redis.client()
    assert cache.zscore(token_service.Denylist.KEY, jti_of(app, issued["access_token"]))
    assert cache.zscore(token_service.Denylist.KEY, token_service.Denylist.MARKER) is not None


@production_only
def test_revoked_token_stays_revoked_after_redis_is_flushed(make_app, private_redis, make_user, application,
                                                            resource_server):
    app = make_app(REDIS_URL=private_redis.url)
    user = make_user()
    browser = app.test_client()
    assert AuthActions(browser).login(user.email, user.password).status_code == 303
    revoked, live = grant_tokens(browser, application, scope=SCOPE), grant_tokens(browser, application, scope=SCOPE)
    assert revoke(browser, application, revoked["access_token"]).status_code == 200

    private_redis.client().flushall()

    assert_stopped(browser, resource_server, revoked["access_token"])
    assert_working(browser, resource_server, live["access_token"])


@production_only
def test_redis_down_at_check_time_answers_from_the_database(make_app, redis_proxy, make_user, application,
                                                            resource_server):
    """With Redis unreachable, a revoked token is refused and a live one accepted: no 500."""
    app = make_app(REDIS_URL=redis_proxy.url)
    user = make_user()
    browser = app.test_client()
    assert AuthActions(browser).login(user.email, user.password).status_code == 303
    revoked, live = grant_tokens(browser, application, scope=SCOPE), grant_tokens(browser, application, scope=SCOPE)
    assert revoke(browser, application, revoked["access_token"]).status_code == 200

    redis_proxy.cut()

    assert_stopped(browser, resource_server, revoked["access_token"])
    assert_working(browser, resource_server, live["access_token"])


@production_only
def test_revocation_while_redis_is_unreachable_survives_its_return_with_old_data(
        clock, make_app, private_redis, redis_proxy, make_user, application, resource_server):
    """Redis comes back with the denylist it had before the revocations. The revoking process
    pushes its revocation before it trusts Redis again; a revocation whose process never speaks
    to Redis again reaches the others from the database when their sync falls due."""
    url = redis_proxy.url
    synced_every = {"REDIS_URL": url, "DENYLIST_SYNC_INTERVAL": 10}  # the interval is under test here
    app, other, departed = make_app(**synced_every), make_app(**synced_every), make_app(**synced_every)
    user = make_user()
    browser = app.test_client()
    assert AuthActions(browser).login(user.email, user.password).status_code == 303
    first, second = grant_tokens(browser, application, scope=SCOPE), grant_tokens(browser, application, scope=SCOPE)
    assert_working(browser, resource_server, first["access_token"])  # the denylist is loaded and marked
    assert_working(other.test_client(), resource_server, second["access_token"])
    marker = private_redis.client().zscore(token_service.Denylist.KEY, token_service.Denylist.MARKER)
    assert marker is not None  # so only a sync, not a refill, can bring the missed revocation

    redis_proxy.cut()
    assert revoke(browser, application, first["access_token"]).status_code == 200
    assert revoke(departed.test_client(), application, second["access_token"]).status_code == 200
    redis_proxy.restore()

    assert_stopped(browser, resource_server, first["access_token"])
    clock.shift(other.config["DENYLIST_SYNC_INTERVAL"])
    assert_stopped(other.test_client(), resource_server, second["access_token"])
    assert_stopped(other.test_client(), resource_server, first["access_token"])
    synced = private_redis.client().zscore(token_service.Denylist.KEY, token_service.Denylist.MARKER)
    assert synced < marker  # scored -T: the sync moved the marker on


# --- item: a deleted application's tokens stop everywhere at once (both backends) ---------------------------

def test_deleting_an_application_stops_its_tokens_everywhere(app, make_app, signed_in, application,
                                                             resource_server):
    """userinfo, introspection, /api/v1/me and /currentuser: 401 invalid_token / inactive, on this
    process and on another one whose application cache still holds the application."""
    issued = grant_tokens(signed_in, application, scope=SCOPE)
    other = make_app().test_client()
    assert_working(signed_in, resource_server, issued["access_token"])
    assert_working(other, resource_server, issued["access_token"])

    with app.app_context():
        clients.delete(application.client_id)

    for http in (signed_in, other):
        assert_stopped(http, resource_server, issued["access_token"])
        assert introspect(http, resource_server, issued["refresh_token"]) == INACTIVE
    assert refresh(signed_in, application, issued["refresh_token"]).status_code in (400, 401)
    with app.app_context():
        record = db.session.scalar(select(AccessToken).where(
            AccessToken.jti == jti_of(app, issued["access_token"])))
        assert record.revoked_at is not None
        families = db.session.scalars(select(RefreshToken.revoked_at)).all()
        assert families and all(revoked_at is not None for revoked_at in families)


def test_tokens_of_an_application_deleted_without_revoking_them_are_refused(app, signed_in, application,
                                                                            resource_server):
    """An application deleted before deletion revoked its tokens (an older release) has live token
    records: validation itself sees the application is gone, so userinfo is 401, not a 500."""
    issued = grant_tokens(signed_in, application, scope=SCOPE)
    with app.app_context():
        db.session.execute(update(Application).where(Application.client_id == application.client_id)
                           .values(deleted_at=now()))
        db.session.commit()
        clients.invalidate()
    assert_stopped(signed_in, resource_server, issued["access_token"])
