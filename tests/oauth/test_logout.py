"""Logout: RP-Initiated Logout 1.0 as the OpenID Foundation's RP-initiated logout plan checks it, and
the applications told of a session's end: back-channel logout tokens (a durable outbox, delivered to
a relying party over real HTTP and verified there against the JWKS) and front-channel frames."""

import base64
import json
import re
import threading
import time
from datetime import timedelta
from html import unescape
from types import SimpleNamespace
from urllib.parse import parse_qs
from urllib.parse import urlsplit

import pytest
from joserfc import jwt as jose_jwt
from joserfc.jwk import RSAKey
from sqlalchemy import select
from werkzeug.serving import make_server

from app.clock import now
from app.extensions import db
from app.models import User
from app.services import sessions
from app.services.history import Origin
from keys import ring
from oauth import logout
from oauth.models import Application
from oauth.models import LogoutDelivery

from ..helpers import AuthActions
from ..helpers import AuthorizationRequest
from ..helpers import Browser
from ..helpers import claims_of
from ..helpers import csrf_token
from ..helpers import free_port
from ..helpers import grant_tokens
from ..helpers import wait_until
from ..relying_party import RelyingParty

ISSUER = "http://localhost:5000"
POST_LOGOUT_URI = "https://app.example.com/signed-out"
ADMIN_USERS = "/api/v1/admin/users"
LOGOUT_TOKEN_CLAIMS = {"iss", "aud", "iat", "exp", "jti", "sub", "sid", "events"}


# --- fixtures: the application, the relying party's servers ------------------------------------------

def configure(app, client_id: str, **columns) -> None:
    """Set registration columns on an application directly (the registration API is another part's)."""
    with app.app_context():
        application = db.session.scalar(select(Application).where(Application.client_id == client_id))
        for name, value in columns.items():
            setattr(application, name, value)
        db.session.commit()


@pytest.fixture
def application(make_client):
    return make_client(post_logout_redirect_uris=[POST_LOGOUT_URI], skip_consent=True)


@pytest.fixture
def jwks_url(app):
    """The app over real HTTP, for the relying party to fetch the JWKS from."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/.well-known/jwks.json"
    server.shutdown()
    thread.join()


@pytest.fixture
def relying_party(jwks_url):
    """A factory of relying parties (real HTTP servers), closed after the test."""
    started = []

    def factory(**options):
        rp = RelyingParty(jwks_url, **options)
        started.append(rp)
        return rp

    yield factory
    for rp in started:
        rp.close()


@pytest.fixture
def rp(relying_party):
    return relying_party()


def with_backchannel(app, application, rp, session_required=True):
    configure(app, application.client_id, backchannel_logout_uri=rp.backchannel_uri(application.client_id),
              backchannel_logout_session_required=session_required)
    return application


def deliver(app, at=None) -> int:
    with app.app_context():
        return logout.deliver_pending(at)


def deliveries(app) -> list:
    with app.app_context():
        rows = list(db.session.scalars(select(LogoutDelivery).order_by(LogoutDelivery.created_at)))
        db.session.expunge_all()
        return rows


def session_id_of(client) -> str:
    return client.get("/currentuser").get_json()["session"]["id"]


def login_required_after_logout(client, application) -> None:
    """OIDC Core §3.1.2.6: with the session ended, prompt=none answers login_required to the client."""
    request = AuthorizationRequest(application, prompt="none")
    response = client.get(request.url)
    assert response.status_code == 302
    assert request.callback(response.headers["Location"])["error"] == "login_required"


def is_signed_in(app, client) -> bool:
    cookie = client.get_cookie("idp_session")
    if cookie is None:
        return False
    other = app.test_client()
    other.set_cookie("idp_session", cookie.value)
    return other.get("/currentuser").status_code == 200


def no_redirect_error_page(response) -> None:
    """RP-Initiated Logout §4: on an error the OP must not redirect: an HTML error page instead."""
    assert response.status_code == 400, response.status_code
    assert "Location" not in response.headers
    assert response.mimetype == "text/html"


def confirm(client, page, params: dict):
    """Press "Sign out" on the confirmation page (its CSRF token and the request's parameters)."""
    assert page.status_code == 200 and '<form method="post" action="/oauth/logout">' in page.text
    return client.post("/oauth/logout", data={**params, "csrf_token": csrf_token(page.text)})


# --- RP-Initiated Logout 1.0 -----------------------------------------------------------------------------

# OIDF: oidcc-rp-initiated-logout
def test_rp_initiated_logout(app, signed_in, application):
    """A valid hint, a registered post_logout_redirect_uri and state: signed out at once, back to the
    application with state, and a later prompt=none is login_required."""
    id_token = grant_tokens(signed_in, application)["id_token"]
    response = signed_in.get("/oauth/logout", query_string={
        "id_token_hint": id_token, "post_logout_redirect_uri": POST_LOGOUT_URI, "state": "st-1"})
    assert response.status_code == 302
    assert response.headers["Location"] == POST_LOGOUT_URI + "?state=st-1"
    assert signed_in.get("/currentuser").status_code == 401
    login_required_after_logout(signed_in, application)


def foreign_signed(id_token: str) -> str:
    """The same claims and key id, signed by a key that is not ours (what the suite signs itself)."""
    header, claims = claims_of(id_token)
    return jose_jwt.encode({"alg": "RS256", "kid": header["kid"]}, claims, RSAKey.generate_key(2048))


def unsigned(claims: dict) -> str:
    """An alg=none JWT of ``claims``."""
    def part(value: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()
    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(claims)}."


def signed_by_us(app, id_token: str, typ: str = "JWT", **changes) -> str:
    _, claims = claims_of(id_token)
    with app.app_context():
        return ring.sign({**claims, **changes}, typ=typ)


# OIDF: oidcc-rp-initiated-logout-bad-id-token-hint
@pytest.mark.parametrize("hint", ["foreign-signed", "garbage", "three-garbage-parts", "alg-none", "access-token",
                                  "another-issuer", "logout-token-type"])
def test_rp_initiated_logout_bad_id_token_hint(app, signed_in, application, hint):
    """A hint we did not issue as an ID token: an error page, no redirect, the session untouched."""
    tokens = grant_tokens(signed_in, application)
    id_token = tokens["id_token"]
    header, claims = claims_of(id_token)
    value = {
        "foreign-signed": lambda: foreign_signed(id_token),
        "garbage": lambda: "not-a-token",
        "three-garbage-parts": lambda: "e30.%%%.@@@",
        "alg-none": lambda: unsigned(claims),
        "access-token": lambda: tokens["access_token"],
        "another-issuer": lambda: signed_by_us(app, id_token, iss="https://evil.example.com"),
        "logout-token-type": lambda: signed_by_us(app, id_token, typ="logout+jwt"),
    }[hint]()
    response = signed_in.get("/oauth/logout", query_string={
        "id_token_hint": value, "post_logout_redirect_uri": POST_LOGOUT_URI, "state": "st-1"})
    no_redirect_error_page(response)
    assert is_signed_in(app, signed_in)


# OIDF: oidcc-rp-initiated-logout-modified-id-token-hint
@pytest.mark.parametrize("change", ["signature", "payload"])
def test_rp_initiated_logout_modified_id_token_hint(app, signed_in, application, change):
    """Our ID token with its signature broken (or its payload changed under the signature): an error
    page, no redirect."""
    id_token = grant_tokens(signed_in, application)["id_token"]
    head, payload, signature = id_token.split(".")
    if change == "signature":
        signature = signature[:-6] + ("AAAAAA" if not signature.endswith("AAAAAA") else "BBBBBB")
    else:
        _, claims = claims_of(id_token)
        payload = unsigned({**claims, "sub": "someone-else"}).split(".")[1]
    response = signed_in.get("/oauth/logout", query_string={
        "id_token_hint": ".".join([head, payload, signature]), "post_logout_redirect_uri": POST_LOGOUT_URI,
        "state": "st-1"})
    no_redirect_error_page(response)
    assert is_signed_in(app, signed_in)


# OIDF: oidcc-rp-initiated-logout-no-id-token-hint
def test_rp_initiated_logout_no_id_token_hint(app, signed_in, application):
    """post_logout_redirect_uri and state without a hint (and without client_id): the user is asked;
    confirming signs out, and nothing identifies the client, so there is no redirect."""
    grant_tokens(signed_in, application)
    params = {"post_logout_redirect_uri": POST_LOGOUT_URI, "state": "st-1"}
    page = signed_in.get("/oauth/logout", query_string=params)
    assert is_signed_in(app, signed_in)
    response = confirm(signed_in, page, params)
    assert response.status_code == 200 and "Location" not in response.headers
    assert "You are signed out" in response.text and POST_LOGOUT_URI not in response.text
    login_required_after_logout(signed_in, application)


def test_no_id_token_hint_with_client_id_redirects_after_confirmation(app, signed_in, application):
    """client_id names the client whose registered URI it is: after the user confirms, back there."""
    grant_tokens(signed_in, application)
    params = {"client_id": application.client_id, "post_logout_redirect_uri": POST_LOGOUT_URI, "state": "st-1"}
    response = confirm(signed_in, signed_in.get("/oauth/logout", query_string=params), params)
    assert response.status_code == 303 and response.headers["Location"] == POST_LOGOUT_URI + "?state=st-1"


# OIDF: oidcc-rp-initiated-logout-no-params
def test_rp_initiated_logout_no_params(app, signed_in, application):
    """No parameters: asked, then signed out on our logged-out page; prompt=none fails afterwards."""
    grant_tokens(signed_in, application)
    response = confirm(signed_in, signed_in.get("/oauth/logout"), {})
    assert response.status_code == 200 and "You are signed out" in response.text
    login_required_after_logout(signed_in, application)


# OIDF: oidcc-rp-initiated-logout-no-post-logout-redirect-uri
def test_rp_initiated_logout_no_post_logout_redirect_uri(app, signed_in, application):
    """A valid hint (and state) but no post_logout_redirect_uri: signed out, our page, no redirect."""
    id_token = grant_tokens(signed_in, application)["id_token"]
    response = signed_in.get("/oauth/logout", query_string={"id_token_hint": id_token, "state": "st-1"})
    assert response.status_code == 200 and "Location" not in response.headers
    assert "You are signed out" in response.text
    login_required_after_logout(signed_in, application)


# OIDF: oidcc-rp-initiated-logout-no-state
def test_rp_initiated_logout_no_state(app, signed_in, application):
    """No state: the redirect is the registered URI exactly, with no state parameter added."""
    id_token = grant_tokens(signed_in, application)["id_token"]
    response = signed_in.get("/oauth/logout", query_string={
        "id_token_hint": id_token, "post_logout_redirect_uri": POST_LOGOUT_URI})
    assert response.status_code == 302 and response.headers["Location"] == POST_LOGOUT_URI
    login_required_after_logout(signed_in, application)


# OIDF: oidcc-rp-initiated-logout-only-state
def test_rp_initiated_logout_only_state(app, signed_in, application):
    """Only state: asked, then signed out on our page; state alone never leads anywhere."""
    grant_tokens(signed_in, application)
    page = signed_in.get("/oauth/logout", query_string={"state": "st-1"})
    assert is_signed_in(app, signed_in)
    response = confirm(signed_in, page, {"state": "st-1"})
    assert response.status_code == 200 and "Location" not in response.headers
    login_required_after_logout(signed_in, application)


# OIDF: oidcc-rp-initiated-logout-query-added-to-post-logout-redirect-uri
@pytest.mark.parametrize("uri", [POST_LOGOUT_URI + "?foo=bar", POST_LOGOUT_URI + "/", POST_LOGOUT_URI + "#x",
                                 POST_LOGOUT_URI.upper().replace("HTTPS", "https")])
def test_rp_initiated_logout_query_added_to_post_logout_redirect_uri(app, signed_in, application, uri):
    """Exact matching: the registered URI with a query (or anything else) added is another URI."""
    id_token = grant_tokens(signed_in, application)["id_token"]
    response = signed_in.get("/oauth/logout", query_string={
        "id_token_hint": id_token, "post_logout_redirect_uri": uri, "state": "st-1"})
    no_redirect_error_page(response)
    assert is_signed_in(app, signed_in)


# OIDF: oidcc-rp-initiated-logout-bad-post-logout-redirect-uri
@pytest.mark.parametrize("with_hint", [True, False], ids=["id_token_hint", "client_id"])
def test_rp_initiated_logout_bad_post_logout_redirect_uri(app, signed_in, application, make_client, with_hint):
    """A URI the client never registered (another client's included): an error page, no redirect."""
    other = make_client(post_logout_redirect_uris=["https://other.example.com/bye"])
    id_token = grant_tokens(signed_in, application)["id_token"]
    for uri in ("https://evil.example.com/signed-out", "https://other.example.com/bye"):
        identity = {"id_token_hint": id_token} if with_hint else {"client_id": application.client_id}
        response = signed_in.get("/oauth/logout", query_string={**identity, "post_logout_redirect_uri": uri})
        no_redirect_error_page(response)
        assert "evil.example.com" not in response.text
    assert other.client_id and is_signed_in(app, signed_in)


def test_client_id_that_does_not_match_the_hint_is_an_error(app, signed_in, application, make_client):
    """RP-Initiated Logout §2: client_id must be the hint's audience."""
    other = make_client(post_logout_redirect_uris=[POST_LOGOUT_URI])
    id_token = grant_tokens(signed_in, application)["id_token"]
    response = signed_in.get("/oauth/logout", query_string={
        "id_token_hint": id_token, "client_id": other.client_id, "post_logout_redirect_uri": POST_LOGOUT_URI})
    no_redirect_error_page(response)
    assert is_signed_in(app, signed_in)


def test_unknown_client_id_is_an_error(app, signed_in):
    response = signed_in.get("/oauth/logout", query_string={
        "client_id": "no-such-client", "post_logout_redirect_uri": POST_LOGOUT_URI})
    no_redirect_error_page(response)


def test_expired_hint_we_issued_is_still_a_hint(app, signed_in, application):
    """RP-Initiated Logout §2: an expired ID token we issued still identifies the session."""
    id_token = grant_tokens(signed_in, application)["id_token"]
    expired = signed_by_us(app, id_token, exp=int(time.time()) - 3600, iat=int(time.time()) - 7200)
    response = signed_in.get("/oauth/logout", query_string={
        "id_token_hint": expired, "post_logout_redirect_uri": POST_LOGOUT_URI})
    assert response.status_code == 302 and response.headers["Location"] == POST_LOGOUT_URI
    assert signed_in.get("/currentuser").status_code == 401


# --- back-channel logout: RP-initiated -------------------------------------------------------------------

# OIDF: oidcc-backchannel-rp-initiated-logout
@pytest.mark.parametrize("session_required", [True, False], ids=["session-required", "session-not-required"])
def test_backchannel_rp_initiated_logout(app, signed_in, user, application, rp, session_required):
    """The application gets one logout token, verified against the JWKS: our issuer, its client_id as
    audience, the ID token's sub and sid, the back-channel event, typ logout+jwt, no nonce; the user is
    sent to the post_logout_redirect_uri with state, and prompt=none fails afterwards. (The suite's
    plan registers backchannel_logout_session_required=true; sid is sent either way.)"""
    with_backchannel(app, application, rp, session_required)
    id_token = grant_tokens(signed_in, application)["id_token"]
    _, id_claims = claims_of(id_token)
    response = signed_in.get("/oauth/logout", query_string={
        "id_token_hint": id_token, "post_logout_redirect_uri": POST_LOGOUT_URI, "state": "st-1"})
    assert response.status_code == 302 and response.headers["Location"] == POST_LOGOUT_URI + "?state=st-1"
    assert rp.backchannel == []  # queued: the request did not deliver it
    assert deliver(app) == 1
    [received] = rp.delivered(application.client_id)
    assert received.content_type == "application/x-www-form-urlencoded"
    assert received.header["typ"] == "logout+jwt" and received.header["kid"]
    assert set(received.claims) == LOGOUT_TOKEN_CLAIMS
    assert received.claims["iss"] == ISSUER and received.claims["aud"] == application.client_id
    assert received.claims["sub"] == id_claims["sub"] == str(user.id)
    assert received.claims["sid"] == id_claims["sid"]
    assert received.claims["exp"] - received.claims["iat"] == 120
    assert abs(received.claims["iat"] - time.time()) < 60
    [row] = deliveries(app)
    assert (row.state, row.attempts) == ("delivered", 1)
    assert deliver(app) == 0  # delivered once, never again
    login_required_after_logout(signed_in, application)


def test_only_the_applications_the_session_signed_in_to_are_told(app, signed_in, make_client, relying_party):
    """Two applications of the session with back-channel URIs each get their own token; one the user
    never signed in to in this session, and one without a back-channel URI, get nothing."""
    rp = relying_party()
    used = [make_client(skip_consent=True, name=f"Used {n}") for n in range(2)]
    unused = make_client(skip_consent=True, name="Unused")
    quiet = make_client(skip_consent=True, name="No back channel")
    for application in (*used, unused):
        with_backchannel(app, application, rp)
    for application in (*used, quiet):
        grant_tokens(signed_in, application)
    grant_tokens(signed_in, used[0])  # twice: still one notice
    sid = session_id_of(signed_in)
    AuthActions(signed_in).logout()
    assert deliver(app) == 2
    assert sorted(entry.client_id for entry in rp.delivered()) == sorted(a.client_id for a in used)
    assert {entry.claims["sid"] for entry in rp.delivered()} == {sid}
    assert {entry.claims["aud"] for entry in rp.delivered()} == {a.client_id for a in used}
    assert len({entry.claims["jti"] for entry in rp.delivered()}) == 2


# --- back-channel logout: every way a session ends ------------------------------------------------------

def end_by_logout_page(app, target, admin):
    return target.http.post("/logout", data={"csrf_token": target.token})


def end_by_password_change_elsewhere(app, target, admin):
    """The user changes the password in another browser: every other session ends."""
    other = Browser(app, target.user)
    return other.send("POST", "/api/v1/me/password", json={
        "currentPassword": target.user.password, "newPassword": "a brand new and lengthy passphrase"})


def end_by_admin_ending_the_session(app, target, admin):
    return admin.send("DELETE", f"{ADMIN_USERS}/{target.user.id}/sessions/{target.sid}")


def end_by_admin_ending_all_sessions(app, target, admin):
    return admin.send("DELETE", f"{ADMIN_USERS}/{target.user.id}/sessions")


def end_by_admin_deactivation(app, target, admin):
    return admin.send("DELETE", f"{ADMIN_USERS}/{target.user.id}")


def end_by_admin_password_reset(app, target, admin):
    return admin.send("POST", f"{ADMIN_USERS}/{target.user.id}/password-reset")


def end_by_account_deletion(app, target, admin):
    return target.send("DELETE", "/api/v1/me", json={"password": target.user.password})


def end_by_password_on_the_command_line(app, target, admin):
    result = app.test_cli_runner().invoke(args=["users", "set-password", "--email", target.user.email,
                                                "--password", "a brand new and lengthy passphrase"])
    assert result.exit_code == 0, result.output
    return SimpleNamespace(status_code=200)


def end_by_the_user_ending_it_from_another_session(app, target, admin):
    other = Browser(app, target.user)
    return other.send("DELETE", f"/api/v1/me/sessions/{target.sid}")


@pytest.mark.parametrize("trigger", [
    end_by_logout_page, end_by_password_change_elsewhere, end_by_admin_ending_the_session,
    end_by_admin_ending_all_sessions, end_by_admin_deactivation, end_by_admin_password_reset,
    end_by_account_deletion, end_by_password_on_the_command_line, end_by_the_user_ending_it_from_another_session,
], ids=lambda trigger: trigger.__name__.removeprefix("end_by_"))
def test_every_way_a_session_ends_sends_a_logout_token(app, browser_as, application, rp, trigger):
    """However the session ends, the application it signed in to gets a logout token naming it."""
    with_backchannel(app, application, rp)
    admin = browser_as("superAdmin")
    target = browser_as()
    grant_tokens(target.http, application)
    target.sid = target.session_id()
    response = trigger(app, target, admin)
    assert response.status_code in (200, 202, 204, 303), getattr(response, "text", "")
    assert target.get("/currentuser").status_code == 401
    assert deliver(app) == 1
    [received] = rp.delivered(application.client_id)
    assert received.claims["sid"] == target.sid and received.claims["sub"] == str(target.user.id)


def test_a_session_that_signed_in_to_no_application_queues_nothing(app, signed_in, application, rp):
    with_backchannel(app, application, rp)
    AuthActions(signed_in).logout()
    assert deliveries(app) == [] and deliver(app) == 0


def test_a_deleted_application_is_not_told(app, signed_in, application, rp):
    with_backchannel(app, application, rp)
    grant_tokens(signed_in, application)
    configure(app, application.client_id, deleted_at=now())
    AuthActions(signed_in).logout()
    assert deliver(app) == 0 and rp.backchannel == []


# --- back-channel logout: delivery -----------------------------------------------------------------------

def test_a_failed_delivery_is_retried_with_backoff(app, signed_in, application, relying_party):
    """The relying party answers 500, then 200: the second attempt is due only after the backoff."""
    rp = relying_party(statuses=[500])
    with_backchannel(app, application, rp)
    grant_tokens(signed_in, application)
    AuthActions(signed_in).logout()
    assert deliver(app) == 1
    assert [entry.status for entry in rp.backchannel] == [500] and rp.delivered() == []
    [row] = deliveries(app)
    assert (row.state, row.attempts, row.last_error) == ("pending", 1, "HTTP 500")
    assert deliver(app) == 0  # not due yet
    assert deliver(app, at=now() + timedelta(seconds=logout.BACKOFF[0] + 1)) == 1
    assert [entry.status for entry in rp.backchannel] == [500, 200]
    [row] = deliveries(app)
    assert (row.state, row.attempts) == ("delivered", 2)


@pytest.mark.parametrize("status", [500, 503, 400, 302, 404])
def test_retries_are_bounded(app, signed_in, application, relying_party, status):
    """Anything but 200/204 (a redirect is not followed) is a failure; after MAX_ATTEMPTS the notice
    is abandoned and never sent again."""
    rp = relying_party(statuses=[status] * 10)
    with_backchannel(app, application, rp)
    grant_tokens(signed_in, application)
    AuthActions(signed_in).logout()
    at = now()
    for attempt in range(logout.MAX_ATTEMPTS):
        assert deliver(app, at=at) == 1
        at += timedelta(seconds=300)
    assert deliver(app, at=at + timedelta(days=1)) == 0
    assert len(rp.backchannel) == logout.MAX_ATTEMPTS
    [row] = deliveries(app)
    assert (row.state, row.attempts, row.last_error) == ("abandoned", logout.MAX_ATTEMPTS, f"HTTP {status}")


def test_an_unreachable_relying_party_is_a_failure_not_a_crash(app, signed_in, application):
    configure(app, application.client_id, backchannel_logout_uri=f"http://127.0.0.1:{free_port()}/bc")
    grant_tokens(signed_in, application)
    AuthActions(signed_in).logout()
    assert deliver(app) == 1
    [row] = deliveries(app)
    assert row.state == "pending" and row.attempts == 1 and "URLError" in row.last_error


def test_a_claim_left_by_a_stopped_worker_is_taken_again_after_its_lease(app, signed_in, application, rp):
    """A worker that claimed a notice and stopped before sending it: the notice is sent after the lease."""
    with_backchannel(app, application, rp)
    grant_tokens(signed_in, application)
    AuthActions(signed_in).logout()
    with app.app_context():
        assert len(logout._claim(now(), 10)) == 1  # claimed, never sent
    assert deliver(app) == 0
    assert deliver(app, at=now() + logout.CLAIM_LEASE + timedelta(seconds=1)) == 1
    assert len(rp.delivered()) == 1


def test_two_delivery_workers_never_send_the_same_notice(app, make_app, user, make_client, relying_party):
    """Two server processes (two applications with their own connection pools) work the same outbox
    at the same moment: every notice is sent exactly once."""
    rp = relying_party()
    applications = [make_client(skip_consent=True, name=f"App {n}") for n in range(3)]
    for application in applications:
        with_backchannel(app, application, rp)
    with app.app_context():
        account = db.session.get(User, user.id)
        started = [sessions.start(account, Origin("127.0.0.1", "test"))[0] for _ in range(10)]
        db.session.flush()
        ids = [session.id for session in started]
        for session_id in ids:
            for application in applications:
                found = db.session.scalar(select(Application).where(Application.client_id == application.client_id))
                logout.record_sign_in(session_id, found.id)
        db.session.commit()
        assert sessions.end_all_for(user.id) == 10
    assert len(deliveries(app)) == 30
    workers = [app, make_app()]
    for server in workers:  # the ring's first key exists before both race (a start-up does this)
        with server.app_context():
            ring.ensure_ready()
    barrier = threading.Barrier(len(workers))
    counts, errors = [], []

    def work(server):
        try:
            with server.app_context():
                barrier.wait()
                counts.append(logout.deliver_pending(limit=None))
        except Exception as error:  # reported below
            errors.append(error)

    threads = [threading.Thread(target=work, args=(server,)) for server in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    assert sum(counts) == 30
    received = [(entry.client_id, entry.claims["sid"]) for entry in rp.delivered()]
    assert len(received) == 30 and len(set(received)) == 30
    assert {sid for _, sid in received} == {str(session_id) for session_id in ids}
    assert {(row.state, row.attempts) for row in deliveries(app)} == {("delivered", 1)}


def test_the_delivery_thread_sends_by_itself_and_the_logout_does_not_wait(make_app, make_user, make_client,
                                                                          relying_party):
    """The worker thread on, a relying party that takes seconds to answer: the logout answers first,
    and the token arrives anyway, sent by the background thread over real HTTP."""
    app = make_app(BACKCHANNEL_LOGOUT_WORKER=True, BACKCHANNEL_LOGOUT_POLL_INTERVAL=60)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        with app.app_context():
            account = make_user()
        rp = RelyingParty(f"http://127.0.0.1:{server.server_port}/.well-known/jwks.json", delay=3)
        try:
            application = make_client(post_logout_redirect_uris=[POST_LOGOUT_URI], skip_consent=True)
            with_backchannel(app, application, rp)
            browser = app.test_client()
            assert AuthActions(browser).login(account.email, account.password).status_code == 303
            id_token = grant_tokens(browser, application)["id_token"]
            response = browser.get("/oauth/logout", query_string={
                "id_token_hint": id_token, "post_logout_redirect_uri": POST_LOGOUT_URI})
            assert response.status_code == 302
            with rp.lock:
                rp.events.append(("logout answered", None))
            wait_until(lambda: len(rp.delivered()) == 1, seconds=30)
            names = [name for name, _ in rp.events]
            assert names.index("logout answered") < names.index("answered"), rp.events
            assert rp.delivered()[0].claims["sid"] == claims_of(id_token)[1]["sid"]
            wait_until(lambda: deliveries(app)[0].state == "delivered", seconds=10)
        finally:
            rp.close()
    finally:
        server.shutdown()
        thread.join()
        logout.stop_worker(app)


def test_a_notice_queued_by_another_process_is_sent_by_the_poll(app, signed_in, application, make_app, rp):
    """One process queues and does not send (its worker off); another process's thread, started by its
    first request and never woken, finds the notice on its periodic poll and sends it."""
    with_backchannel(app, application, rp)
    grant_tokens(signed_in, application)
    AuthActions(signed_in).logout()  # in ``app``: BACKCHANNEL_LOGOUT_WORKER is off there
    assert [row.state for row in deliveries(app)] == ["pending"]
    other = make_app(BACKCHANNEL_LOGOUT_WORKER=True, BACKCHANNEL_LOGOUT_POLL_INTERVAL=1)
    try:
        # A request through Flask (the prebuilt documents skip its hooks).
        assert other.test_client().get("/health").status_code == 200
        wait_until(lambda: len(rp.delivered()) == 1, seconds=20)
        wait_until(lambda: deliveries(app)[0].state == "delivered", seconds=10)
    finally:
        logout.stop_worker(other)


def test_a_command_leaves_its_notices_to_the_server_processes(app, user, signed_in, application, make_app, rp):
    """``flask users set-password`` ends the user's sessions and queues the notices, then exits. A
    delivery thread woken in that short-lived process claimed the notices and died with it: the
    relying parties heard only after the claim's 60-second lease, and an attempt was spent. A
    command starts no thread: the notices stay unclaimed for the servers' threads."""
    with_backchannel(app, application, rp)
    grant_tokens(signed_in, application)
    command = make_app(BACKCHANNEL_LOGOUT_WORKER=True, BACKCHANNEL_LOGOUT_POLL_INTERVAL=1)
    try:
        result = command.test_cli_runner().invoke(args=["users", "set-password", "--email", user.email,
                                                        "--password", "a brand new and lengthy passphrase"])
        assert result.exit_code == 0, result.output
        time.sleep(2)
        assert [(row.state, row.attempts, row.claimed_until) for row in deliveries(app)] == [("pending", 0, None)]
        assert rp.delivered() == []
    finally:
        logout.stop_worker(command)
    assert deliver(app) == 1 and len(rp.delivered()) == 1


# --- front-channel logout --------------------------------------------------------------------------------

FRAME = re.compile(r'<iframe class="frontchannel-logout" src="([^"]+)"')


def frames_of(response) -> list[str]:
    return [unescape(src) for src in FRAME.findall(response.text)]


def frame_src(response) -> str:
    policy = response.headers["Content-Security-Policy"]
    [directive] = [part.strip() for part in policy.split(";") if part.strip().startswith("frame-src")]
    assert "frame-ancestors 'none'" in policy and "script-src 'self'" in policy
    return directive


# OIDF: oidcc-frontchannel-rp-initiated-logout
@pytest.mark.parametrize("session_required", [True, False], ids=["session-required", "session-not-required"])
def test_frontchannel_rp_initiated_logout(app, signed_in, application, session_required):
    """The logged-out page frames the application's front-channel logout URI (with iss and sid when it
    asked for them), lets exactly that origin be framed, and then continues to the post_logout_redirect_uri
    with state (a script once the frames loaded; a link without JavaScript)."""
    uri = "https://rp.example.com:8443/frontchannel?app=1"
    configure(app, application.client_id, frontchannel_logout_uri=uri,
              frontchannel_logout_session_required=session_required)
    id_token = grant_tokens(signed_in, application)["id_token"]
    sid = claims_of(id_token)[1]["sid"]
    response = signed_in.get("/oauth/logout", query_string={
        "id_token_hint": id_token, "post_logout_redirect_uri": POST_LOGOUT_URI, "state": "st-1"})
    assert response.status_code == 200 and "Location" not in response.headers
    [frame] = frames_of(response)
    if session_required:
        parts = urlsplit(frame)
        assert frame.startswith("https://rp.example.com:8443/frontchannel?")
        assert parse_qs(parts.query) == {"app": ["1"], "iss": [ISSUER], "sid": [sid]}
    else:
        assert frame == uri
    assert frame_src(response) == "frame-src https://rp.example.com:8443"
    assert f'<a id="continue" href="{POST_LOGOUT_URI}?state=st-1"' in response.text
    assert '<script src="/static/js/logged-out.js"></script>' in response.text
    assert signed_in.get("/currentuser").status_code == 401
    login_required_after_logout(signed_in, application)


def test_frontchannel_frames_on_the_logout_page(app, signed_in, make_client):
    """/logout too: every application of the session with a front-channel URI, each origin allowed."""
    first, second, quiet = (make_client(skip_consent=True, name=name) for name in ("One", "Two", "Quiet"))
    configure(app, first.client_id, frontchannel_logout_uri="https://one.example.com/fc")
    configure(app, second.client_id, frontchannel_logout_uri="http://127.0.0.1:8123/fc",
              frontchannel_logout_session_required=True)
    for application in (first, second, quiet):
        grant_tokens(signed_in, application)
    sid = session_id_of(signed_in)
    response = AuthActions(signed_in).logout()
    assert response.status_code == 200
    assert sorted(frames_of(response)) == sorted([
        "https://one.example.com/fc", f"http://127.0.0.1:8123/fc?iss={ISSUER.replace(':', '%3A').replace('/', '%2F')}"
        f"&sid={sid}"])
    assert frame_src(response) == "frame-src http://127.0.0.1:8123 https://one.example.com"
    assert 'id="continue"' not in response.text and "sign in again" in response.text
    assert signed_in.get("/currentuser").status_code == 401


@pytest.mark.parametrize("uri", ["javascript:alert(1)", "https://a.example.com; script-src *", "data:text/html,x",
                                 "https://"])
def test_a_frontchannel_uri_that_is_no_http_url_is_never_framed(app, signed_in, application, uri):
    """Nothing but an http(s) origin gets into the page or its policy: the plain logout goes on."""
    configure(app, application.client_id, frontchannel_logout_uri=uri)
    id_token = grant_tokens(signed_in, application)["id_token"]
    response = signed_in.get("/oauth/logout", query_string={
        "id_token_hint": id_token, "post_logout_redirect_uri": POST_LOGOUT_URI})
    assert response.status_code == 302 and response.headers["Location"] == POST_LOGOUT_URI
    assert "frame-src" not in response.headers["Content-Security-Policy"]


def test_no_frames_without_frontchannel_applications(app, signed_in, application):
    grant_tokens(signed_in, application)
    response = AuthActions(signed_in).logout()
    assert response.status_code == 303 and response.headers["Location"] == "/login"
    assert "frame-src" not in response.headers["Content-Security-Policy"]
