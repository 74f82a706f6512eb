"""Revoked access tokens stay revoked: every revocation path, every process, whatever Redis does.

Issuing an access token writes nothing; a revocation writes ``token_revocations`` (a jti, or a
"not before" mark on a session, grant family, application, user or user's grant), and each
application object checks its in-memory mirror of that table (``oauth.revocations``). These tests
revoke through each path and check the token at introspection, userinfo and as a bearer token on
the account API, in this application object and in another one; then that a token issued after
the revocation lives. The Redis tests run a private ``redis-server`` without persistence
(restarting the shared one would disturb other runs) and a TCP proxy in front of it to cut the
connection while keeping its data.
"""

from types import SimpleNamespace

import pytest
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy import update

from app.clock import now
from app.extensions import db
from app.services import accounts
from oauth import clients
from oauth import consent
from oauth.models import Application
from oauth.models import RefreshToken
from oauth.models import TokenRevocation

from ..helpers import INACTIVE
from ..helpers import NEW_PASSWORD
from ..helpers import AuthActions
from ..helpers import TcpProxy
from ..helpers import bearer
from ..helpers import claims_of
from ..helpers import exchange
from ..helpers import get_code
from ..helpers import grant_tokens
from ..helpers import introspect
from ..helpers import production_only
from ..helpers import refresh
from ..helpers import revoke
from ..helpers import wait_until

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


def stopped(http, resource_server, access_token) -> bool:
    return introspect(http, resource_server, access_token) == INACTIVE


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


def sign_in(app, email, password):
    browser = app.test_client()
    assert AuthActions(browser).login(email, password).status_code == 303
    return browser


# --- item: every revocation path denies everywhere; what is issued after it lives ---------------------------
# Each path revokes ``case.issued`` and returns a browser that can be issued a new token, or None.

def by_revocation_endpoint(case):
    assert revoke(case.browser, case.application, case.issued["access_token"]).status_code == 200
    return case.browser


def by_refresh_token_revocation(case):
    """RFC 7009 §2.1: revoking a refresh token revokes the access tokens of its grant."""
    assert revoke(case.browser, case.application, case.issued["refresh_token"]).status_code == 200
    return case.browser


def by_refresh_token_reuse(case):
    """RFC 9700 §4.14.2: a rotated refresh token presented again kills the whole family."""
    rotated = refresh(case.browser, case.application, case.issued["refresh_token"]).get_json()
    assert refresh(case.browser, case.application, case.issued["refresh_token"]).status_code == 400
    assert_stopped(case.browser, case.resource_server, rotated["access_token"])
    return case.browser


def by_sign_out(case):
    assert AuthActions(case.browser).logout().status_code == 303
    return sign_in(case.app, case.user.email, case.user.password)


def by_password_change(case):
    with case.app.app_context():
        accounts.set_password(case.user.email, NEW_PASSWORD)
    return sign_in(case.app, case.user.email, NEW_PASSWORD)


def by_deactivation(case):
    with case.app.app_context():
        accounts.deactivate(case.user.email)


def by_grant_withdrawal(case):
    with case.app.app_context():
        assert consent.revoke(case.user.id, case.application.client_id)
    return case.browser  # consents again


def by_application_deletion(case):
    with case.app.app_context():
        clients.delete(case.application.client_id)


PATHS = [by_revocation_endpoint, by_refresh_token_revocation, by_refresh_token_reuse, by_sign_out,
         by_password_change, by_deactivation, by_grant_withdrawal, by_application_deletion]


@pytest.mark.parametrize("path", PATHS, ids=[path.__name__ for path in PATHS])
def test_every_revocation_path_denies_everywhere_and_later_tokens_live(app, make_app, make_user, application,
                                                                       resource_server, path):
    user = make_user()
    browser = sign_in(app, user.email, user.password)
    issued = grant_tokens(browser, application, scope=SCOPE)
    other = make_app().test_client()  # another application object: its own mirror
    assert_working(browser, resource_server, issued["access_token"])
    assert_working(other, resource_server, issued["access_token"])

    again = path(SimpleNamespace(app=app, user=user, browser=browser, application=application,
                                 resource_server=resource_server, issued=issued))

    assert_stopped(browser, resource_server, issued["access_token"])
    assert_stopped(other, resource_server, issued["access_token"])
    if again is not None:
        # Issued right after the revocation (within the same second, as a rule): it lives.
        later = grant_tokens(again, application, scope=SCOPE)
        assert_working(again, resource_server, later["access_token"])
        assert_working(other, resource_server, later["access_token"])


def test_a_reused_code_revokes_its_exchange_without_a_refresh_token(signed_in, make_client, resource_server):
    """RFC 6749 §4.1.2: the exchange's access token names its grant (``fam``) even when no refresh
    token was issued, so the code's second use revokes it; a new code's token lives."""
    application = make_client(skip_consent=True, grant_types=["authorization_code"], scope=SCOPE)
    authorization, code = get_code(signed_in, application, scope=SCOPE)
    first = exchange(signed_in, application, authorization, code).get_json()
    assert "refresh_token" not in first and claims_of(first["access_token"])[1]["fam"]
    assert_working(signed_in, resource_server, first["access_token"])
    assert exchange(signed_in, application, authorization, code).get_json()["error"] == "invalid_grant"
    assert_stopped(signed_in, resource_server, first["access_token"])
    authorization, code = get_code(signed_in, application, scope=SCOPE)
    assert_working(signed_in, resource_server, exchange(signed_in, application, authorization, code)
                   .get_json()["access_token"])


def test_marks_compare_issue_times_below_the_second(clock, app, make_user, application, resource_server):
    """A token issued 100 ms before a password change in the same second is denied; one issued
    after it in that second (the new sign-in) lives. ``iat`` stays a whole second."""
    user = make_user()
    before = grant_tokens(sign_in(app, user.email, user.password), application, scope=SCOPE)
    clock.shift(0.1)
    with app.app_context():
        accounts.set_password(user.email, NEW_PASSWORD)
    clock.shift(0.1)
    browser = sign_in(app, user.email, NEW_PASSWORD)
    after = grant_tokens(browser, application, scope=SCOPE)
    assert claims_of(before["access_token"])[1]["iat"] == claims_of(after["access_token"])[1]["iat"]
    assert_stopped(browser, resource_server, before["access_token"])
    assert_working(browser, resource_server, after["access_token"])


# --- item: other processes learn at once, or from the database ------------------------------------------

def test_another_application_object_learns_a_revocation_from_the_notice(app, make_app, signed_in, application,
                                                                        resource_server):
    """Its sync interval is an hour: only the change notice explains that it stops the token."""
    other = make_app(DENYLIST_SYNC_INTERVAL=3600).test_client()
    revoked, live = grant_tokens(signed_in, application, scope=SCOPE), grant_tokens(signed_in, application, SCOPE)
    assert_working(other, resource_server, revoked["access_token"])  # its mirror is loaded
    assert revoke(signed_in, application, revoked["access_token"]).status_code == 200
    wait_until(lambda: stopped(other, resource_server, revoked["access_token"]))
    assert_stopped(other, resource_server, revoked["access_token"])
    assert_working(other, resource_server, live["access_token"])


def test_a_lost_notice_is_caught_up_from_the_database(clock, app, make_app, private_redis, signed_in,
                                                      application, resource_server):
    """The other application object listens on another Redis, so no notice reaches it: it reads
    the revocation from the database when its DENYLIST_SYNC_INTERVAL has passed."""
    other = make_app(DENYLIST_SYNC_INTERVAL=10, REDIS_URL=private_redis.url).test_client()
    issued = grant_tokens(signed_in, application, scope=SCOPE)
    assert_working(other, resource_server, issued["access_token"])
    assert revoke(signed_in, application, issued["access_token"]).status_code == 200
    assert_working(other, resource_server, issued["access_token"])  # told nothing, no read due yet
    clock.shift(10)
    assert_stopped(other, resource_server, issued["access_token"])


# --- item: Redis carries notices only; nothing revoked comes back (PostgreSQL + Redis only) ----------------

@production_only
@pytest.mark.parametrize("what", ["restart", "flush"])
def test_revoked_token_stays_revoked_when_redis_restarts_or_is_flushed(make_app, private_redis, make_user,
                                                                       application, resource_server, what):
    app = make_app(REDIS_URL=private_redis.url, DENYLIST_SYNC_INTERVAL=3600)
    user = make_user()
    browser = sign_in(app, user.email, user.password)
    revoked, live = grant_tokens(browser, application, scope=SCOPE), grant_tokens(browser, application, SCOPE)
    signed_out = grant_tokens(browser, application, scope=SCOPE)
    assert revoke(browser, application, revoked["access_token"]).status_code == 200
    assert_stopped(browser, resource_server, revoked["access_token"])

    if what == "restart":
        private_redis.restart()
    else:
        private_redis.client().flushall()

    newcomer = make_app(REDIS_URL=private_redis.url, DENYLIST_SYNC_INTERVAL=3600).test_client()
    for http in (browser, newcomer):
        assert_stopped(http, resource_server, revoked["access_token"])
        assert_working(http, resource_server, live["access_token"])
    with app.app_context():
        accounts.set_password(user.email, NEW_PASSWORD)  # after the restart: the notice still travels
    wait_until(lambda: stopped(newcomer, resource_server, signed_out["access_token"]))


@production_only
def test_revocations_made_while_redis_is_unreachable_reach_every_process(clock, make_app, redis_proxy, make_user,
                                                                         application, resource_server):
    """The revoking process applies its revocation at once; the other, whose notice was lost,
    reads it from the database when its sync falls due, and it stays after Redis returns."""
    settings = {"REDIS_URL": redis_proxy.url, "DENYLIST_SYNC_INTERVAL": 10}
    app, other = make_app(**settings), make_app(**settings).test_client()
    user = make_user()
    browser = sign_in(app, user.email, user.password)
    revoked, live = grant_tokens(browser, application, scope=SCOPE), grant_tokens(browser, application, SCOPE)
    assert_working(other, resource_server, revoked["access_token"])

    redis_proxy.cut()
    assert revoke(browser, application, revoked["access_token"]).status_code == 200
    assert_stopped(browser, resource_server, revoked["access_token"])
    clock.shift(10)
    assert_stopped(other, resource_server, revoked["access_token"])
    redis_proxy.restore()

    clock.shift(10)
    for http in (browser, other):
        assert_stopped(http, resource_server, revoked["access_token"])
        assert_working(http, resource_server, live["access_token"])


# --- item: the table holds what can still deny, not history ---------------------------------------------

def test_expired_revocations_are_pruned(clock, app, make_user, application, resource_server):
    user = make_user()
    browser = sign_in(app, user.email, user.password)
    issued = grant_tokens(browser, application, scope=SCOPE)
    assert revoke(browser, application, issued["access_token"]).status_code == 200
    assert AuthActions(browser).logout().status_code == 303
    with app.app_context():
        assert sorted(db.session.scalars(select(TokenRevocation.kind))) == ["jti", "session"]
    clock.shift(app.config["ACCESS_TOKEN_TTL"] + 1)  # every token they could deny has expired
    browser = sign_in(app, user.email, user.password)
    again = grant_tokens(browser, application, scope=SCOPE)
    assert revoke(browser, application, again["access_token"]).status_code == 200
    with app.app_context():
        rows = db.session.execute(select(TokenRevocation.kind, TokenRevocation.subject)).all()
        assert [tuple(row) for row in rows] == [("jti", claims_of(again["access_token"])[1]["jti"])]
    assert_stopped(browser, resource_server, again["access_token"])


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
        deleted = db.session.scalar(select(Application.id).where(Application.client_id == application.client_id))
        marks = db.session.scalar(select(func.count()).select_from(TokenRevocation).where(
            TokenRevocation.kind == "application", TokenRevocation.subject == str(deleted)))
        assert marks == 1
        families = db.session.scalars(select(RefreshToken.revoked_at)).all()
        assert families and all(revoked_at is not None for revoked_at in families)


def test_tokens_of_an_application_deleted_without_revoking_them_are_refused(app, signed_in, application,
                                                                            resource_server):
    """An application deleted before deletion revoked its tokens (an older release) has no mark:
    validation itself sees the application is gone, so userinfo is 401, not a 500."""
    issued = grant_tokens(signed_in, application, scope=SCOPE)
    with app.app_context():
        db.session.execute(update(Application).where(Application.client_id == application.client_id)
                           .values(deleted_at=now()))
        db.session.commit()
        clients.invalidate()
    assert_stopped(signed_in, resource_server, issued["access_token"])
