"""Server-side sessions: logout, idle and absolute expiry, throttled last_seen, https cookies."""

from datetime import datetime
from datetime import timezone
from uuid import UUID

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import UserSession
from app.services import accounts
from app.services import sessions

from ..helpers import AuthActions
from ..helpers import Browser
from ..helpers import TcpProxy
from ..helpers import production_only
from ..helpers import wait_until


def session_row(app):
    with app.app_context():
        return db.session.scalar(select(UserSession))


def test_logout_makes_the_cookie_useless_at_once(app, client, auth, user):
    """After logout, replaying the old cookie opens nothing."""
    auth.login(user.email, user.password)
    cookie = client.get_cookie("idp_session").value
    assert client.get("/currentuser").status_code == 200
    response = auth.logout()
    assert response.status_code == 303 and response.headers["Location"] == "/login"
    assert client.get_cookie("idp_session") is None
    replay = app.test_client()
    replay.set_cookie("idp_session", cookie)
    assert replay.get("/currentuser").status_code == 401
    assert session_row(app).revoked_at is not None


def test_logout_get_only_asks_for_confirmation(client, auth, user):
    """A GET (a link, an image) never signs anyone out."""
    auth.login(user.email, user.password)
    page = client.get("/logout")
    assert page.status_code == 200 and 'action="/logout"' in page.text
    assert client.get("/currentuser").status_code == 200


def test_logout_without_csrf_is_refused(client, auth, user):
    auth.login(user.email, user.password)
    assert client.post("/logout").status_code == 400
    assert client.get("/currentuser").status_code == 200


def test_session_ends_after_idle_time(make_app, make_user, clock):
    """No request for SESSION_IDLE_TTL seconds ends the session."""
    app = make_app(SESSION_IDLE_TTL=600, SESSION_MAX_TTL=3600)
    user = make_user()
    client = app.test_client()
    AuthActions(client).login(user.email, user.password)
    clock.shift(599)
    assert client.get("/currentuser").status_code == 200
    clock.shift(599)  # activity 599 s ago renewed the idle window
    assert client.get("/currentuser").status_code == 200
    clock.shift(601)
    assert client.get("/currentuser").status_code == 401


def test_session_ends_at_absolute_limit_despite_activity(make_app, make_user, clock):
    app = make_app(SESSION_IDLE_TTL=600, SESSION_MAX_TTL=1500)
    user = make_user()
    client = app.test_client()
    AuthActions(client).login(user.email, user.password)
    for _ in range(2):
        clock.shift(500)
        assert client.get("/currentuser").status_code == 200
    clock.shift(501)
    assert client.get("/currentuser").status_code == 401


def test_last_seen_is_written_at_most_once_per_interval(make_app, make_user, clock):
    """Requests inside SESSION_TOUCH_INTERVAL do not write to the database."""
    app = make_app(SESSION_TOUCH_INTERVAL=60)
    user = make_user()
    client = app.test_client()
    AuthActions(client).login(user.email, user.password)
    started = session_row(app).last_seen_at
    clock.shift(30)
    client.get("/currentuser")
    assert session_row(app).last_seen_at == started
    clock.shift(31)
    client.get("/currentuser")
    assert (session_row(app).last_seen_at - started).total_seconds() == 61


def test_deactivating_a_user_ends_their_sessions(app, client, auth, user):
    auth.login(user.email, user.password)
    with app.app_context():
        accounts.deactivate(user.email)
    assert client.get("/currentuser").status_code == 401


def test_https_issuer_uses_host_prefixed_secure_cookies(make_app, make_user):
    """Behind https, cookies are __Host- prefixed and Secure, and HSTS is sent."""
    app = make_app(ISSUER="https://id.example.com")
    user = make_user()
    client = app.test_client()
    client.environ_base.update({"wsgi.url_scheme": "https", "HTTP_HOST": "id.example.com"})
    response = AuthActions(client).login(user.email, user.password)
    cookies = response.headers.getlist("Set-Cookie")
    session_cookie = next(value for value in cookies if value.startswith("__Host-idp_session="))
    assert "Secure" in session_cookie and "Path=/" in session_cookie and "Domain" not in session_cookie
    assert client.get_cookie("__Host-state") is not None
    assert response.headers["Strict-Transport-Security"].startswith("max-age=")
    assert client.get("/currentuser").status_code == 200


def test_garbage_cookie_opens_nothing(client):
    for value in ["", "x", "a" * 4000, "' OR 1=1 --"]:
        client.set_cookie("idp_session", value)
        assert client.get("/currentuser").status_code == 401


def test_account_page_needs_a_session(client, auth, user):
    response = client.get("/account")
    assert response.status_code == 302 and response.headers["Location"] == "/login?next=/account"
    auth.login(user.email, user.password)
    page = client.get("/account")
    assert page.status_code == 200 and user.email in page.text


# --- the in-process session cache (app/services/sessions.py) -----------------------------------

def test_a_warm_session_sends_no_statement(make_app, make_user, sql_statements):
    """Once resolved, a cookie is read from the process's cache: /currentuser sends nothing to the
    database (the account comes from the user cache), not even a connection checkout. (The key
    ring's check before each request, every KEY_RING_CHECK_INTERVAL, is put off here.)"""
    app = make_app(KEY_RING_CHECK_INTERVAL=3600)
    browser = Browser(app, make_user())
    assert browser.get("/currentuser").status_code == 200
    with sql_statements(app) as sent:
        for _ in range(3):
            assert browser.get("/currentuser").status_code == 200
    assert sent == []


@pytest.mark.parametrize("change", ["logout", "ended_elsewhere", "renewed"])
def test_a_change_in_one_process_reaches_another_at_once(make_app, make_user, change):
    """Two application objects on one database (and one Redis, or the generation files), like two
    worker processes: each has resolved the cookie; a change made through one is refused by the
    other on its very next request."""
    first, second = make_app(), make_app()
    user = make_user()
    browser = Browser(first, user)
    cookie = browser.http.get_cookie("idp_session").value
    other = second.test_client()
    other.set_cookie("idp_session", cookie)
    assert other.get("/currentuser").status_code == 200  # cached in the second
    assert browser.get("/currentuser").status_code == 200  # and in the first
    if change == "logout":
        assert browser.send("POST", "/api/v1/auth/logout", json={}).status_code == 204
    elif change == "ended_elsewhere":
        with first.app_context():
            sessions.end_all_for(user.id)
    else:
        assert browser.send("POST", "/api/v1/auth/session/renew", json={}).status_code == 200
        assert browser.http.get_cookie("idp_session").value != cookie
    assert other.get("/currentuser").status_code == 401
    if change == "renewed":
        renewed = second.test_client()
        renewed.set_cookie("idp_session", browser.http.get_cookie("idp_session").value)
        assert renewed.get("/currentuser").status_code == 200


def test_an_entry_that_looks_idle_is_read_again(make_app, make_user, clock):
    """A process's entry keeps the last_seen_at it read; another process's requests keep the session
    alive meanwhile. Past the touch interval the entry is not trusted but read again, so the session
    is not refused as idle."""
    first, second = make_app(SESSION_IDLE_TTL=600), make_app(SESSION_IDLE_TTL=600)
    user = make_user()
    browser = Browser(first, user)
    other = second.test_client()
    other.set_cookie("idp_session", browser.http.get_cookie("idp_session").value)
    assert other.get("/currentuser").status_code == 200
    for _ in range(3):
        clock.shift(400)
        assert browser.get("/currentuser").status_code == 200  # touches the session
    assert other.get("/currentuser").status_code == 200  # its entry says 1,200 s idle
    clock.shift(601)
    assert other.get("/currentuser").status_code == 401


@production_only
def test_a_process_cut_off_from_redis_reads_sessions_from_the_database(make_app, make_user, private_redis,
                                                                       sql_statements):
    """A process that cannot hear notices does not trust its cache: a sign-out another process
    commits meanwhile is refused at once; once the listener is back the cache serves again."""
    proxy = TcpProxy("127.0.0.1", private_redis.port)
    try:
        server = make_app(REDIS_URL=f"redis://127.0.0.1:{proxy.port}/0", KEY_RING_CHECK_INTERVAL=3600)
        operator = make_app(REDIS_URL=private_redis.url)
        user = make_user()
        leaving, staying = Browser(server, user), Browser(server, user)
        ending = UUID(leaving.session_id())
        assert staying.get("/currentuser").status_code == 200  # both cached
        proxy.cut()
        with operator.app_context():
            assert sessions.end(ending) == 1  # announced; the server hears nothing
        assert leaving.get("/currentuser").status_code == 401
        with sql_statements(server) as sent:
            assert staying.get("/currentuser").status_code == 200
        assert any("FROM sessions" in statement for statement in sent)  # read, not served from memory
        proxy.restore()
        wait_until(lambda: _listening(server))  # subscribed again, and every cache dropped
        assert staying.get("/currentuser").status_code == 200  # read and cached again
        with sql_statements(server) as sent:
            assert staying.get("/currentuser").status_code == 200
        assert sent == []
    finally:
        proxy.close()


def _listening(app) -> bool:
    with app.app_context():
        return app.extensions["session_cache"].notices.poll()


def test_a_new_cookie_of_a_cached_session_drops_the_old_one(app, make_user):
    """A process can read a session's new cookie token (renewed elsewhere) before the notice of the
    renewal reaches it; storing the new token's entry drops the old token's there and then, so
    the old cookie is not served from the cache until the notice comes."""
    browser = Browser(app, make_user())
    old = browser.http.get_cookie("idp_session").value
    assert browser.get("/currentuser").status_code == 200
    with app.test_request_context():
        cache = app.extensions["session_cache"]
        at = datetime.now(timezone.utc)
        columns = dict(cache.get(sessions._digest(old), at))
        cache.put(sessions._digest("a-renewed-token-of-the-same-session"), columns, cache.start(), at)
        assert cache.get(sessions._digest(old), at) is None


@production_only
def test_an_unsent_notice_is_sent_again_and_at_worst_outlived_by_the_ttl(make_app, make_user, private_redis, clock):
    """The process that ends a session cannot reach Redis (its link cut, the others' fine): its
    notice is kept and sent at its next cache use once Redis answers; and a process that never
    hears of the change reads the session again within SESSION_CACHE_TTL."""
    proxy = TcpProxy("127.0.0.1", private_redis.port)
    try:
        server = make_app(REDIS_URL=private_redis.url, KEY_RING_CHECK_INTERVAL=3600)
        operator = make_app(REDIS_URL=f"redis://127.0.0.1:{proxy.port}/0", KEY_RING_CHECK_INTERVAL=3600)
        user = make_user()
        resent, never_sent = Browser(server, user), Browser(server, user)
        ids = UUID(resent.session_id()), UUID(never_sent.session_id())  # both cached in the server

        proxy.cut()
        with operator.app_context():
            assert sessions.end(ids[0]) == 1  # its notice cannot leave
        proxy.restore()
        wait_until(lambda: _resent(operator) and resent.get("/currentuser").status_code == 401, seconds=10)

        proxy.cut()
        with operator.app_context():
            assert sessions.end(ids[1]) == 1
        clock.shift(server.config["SESSION_CACHE_TTL"] + 1)
        assert never_sent.get("/currentuser").status_code == 401
    finally:
        proxy.close()


def _resent(app) -> bool:
    """A cache use in ``app`` (which sends what is unsent, when due); whether nothing is left."""
    with app.app_context():
        app.extensions["session_cache"].notices.poll()
        return not app.extensions["change_notices"].unsent
