"""Server-side sessions: logout, idle and absolute expiry, throttled last_seen, https cookies."""

from sqlalchemy import select

from app.extensions import db
from app.models import UserSession
from app.services import accounts

from ..helpers import AuthActions


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
