"""/oauth/revoke, /oauth/introspect, /oauth/userinfo, /oauth/logout, discovery, bearer tokens on the
server's own API, and the user's grants (/api/v1/me/applications)."""

import json
import re
import uuid
from urllib.parse import urlsplit

import pytest

from app.services import accounts

from ..helpers import INACTIVE
from ..helpers import bearer
from ..helpers import csrf_token
from ..helpers import grant_tokens
from ..helpers import introspect
from ..helpers import refresh
from ..helpers import revoke
from ..helpers import token_request

ISSUER = "http://localhost:5000"
ACCESS_TOKEN_TTL = 900
CONSENT_ACTION = re.compile(r'<form method="post" action="(/oauth/authorize/[^"]+)"')
ACCESS_TOKEN_KEYS = {"active", "sub", "client_id", "scope", "exp", "iat", "iss", "aud", "token_type", "username"}
REFRESH_TOKEN_KEYS = {"active", "sub", "client_id", "scope", "exp", "iat", "iss", "token_type", "username"}
POST_LOGOUT_URI = "https://app.example.com/signed-out"


# --- helpers: what a client does ------------------------------------------------------------------


@pytest.fixture
def resource_server(make_client):
    """A confidential client registered as a resource server (client_credentials, no redirect URI)."""
    return make_client(redirect_uris=(), grant_types=["client_credentials"], name="Resource Server", introspect=True)


@pytest.fixture
def application(make_client):
    return make_client(post_logout_redirect_uris=[POST_LOGOUT_URI],
                       scope="openid profile email phone address offline_access account")


# --- /oauth/revoke (RFC 7009) -------------------------------------------------------------------------

def test_revoking_an_access_token_makes_it_inactive(signed_in, application, resource_server):
    """After revocation introspection answers exactly {"active": false} and userinfo 401."""
    tokens = grant_tokens(signed_in, application)
    assert introspect(signed_in, resource_server, tokens["access_token"])["active"] is True
    assert signed_in.get("/oauth/userinfo", headers=bearer(tokens["access_token"])).status_code == 200
    response = revoke(signed_in, application, tokens["access_token"], token_type_hint="access_token")
    assert response.status_code == 200
    assert introspect(signed_in, resource_server, tokens["access_token"]) == INACTIVE
    userinfo = signed_in.get("/oauth/userinfo", headers=bearer(tokens["access_token"]))
    assert userinfo.status_code == 401 and "sub" not in (userinfo.get_json() or {})


@pytest.mark.parametrize("which", ["rotated-original", "current-successor"])
def test_revoking_a_refresh_token_revokes_its_family(signed_in, application, resource_server, which):
    """Revoking any refresh token of a family stops its successor and the access tokens refreshed from it."""
    first = grant_tokens(signed_in, application)
    rotated = refresh(signed_in, application, first["refresh_token"])
    assert rotated.status_code == 200
    second = rotated.get_json()
    assert introspect(signed_in, resource_server, second["access_token"])["active"] is True
    target = first["refresh_token"] if which == "rotated-original" else second["refresh_token"]
    assert revoke(signed_in, application, target, token_type_hint="refresh_token").status_code == 200
    again = refresh(signed_in, application, second["refresh_token"])
    assert again.status_code == 400 and again.get_json()["error"] == "invalid_grant"
    assert introspect(signed_in, resource_server, second["refresh_token"]) == INACTIVE
    assert introspect(signed_in, resource_server, second["access_token"]) == INACTIVE


def test_revoking_a_refresh_token_revokes_the_access_token_issued_with_it(signed_in, application, resource_server):
    """RFC 7009 §2.1: the access token from the same code exchange as the refresh token stops too."""
    tokens = grant_tokens(signed_in, application)
    assert introspect(signed_in, resource_server, tokens["access_token"])["active"] is True
    assert revoke(signed_in, application, tokens["refresh_token"]).status_code == 200
    assert introspect(signed_in, resource_server, tokens["refresh_token"]) == INACTIVE
    assert introspect(signed_in, resource_server, tokens["access_token"]) == INACTIVE


@pytest.mark.parametrize("token", [
    "not-a-token",
    "a.b.c",
    "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.",
    "x" * 43,
    "y" * 500,
], ids=["garbage", "dotted", "alg-none-jwt", "refresh-shaped", "long"])
def test_revoking_an_unknown_token_answers_200_and_changes_nothing(signed_in, application, resource_server, token):
    """RFC 7009 §2.2: an unknown token is not an error, and no real token is touched."""
    tokens = grant_tokens(signed_in, application)
    response = revoke(signed_in, application, token)
    assert response.status_code == 200
    assert introspect(signed_in, resource_server, tokens["access_token"])["active"] is True
    assert introspect(signed_in, resource_server, tokens["refresh_token"])["active"] is True


@pytest.mark.parametrize("kind", ["access_token", "refresh_token"])
def test_revoking_another_clients_token_answers_200_and_changes_nothing(
        signed_in, application, make_client, resource_server, kind):
    """A client cannot revoke a token issued to a different client."""
    other = make_client(name="Other App")
    tokens = grant_tokens(signed_in, application)
    assert revoke(signed_in, other, tokens[kind], token_type_hint=kind).status_code == 200
    assert introspect(signed_in, resource_server, tokens["access_token"])["active"] is True
    assert introspect(signed_in, resource_server, tokens["refresh_token"])["active"] is True
    assert refresh(signed_in, application, tokens["refresh_token"]).status_code == 200


def test_public_client_revokes_its_own_tokens_with_client_id_only(signed_in, make_client, resource_server):
    """A public client authenticates to /oauth/revoke with client_id alone (no secret)."""
    spa = make_client(public=True, name="Single Page App")
    tokens = grant_tokens(signed_in, spa)
    assert revoke(signed_in, spa, tokens["access_token"]).status_code == 200
    assert introspect(signed_in, resource_server, tokens["access_token"]) == INACTIVE
    assert revoke(signed_in, spa, tokens["refresh_token"]).status_code == 200
    response = refresh(signed_in, spa, tokens["refresh_token"])
    assert response.status_code == 400 and response.get_json()["error"] == "invalid_grant"


@pytest.mark.parametrize("credentials", ["wrong-secret-basic", "wrong-secret-post", "unknown-client", "no-secret"])
def test_revocation_with_bad_client_credentials_is_invalid_client(signed_in, application, resource_server,
                                                                  credentials):
    """RFC 6749 §5.2: 401 invalid_client, and the token stays active."""
    tokens = grant_tokens(signed_in, application)
    form = {"token": tokens["access_token"]}
    if credentials == "wrong-secret-basic":
        response = signed_in.post("/oauth/revoke", data=form, auth=(application.client_id, "wrong-secret"))
    elif credentials == "wrong-secret-post":
        response = signed_in.post("/oauth/revoke", data={**form, "client_id": application.client_id,
                                                         "client_secret": "wrong-secret"})
    elif credentials == "unknown-client":
        response = signed_in.post("/oauth/revoke", data=form, auth=(str(uuid.uuid4()), application.client_secret))
    else:
        response = signed_in.post("/oauth/revoke", data={**form, "client_id": application.client_id})
    assert response.status_code == 401
    assert response.get_json()["error"] == "invalid_client"
    assert introspect(signed_in, resource_server, tokens["access_token"])["active"] is True


# --- /oauth/introspect (RFC 7662) ---------------------------------------------------------------------

@pytest.mark.parametrize("caller", ["anonymous", "public-client", "wrong-secret"])
def test_introspection_requires_a_confidential_client(signed_in, application, make_client, caller):
    """Only an authenticated confidential client may introspect: 401 invalid_client otherwise."""
    tokens = grant_tokens(signed_in, application)
    form = {"token": tokens["access_token"]}
    if caller == "anonymous":
        response = signed_in.post("/oauth/introspect", data=form)
    elif caller == "public-client":
        spa = make_client(public=True, name="Single Page App")
        response = signed_in.post("/oauth/introspect", data={**form, "client_id": spa.client_id})
    else:
        response = signed_in.post("/oauth/introspect", data=form, auth=(application.client_id, "wrong-secret"))
    assert response.status_code == 401
    body = response.get_json()
    assert body["error"] == "invalid_client" and "active" not in body


@pytest.mark.parametrize("caller", ["service", "web-app"])
def test_introspection_is_only_for_resource_servers(signed_in, application, make_client, caller):
    """RFC 7662 §4: an authenticated client not registered as a resource server gets 403
    unauthorized_client saying why, and learns nothing about the token."""
    tokens = grant_tokens(signed_in, application)
    if caller == "service":
        other = make_client(redirect_uris=(), grant_types=["client_credentials"], name="Batch Job")
    else:
        other = application
    for kind in ("access_token", "refresh_token"):
        response = signed_in.post("/oauth/introspect", data={"token": tokens[kind]},
                                  auth=(other.client_id, other.client_secret))
        assert response.status_code == 403
        assert response.headers["Cache-Control"] == "no-store"
        body = response.get_json()
        assert set(body) == {"error", "error_description"} and body["error"] == "unauthorized_client"
        assert "resource server" in body["error_description"]


def test_bad_credentials_of_a_resource_server_are_still_invalid_client(signed_in, application, resource_server):
    """Authentication comes first: a wrong secret is 401 invalid_client, not 403."""
    tokens = grant_tokens(signed_in, application)
    response = signed_in.post("/oauth/introspect", data={"token": tokens["access_token"]},
                              auth=(resource_server.client_id, "wrong-secret"))
    assert response.status_code == 401 and response.get_json()["error"] == "invalid_client"
    assert response.headers["WWW-Authenticate"].startswith("Basic")


def test_active_access_token_introspection_has_exactly_the_documented_members(
        signed_in, user, application, resource_server):
    """active, sub, client_id, scope, exp, iat, iss, aud, token_type, username (the email)."""
    tokens = grant_tokens(signed_in, application, scope="openid email")
    body = introspect(signed_in, resource_server, tokens["access_token"])
    assert set(body) == ACCESS_TOKEN_KEYS
    assert body["active"] is True
    assert body["sub"] == str(user.id)
    assert body["client_id"] == application.client_id
    assert body["scope"] == "openid email"
    assert body["iss"] == ISSUER and body["aud"] == ISSUER
    assert body["token_type"] == "Bearer"
    assert body["username"] == user.email
    assert body["exp"] - body["iat"] == ACCESS_TOKEN_TTL


@pytest.mark.parametrize("token", [
    "not-a-token",
    "",
    "a.b.c",
    "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.",
    "z" * 43,
], ids=["garbage", "empty", "dotted", "alg-none-jwt", "refresh-shaped"])
def test_garbage_introspects_exactly_inactive(client, resource_server, token):
    """Anything that is not a live token of ours is exactly {"active": false}."""
    assert introspect(client, resource_server, token) == INACTIVE


def test_expired_access_token_introspects_exactly_inactive(clock, signed_in, application, resource_server):
    """Active until ACCESS_TOKEN_TTL is over, then exactly {"active": false}."""
    tokens = grant_tokens(signed_in, application)
    clock.shift(ACCESS_TOKEN_TTL - 1)
    assert introspect(signed_in, resource_server, tokens["access_token"])["active"] is True
    clock.shift(2)
    assert introspect(signed_in, resource_server, tokens["access_token"]) == INACTIVE


def test_revoked_access_token_introspects_exactly_inactive(signed_in, application, resource_server):
    """A revoked access token is exactly {"active": false}."""
    tokens = grant_tokens(signed_in, application)
    assert revoke(signed_in, application, tokens["access_token"]).status_code == 200
    assert introspect(signed_in, resource_server, tokens["access_token"]) == INACTIVE


def test_deactivated_users_tokens_introspect_exactly_inactive(app, signed_in, user, application, resource_server):
    """Deactivating the account kills its access and refresh tokens."""
    tokens = grant_tokens(signed_in, application)
    assert introspect(signed_in, resource_server, tokens["access_token"])["active"] is True
    with app.app_context():
        accounts.deactivate(user.email)
    assert introspect(signed_in, resource_server, tokens["access_token"]) == INACTIVE
    assert introspect(signed_in, resource_server, tokens["refresh_token"]) == INACTIVE


def test_refresh_token_introspects_active_until_rotated(signed_in, user, application, resource_server):
    """A refresh token introspects as token_type refresh_token; once rotated it is inactive."""
    tokens = grant_tokens(signed_in, application, scope="openid profile")
    body = introspect(signed_in, resource_server, tokens["refresh_token"])
    assert set(body) == REFRESH_TOKEN_KEYS
    assert body["active"] is True and body["token_type"] == "refresh_token"
    assert body["sub"] == str(user.id) and body["username"] == user.email
    assert body["client_id"] == application.client_id and body["scope"] == "openid profile"
    assert body["iss"] == ISSUER and body["exp"] > body["iat"]
    rotated = refresh(signed_in, application, tokens["refresh_token"])
    assert rotated.status_code == 200
    assert introspect(signed_in, resource_server, tokens["refresh_token"]) == INACTIVE
    assert introspect(signed_in, resource_server, rotated.get_json()["refresh_token"])["active"] is True


def test_client_credentials_token_introspects_with_the_client_as_subject(client, make_client, resource_server):
    """No user: sub is the client_id and there is no username."""
    service = make_client(redirect_uris=(), grant_types=["client_credentials"], name="Batch Job")
    response = token_request(client, service, grant_type="client_credentials", scope="profile")
    assert response.status_code == 200, response.get_json()
    issued = response.get_json()
    assert "refresh_token" not in issued
    body = introspect(client, resource_server, issued["access_token"])
    assert set(body) == ACCESS_TOKEN_KEYS - {"username"}
    assert body["active"] is True
    assert body["sub"] == service.client_id and body["client_id"] == service.client_id
    assert body["scope"] == issued["scope"] == "profile"


# --- /oauth/userinfo ----------------------------------------------------------------------------------

@pytest.mark.parametrize("method", ["GET", "POST"])
def test_userinfo_accepts_the_bearer_header(signed_in, user, application, method):
    """Authorization: Bearer works for GET and POST."""
    tokens = grant_tokens(signed_in, application)
    response = signed_in.open("/oauth/userinfo", method=method, headers=bearer(tokens["access_token"]))
    assert response.status_code == 200
    body = response.get_json()
    assert body["sub"] == str(user.id) and body["email"] == user.email


def test_userinfo_accepts_the_token_in_a_form_body(client, signed_in, user, application):
    """RFC 6750 §2.2: access_token in a form-encoded POST body."""
    tokens = grant_tokens(signed_in, application)
    response = client.post("/oauth/userinfo", data={"access_token": tokens["access_token"]})
    assert response.status_code == 200
    assert response.get_json()["sub"] == str(user.id)


def test_userinfo_refuses_the_token_in_the_query_string(client, signed_in, application):
    """RFC 9700 §2.1: a token in the URL is refused, and no claims are released."""
    tokens = grant_tokens(signed_in, application)
    response = client.get("/oauth/userinfo?access_token=" + tokens["access_token"])
    assert 400 <= response.status_code < 500
    body = response.get_json() or {}
    assert "sub" not in body and "email" not in body


@pytest.mark.parametrize("headers", [
    {},
    {"Authorization": "Bearer not-a-token"},
    {"Authorization": "Bearer a.b.c"},
    {"Authorization": "Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0."},
], ids=["missing", "garbage", "dotted", "alg-none-jwt"])
def test_userinfo_without_a_valid_token_is_401_with_a_bearer_challenge(client, headers):
    """RFC 6750 §3: 401 and WWW-Authenticate: Bearer."""
    response = client.get("/oauth/userinfo", headers=headers)
    assert response.status_code == 401
    assert "Bearer" in response.headers["WWW-Authenticate"]
    assert "sub" not in (response.get_json() or {})


@pytest.mark.parametrize("scope, claims", [
    ("openid", {"sub"}),
    ("openid email", {"sub", "email", "email_verified"}),
    ("openid profile", {"sub", "name", "picture", "updated_at"}),
    ("openid profile email", {"sub", "name", "picture", "updated_at", "email", "email_verified"}),
], ids=["openid", "email", "profile", "profile-email"])
def test_userinfo_releases_claims_by_scope(signed_in, user, application, scope, claims):
    """OpenID Connect Core §5.4: each scope releases its claims, and only those."""
    tokens = grant_tokens(signed_in, application, scope=scope)
    body = signed_in.get("/oauth/userinfo", headers=bearer(tokens["access_token"])).get_json()
    assert set(body) == claims
    assert body["sub"] == str(user.id)
    if "email" in claims:
        assert body["email"] == user.email and body["email_verified"] is True
    if "name" in claims:
        assert body["name"] == "Ada Lovelace"


# --- /oauth/logout (RP-Initiated Logout 1.0) ----------------------------------------------------------

def session_cookie(signed_in) -> str:
    cookie = signed_in.get_cookie("idp_session")
    assert cookie is not None, "the signed_in has no session cookie"
    return cookie.value


def is_signed_in(app, cookie_value) -> bool:
    """Whether a signed_in holding this session cookie value is still signed in."""
    other = app.test_client()
    other.set_cookie("idp_session", cookie_value)
    status = other.get("/currentuser").status_code
    assert status in (200, 401)
    return status == 200


def test_logout_with_id_token_hint_redirects_to_the_registered_uri_with_state(app, signed_in, application):
    """302 to the registered post_logout_redirect_uri with state; the session ends and its cookie goes."""
    tokens = grant_tokens(signed_in, application)
    cookie = session_cookie(signed_in)
    assert is_signed_in(app, cookie)
    response = signed_in.get("/oauth/logout", query_string={
        "id_token_hint": tokens["id_token"], "post_logout_redirect_uri": POST_LOGOUT_URI, "state": "s-123"})
    assert response.status_code == 302
    assert response.headers["Location"] == POST_LOGOUT_URI + "?state=s-123"
    assert signed_in.get_cookie("idp_session") is None
    assert not is_signed_in(app, cookie)
    assert signed_in.get("/currentuser").status_code == 401


@pytest.mark.parametrize("whose", ["another-user", "another-session-of-the-user"])
def test_logout_with_a_hint_for_another_session_asks_to_confirm(app, signed_in, user, make_user, application, whose):
    """An ID token we signed for someone else (or for an older session) does not sign this browser out
    unasked: the confirmation page, the session untouched; confirming then ends it and redirects."""
    if whose == "another-user":
        other = make_user(email="other@example.com")
    else:
        other = user
    elsewhere = app.test_client()
    assert elsewhere.post("/login", data={"csrf_token": csrf_token(elsewhere.get("/login").text),
                                          "email": other.email, "password": other.password}).status_code == 303
    hint = grant_tokens(elsewhere, application)["id_token"]
    cookie = session_cookie(signed_in)
    query = {"id_token_hint": hint, "post_logout_redirect_uri": POST_LOGOUT_URI, "state": "s-1"}
    page = signed_in.get("/oauth/logout", query_string=query)
    assert page.status_code == 200 and page.mimetype == "text/html"
    assert '<form method="post" action="/oauth/logout">' in page.text
    assert is_signed_in(app, cookie)
    posted = signed_in.post("/oauth/logout", data={"csrf_token": csrf_token(page.text), **query})
    assert posted.status_code == 303 and posted.headers["Location"] == POST_LOGOUT_URI + "?state=s-1"
    assert not is_signed_in(app, cookie)
    assert is_signed_in(app, session_cookie(elsewhere))


def test_logout_with_a_hint_and_no_session_redirects(client, signed_in, application):
    """Nobody signed in here: nothing to protect, so a valid hint goes straight back to the client."""
    hint = grant_tokens(signed_in, application)["id_token"]
    response = client.get("/oauth/logout", query_string={
        "id_token_hint": hint, "post_logout_redirect_uri": POST_LOGOUT_URI})
    assert response.status_code == 302 and response.headers["Location"] == POST_LOGOUT_URI


def test_logout_to_an_unregistered_uri_shows_an_error_page(signed_in, application):
    """The OP never redirects to an unregistered post_logout_redirect_uri: an HTML error page instead."""
    tokens = grant_tokens(signed_in, application)
    response = signed_in.get("/oauth/logout", query_string={
        "id_token_hint": tokens["id_token"], "post_logout_redirect_uri": "https://evil.example.com/x",
        "state": "s-123"})
    assert "Location" not in response.headers
    assert response.status_code == 400
    assert response.mimetype == "text/html"
    assert "evil.example.com" not in response.text


def test_logout_without_hint_asks_the_signed_in_user_to_confirm(app, signed_in):
    """No id_token_hint: a confirmation page with a CSRF-protected form; the session is untouched."""
    cookie = session_cookie(signed_in)
    response = signed_in.get("/oauth/logout")
    assert response.status_code == 200 and response.mimetype == "text/html"
    assert '<form method="post" action="/oauth/logout">' in response.text
    assert csrf_token(response.text)
    assert is_signed_in(app, cookie)


def test_confirming_logout_ends_the_session(app, signed_in):
    """POSTing the confirmation form (with its CSRF token) signs the user out."""
    cookie = session_cookie(signed_in)
    page = signed_in.get("/oauth/logout")
    response = signed_in.post("/oauth/logout", data={"csrf_token": csrf_token(page.text)})
    assert response.status_code == 200
    assert signed_in.get_cookie("idp_session") is None
    assert not is_signed_in(app, cookie)


def test_confirmed_logout_sees_other_to_the_registered_uri(app, signed_in, application):
    """RFC 9700 §4.12: the confirmation form's redirect to the application is a 303, with state."""
    cookie = session_cookie(signed_in)
    params = {"client_id": application.client_id, "post_logout_redirect_uri": POST_LOGOUT_URI, "state": "s-123"}
    page = signed_in.get("/oauth/logout", query_string=params)
    assert page.status_code == 200 and is_signed_in(app, cookie)
    response = signed_in.post("/oauth/logout", data={**params, "csrf_token": csrf_token(page.text)})
    assert response.status_code == 303
    assert response.headers["Location"] == POST_LOGOUT_URI + "?state=s-123"
    assert not is_signed_in(app, cookie)


@pytest.mark.parametrize("form", [{}, {"state": "s-123"}], ids=["empty", "state-only"])
def test_logout_post_without_csrf_or_hint_keeps_the_session(app, signed_in, form):
    """A cross-site POST with neither CSRF token nor id_token_hint cannot sign the user out."""
    cookie = session_cookie(signed_in)
    response = signed_in.post("/oauth/logout", data=form)
    assert response.status_code in (200, 400)
    assert "Location" not in response.headers
    assert is_signed_in(app, cookie)
    assert signed_in.get("/currentuser").status_code == 200


def test_logout_post_with_a_forged_csrf_token_keeps_the_session(app, signed_in):
    """A wrong CSRF token is refused with 400, and the session continues."""
    cookie = session_cookie(signed_in)
    response = signed_in.post("/oauth/logout", data={"csrf_token": "forged"})
    assert response.status_code == 400
    assert is_signed_in(app, cookie)


# --- discovery ----------------------------------------------------------------------------------------

METADATA_PATHS = ["/.well-known/openid-configuration", "/.well-known/oauth-authorization-server"]


def test_both_discovery_documents_are_the_same_json(client):
    """OpenID Connect Discovery and RFC 8414 serve one document."""
    first, second = (client.get(path) for path in METADATA_PATHS)
    assert first.status_code == second.status_code == 200
    assert first.mimetype == second.mimetype == "application/json"
    assert first.get_json() == second.get_json()
    assert first.headers["ETag"] == second.headers["ETag"]


def test_discovery_names_the_issuer_endpoints_and_policy(client):
    """Issuer, endpoint URLs, S256 only, code only, iss in responses, the three grant types."""
    body = client.get("/.well-known/openid-configuration").get_json()
    assert body["issuer"] == ISSUER
    assert {name: body[name] for name in body if name.endswith("_endpoint") or name == "jwks_uri"} == {
        "authorization_endpoint": ISSUER + "/oauth/authorize",
        "token_endpoint": ISSUER + "/oauth/token",
        "userinfo_endpoint": ISSUER + "/oauth/userinfo",
        "revocation_endpoint": ISSUER + "/oauth/revoke",
        "introspection_endpoint": ISSUER + "/oauth/introspect",
        "end_session_endpoint": ISSUER + "/oauth/logout",
        "jwks_uri": ISSUER + "/.well-known/jwks.json",
    }
    assert body["code_challenge_methods_supported"] == ["S256"]
    assert body["response_types_supported"] == ["code"]
    assert body["authorization_response_iss_parameter_supported"] is True
    assert sorted(body["grant_types_supported"]) == ["authorization_code", "client_credentials", "refresh_token"]


@pytest.mark.parametrize("name", ["authorization_endpoint", "token_endpoint", "userinfo_endpoint",
                                  "revocation_endpoint", "introspection_endpoint", "end_session_endpoint",
                                  "jwks_uri"])
def test_every_advertised_endpoint_exists(client, name):
    """Each URL in the document is routed here (405 or an error is fine, 404 is not)."""
    url = client.get("/.well-known/openid-configuration").get_json()[name]
    assert url.startswith(ISSUER + "/")
    path = urlsplit(url).path
    assert client.get(path).status_code != 404
    assert client.post(path).status_code != 404


def test_discovery_supports_conditional_requests(client):
    """ETag, then 304 with no body for If-None-Match; a stale tag gets the document."""
    first = client.get("/.well-known/openid-configuration")
    etag = first.headers["ETag"]
    assert etag.startswith('"') and etag.endswith('"')
    assert "max-age" in first.headers["Cache-Control"]
    again = client.get("/.well-known/openid-configuration", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.data == b""
    stale = client.get("/.well-known/openid-configuration", headers={"If-None-Match": '"stale"'})
    assert stale.status_code == 200 and stale.get_json() == first.get_json()


def test_discovery_reveals_no_private_data(app, client, user, make_client):
    """No secrets, keys, clients or users in the public document."""
    confidential = make_client()
    text = client.get("/.well-known/openid-configuration").get_data(as_text=True)
    body = json.loads(text)
    for secret in (app.config["SECRET_KEY"], app.config["KEY_ENCRYPTION_SECRET"], confidential.client_secret,
                   confidential.client_id, user.email, str(user.id)):
        assert secret not in text
    assert "keys" not in body and '"d"' not in text
    assert not [name for name in body if "secret" in name.lower() and "auth" not in name.lower()]


# --- bearer tokens on the server's own API ------------------------------------------------------------

def test_currentuser_accepts_a_bearer_access_token(app, signed_in, user, application):
    """/currentuser with Authorization: Bearer (no cookie) returns the token's user."""
    tokens = grant_tokens(signed_in, application, scope="openid account")
    outsider = app.test_client()
    assert outsider.get("/currentuser").status_code == 401
    response = outsider.get("/currentuser", headers=bearer(tokens["access_token"]))
    assert response.status_code == 200
    body = response.get_json()
    assert body["id"] == str(user.id) and body["email"] == user.email


def test_currentuser_refuses_a_revoked_bearer_token(app, signed_in, application):
    """A revoked access token opens nothing: 401."""
    tokens = grant_tokens(signed_in, application, scope="openid account")
    outsider = app.test_client()
    assert outsider.get("/currentuser", headers=bearer(tokens["access_token"])).status_code == 200
    assert revoke(signed_in, application, tokens["access_token"]).status_code == 200
    response = outsider.get("/currentuser", headers=bearer(tokens["access_token"]))
    assert response.status_code == 401
    assert response.mimetype == "application/problem+json"


def test_a_token_without_the_account_scope_cannot_use_the_account_api(app, signed_in, application):
    """An application granted only openid/profile cannot act on the account: 401 everywhere."""
    tokens = grant_tokens(signed_in, application, scope="openid profile email")
    outsider = app.test_client()
    assert outsider.get("/currentuser", headers=bearer(tokens["access_token"])).status_code == 401
    assert outsider.get("/api/v1/me/applications", headers=bearer(tokens["access_token"])).status_code == 401
    response = outsider.delete(f"/api/v1/me/applications/{application.client_id}",
                               headers=bearer(tokens["access_token"]))
    assert response.status_code == 401
    assert len(signed_in.get("/api/v1/me/applications").get_json()["applications"]) == 1


# --- the user's grants: /api/v1/me/applications -------------------------------------------------------

def test_my_applications_lists_the_consented_application(signed_in, application):
    """Nothing before consent; afterwards the application with the granted scope."""
    assert signed_in.get("/api/v1/me/applications").get_json() == {"applications": []}
    grant_tokens(signed_in, application, scope="openid email")
    response = signed_in.get("/api/v1/me/applications")
    assert response.status_code == 200
    entries = response.get_json()["applications"]
    assert len(entries) == 1
    assert set(entries[0]) == {"clientId", "name", "scope", "grantedAt"}
    assert entries[0]["clientId"] == application.client_id and entries[0]["name"] == "Example App"
    assert entries[0]["scope"] == "openid email" and entries[0]["grantedAt"].endswith("Z")


def test_withdrawing_a_grant_with_a_bearer_token_stops_that_apps_tokens(app, signed_in, application, make_client,
                                                                        resource_server):
    """DELETE -> 204; the app's refresh token is invalid_grant, its access token inactive; others live on."""
    tokens = grant_tokens(signed_in, application, scope="openid account")
    other = make_client(name="Other App")
    others = grant_tokens(signed_in, other)
    response = app.test_client().delete(f"/api/v1/me/applications/{application.client_id}",
                                        headers=bearer(tokens["access_token"]))
    assert response.status_code == 204 and response.data == b""
    again = refresh(signed_in, application, tokens["refresh_token"])
    assert again.status_code == 400 and again.get_json()["error"] == "invalid_grant"
    assert introspect(signed_in, resource_server, tokens["access_token"]) == INACTIVE
    assert introspect(signed_in, resource_server, others["access_token"])["active"] is True
    listed = signed_in.get("/api/v1/me/applications").get_json()["applications"]
    assert [entry["clientId"] for entry in listed] == [other.client_id]


def test_withdrawing_a_grant_with_the_cookie_needs_the_csrf_header(signed_in, application):
    """Cookie-authenticated DELETE without X-CSRFToken is 400; with the page's token it is 204."""
    grant_tokens(signed_in, application)
    path = f"/api/v1/me/applications/{application.client_id}"
    response = signed_in.delete(path)
    assert response.status_code == 400
    assert response.mimetype == "application/problem+json"
    assert len(signed_in.get("/api/v1/me/applications").get_json()["applications"]) == 1
    token = csrf_token(signed_in.get("/logout").text)
    assert signed_in.delete(path, headers={"X-CSRFToken": token}).status_code == 204
    assert signed_in.get("/api/v1/me/applications").get_json() == {"applications": []}


@pytest.mark.parametrize("target", ["unknown-client", "not-granted"])
def test_withdrawing_an_unknown_grant_is_404_problem_json(app, signed_in, application, make_client, target):
    """A client_id the user never granted (or that does not exist) is 404 problem JSON."""
    tokens = grant_tokens(signed_in, application, scope="openid account")
    client_id = str(uuid.uuid4()) if target == "unknown-client" else make_client(name="Never Used").client_id
    response = app.test_client().delete(f"/api/v1/me/applications/{client_id}",
                                        headers=bearer(tokens["access_token"]))
    assert response.status_code == 404
    assert response.mimetype == "application/problem+json"
    body = response.get_json()
    assert set(body) == {"type", "title", "status", "detail"} and body["status"] == 404
