"""Malformed protocol requests get a clear OAuth error, never a 500: undecodable client
credentials, characters an error description cannot carry, foreign handles, plain http, and
repeated parameters (RFC 6749 §3.1, §3.2)."""

import base64
import logging
import re
from urllib.parse import urlencode

import pytest
from werkzeug.datastructures import MultiDict

from ..helpers import AuthorizationRequest
from ..helpers import csrf_token

PROTOCOL_ENDPOINTS = ["/oauth/token", "/oauth/revoke", "/oauth/introspect"]
INSECURE_BASE = "http://id.example.com"


@pytest.fixture
def service(make_client):
    """A confidential client_credentials client that may also introspect."""
    return make_client(redirect_uris=(), grant_types=["client_credentials"], name="Service", introspect=True)


def basic(client_id: str, secret: str) -> dict:
    return {"Authorization": "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()}


def form_for(path: str) -> dict:
    return {"grant_type": "client_credentials"} if path == "/oauth/token" else {"token": "not-a-token"}


# --- client credentials that cannot be decoded ----------------------------------------------------------

@pytest.mark.parametrize("path", PROTOCOL_ENDPOINTS)
@pytest.mark.parametrize("authorization", [
    "Basic " + base64.b64encode(b"\xff\xfe:\xc3\x28secret").decode(),
    "Basic " + base64.b64encode("client:sécret".encode("latin-1")).decode(),
    "Basic \u00e9t\u00e9",
    "Basic !!!not-base64!!!",
    "Basic " + base64.b64encode(b"a\x00:b").decode(),
    "Basic " + base64.b64encode(b"%00:b").decode(),
], ids=["not-utf8", "latin1-secret", "non-ascii-header", "not-base64", "nul-client-id", "escaped-nul-client-id"])
def test_undecodable_basic_credentials_are_invalid_client(client, service, path, authorization):
    """RFC 6749 §5.2: 401 invalid_client with a Basic challenge (RFC 7617), whatever the bytes."""
    response = client.post(path, data=form_for(path), headers={"Authorization": authorization})
    assert response.status_code == 401, response.text
    assert response.get_json()["error"] == "invalid_client"
    assert response.headers["WWW-Authenticate"].startswith("Basic")


@pytest.mark.parametrize("path", PROTOCOL_ENDPOINTS)
def test_good_basic_credentials_still_work(client, service, path):
    """The stricter decoding accepts what clients really send."""
    response = client.post(path, data=form_for(path), headers=basic(service.client_id, service.client_secret))
    assert response.status_code == 200, response.get_json()


# --- /oauth/authorize values an error description cannot carry -------------------------------------------

UNSAFE = ["\t", '"', "\\", "\x01", "\x7f", "\u00e9", "\u2603"]
UNSAFE_IDS = ["tab", "quote", "backslash", "control", "delete", "latin1", "non-latin1"]


@pytest.mark.parametrize("character", UNSAFE, ids=UNSAFE_IDS)
def test_unsafe_redirect_uri_is_an_error_page(client, make_client, character):
    """An unregistered redirect_uri, whatever its characters: 400 page, no redirect."""
    request = AuthorizationRequest(make_client())
    request.params["redirect_uri"] = "https://app.example.com/callback" + character
    response = client.get(request.url)
    assert response.status_code == 400
    assert "Location" not in response.headers
    assert response.mimetype == "text/html" and "cannot be completed" in response.text


@pytest.mark.parametrize("character", UNSAFE, ids=UNSAFE_IDS)
def test_unsafe_response_type_goes_back_to_a_verified_client(client, make_client, character):
    """The client and redirect URI were verified: unsupported_response_type goes back with state and iss."""
    request = AuthorizationRequest(make_client())
    request.params["response_type"] = "code" + character
    response = client.get(request.url)
    assert response.status_code == 302
    assert request.callback(response.headers["Location"])["error"] == "unsupported_response_type"


@pytest.mark.parametrize("character", UNSAFE, ids=UNSAFE_IDS)
def test_unsafe_response_type_and_redirect_uri_is_an_error_page(client, make_client, character):
    """Nothing verified: the page, not a redirect."""
    request = AuthorizationRequest(make_client())
    request.params["response_type"] = "code" + character
    request.params["redirect_uri"] = "https://evil.example/" + character
    response = client.get(request.url)
    assert response.status_code == 400 and "Location" not in response.headers
    assert response.mimetype == "text/html"


# --- /oauth/authorize/<handle> with a handle this server never made ---------------------------------------

EXPIRED = "has expired or is not yours"


# A NUL is refused before routing (tests/app/test_web.py: test_a_nul_character_is_a_400_in_the_area_format).
@pytest.mark.parametrize("handle", ["%C3%A9t%C3%A9", "%E2%98%83" * 10], ids=["latin1", "snowman"])
def test_foreign_handles_show_the_expired_page(signed_in, make_client, handle):
    """GET and POST (with a valid CSRF token) of a non-ASCII handle: the expired page, 400."""
    consent = signed_in.get(AuthorizationRequest(make_client()).url)  # a pending request in this browser
    assert consent.status_code == 200
    shown = signed_in.get(f"/oauth/authorize/{handle}")
    assert shown.status_code == 400 and EXPIRED in shown.text
    decided = signed_in.post(f"/oauth/authorize/{handle}",
                             data={"csrf_token": csrf_token(consent.text), "decision": "allow"})
    assert decided.status_code == 400 and EXPIRED in decided.text
    assert "Location" not in decided.headers


# --- plain http with a non-loopback host ------------------------------------------------------------------

@pytest.mark.parametrize("method, path", [
    ("POST", "/oauth/token"), ("POST", "/oauth/revoke"), ("POST", "/oauth/introspect"),
    ("GET", "/oauth/userinfo"), ("POST", "/oauth/userinfo"),
])
def test_plain_http_protocol_endpoints_answer_invalid_request_json(client, service, method, path):
    """RFC 6749 §3.1, §3.2: TLS is required; the client is told so in OAuth error JSON."""
    response = client.open(path, method=method, base_url=INSECURE_BASE, data=form_for(path),
                           headers=basic(service.client_id, service.client_secret))
    assert response.status_code == 400
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert body["error"] == "invalid_request" and "https is required" in body["error_description"]
    assert response.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1", "[::1]", "LocalHost"])
@pytest.mark.parametrize("method, path", [("POST", "/oauth/token"), ("POST", "/oauth/introspect"),
                                          ("GET", "/oauth/userinfo")])
def test_an_https_issuer_refuses_plain_http_whatever_the_host(make_app, service, host, method, path):
    """A loopback Host is the client's to send: behind an https issuer it buys no plain http."""
    app = make_app(ISSUER="https://id.example.com")
    response = app.test_client().open(path, method=method, base_url=f"http://{host}", data=form_for(path),
                                      headers=basic(service.client_id, service.client_secret))
    assert response.status_code == 400
    assert "https is required" in response.get_json()["error_description"]


@pytest.mark.parametrize("path", ["/oauth/authorize", "/oauth/logout"])
def test_plain_http_browser_endpoints_show_an_error_page(signed_in, make_client, path):
    """The authorization and logout endpoints show the person a page saying https is required."""
    query = AuthorizationRequest(make_client()).url.partition("?")[2] if path == "/oauth/authorize" else ""
    response = signed_in.get(f"{path}?{query}", base_url=INSECURE_BASE)
    assert response.status_code == 400
    assert response.mimetype == "text/html"
    assert "https is required" in response.text and "invalid_request" in response.text
    assert "Location" not in response.headers


@pytest.mark.parametrize("issuer, warned", [
    ("http://id.example.com", True),
    ("http://10.0.0.5:5000", True),
    ("https://id.example.com", False),
    ("http://localhost:5000", False),
    ("http://127.0.0.1:8000", False),
    ("http://[::1]:8000", False),
], ids=["http-name", "http-private-ip", "https", "localhost", "ipv4-loopback", "ipv6-loopback"])
def test_an_insecure_issuer_is_warned_about_at_start_up(make_app, caplog, issuer, warned):
    """One warning per application when ISSUER is http on a non-loopback host."""
    caplog.set_level(logging.WARNING, logger="oauth")
    make_app(ISSUER=issuer)
    found = [record for record in caplog.records if record.name == "oauth" and "https" in record.getMessage()]
    assert len(found) == (1 if warned else 0)


# --- repeated parameters ----------------------------------------------------------------------------------

@pytest.mark.parametrize("path, fields", [
    ("/oauth/token", [("grant_type", "client_credentials"), ("scope", "openid"), ("scope", "profile")]),
    ("/oauth/token", [("grant_type", "client_credentials"), ("grant_type", "client_credentials")]),
    ("/oauth/revoke", [("token", "a"), ("token", "b")]),
    ("/oauth/revoke", [("token", "a"), ("token_type_hint", "access_token"), ("token_type_hint", "refresh_token")]),
    ("/oauth/introspect", [("token", "a"), ("token", "b")]),
], ids=["token-scope", "token-grant-type", "revoke-token", "revoke-hint", "introspect-token"])
def test_repeated_parameters_are_invalid_request(client, service, path, fields):
    """RFC 6749 §3.2: parameters MUST NOT be included more than once: 400 invalid_request."""
    response = client.post(path, data=MultiDict(fields), headers=basic(service.client_id, service.client_secret))
    assert response.status_code == 400, response.get_json()
    assert response.get_json()["error"] == "invalid_request"
    assert response.headers["Cache-Control"] == "no-store"


def test_a_parameter_in_both_query_and_body_is_repeated(client, service):
    """The query string and the body are one request: a name in both is repeated."""
    response = client.post("/oauth/token?grant_type=client_credentials", data={"grant_type": "client_credentials"},
                           headers=basic(service.client_id, service.client_secret))
    assert response.status_code == 400 and response.get_json()["error"] == "invalid_request"


def test_a_repeated_name_that_cannot_be_echoed_is_still_refused(client, service):
    """Even a parameter name with characters an error description cannot carry: 400, not 500."""
    fields = [("grant_type", "client_credentials"), ('we"ird\u00e9', "1"), ('we"ird\u00e9', "2")]
    response = client.post("/oauth/token", data=MultiDict(fields),
                           headers=basic(service.client_id, service.client_secret))
    assert response.status_code == 400 and response.get_json()["error"] == "invalid_request"


@pytest.mark.parametrize("name", ["response_type", "scope", "state", "nonce", "code_challenge",
                                  "code_challenge_method", "login_hint"])
def test_repeated_authorization_parameters_go_back_to_a_verified_client(client, make_client, name):
    """RFC 6749 §3.1: refused with invalid_request, sent back since client and redirect URI were verified."""
    request = AuthorizationRequest(make_client(skip_consent=True))
    extra = [(name, "again")] if name in request.params else [(name, "one"), (name, "two")]
    response = client.get(request.url + "&" + urlencode(extra))
    assert response.status_code == 302, response.text
    assert request.callback(response.headers["Location"])["error"] == "invalid_request"


@pytest.mark.parametrize("name", ["client_id", "redirect_uri"])
def test_a_repeated_client_id_or_redirect_uri_is_an_error_page(client, make_client, name):
    """Which client, which URI? Nothing is verified, so nothing is redirected."""
    application = make_client(skip_consent=True)
    request = AuthorizationRequest(application)
    response = client.get(request.url + "&" + urlencode([(name, request.params[name])]))
    assert response.status_code == 400 and "Location" not in response.headers
    assert re.search("invalid_request", response.text)


@pytest.mark.parametrize("method, path, status", [
    ("GET", "/oauth/nonexistent", 404),
    ("GET", "/oauth/%00", 400),
    ("PUT", "/oauth/authorize", 405),
    ("DELETE", "/oauth/authorize/some-handle", 405),
], ids=["unknown-path", "nul-path", "authorize-put", "handle-delete"])
def test_a_path_under_oauth_that_no_route_takes_is_oauth_error_json(client, method, path, status):
    """A client's mistake under /oauth/ is answered like the protocol endpoints answer theirs."""
    response = client.open(path, method=method)
    assert response.status_code == status
    assert response.mimetype == "application/json"
    assert response.get_json()["error"] == "invalid_request"


def test_the_authorization_pages_keep_their_html_errors(client):
    """A routed page under /oauth/ still shows the error page (no redirect to an unverified URI)."""
    response = client.get("/oauth/authorize?client_id=unknown")
    assert response.status_code == 400 and response.mimetype == "text/html"


# --- hostile values of the OpenID Connect parameters -------------------------------------------------------

@pytest.mark.parametrize("max_age", ["\u00b2", "\u0661\u0662", "9" * 5000, "99999999999"],
                         ids=["superscript-two", "arabic-indic-digits", "5000-digits", "11-digits"])
def test_a_max_age_that_is_no_number_of_seconds_is_ignored(signed_in, make_client, max_age):
    """Digits int() refuses (or thousands of them) were a 500: such a max_age asks for nothing."""
    request = AuthorizationRequest(make_client(skip_consent=True), max_age=max_age)
    response = signed_in.get(request.url)
    assert response.status_code == 302, response.text
    assert "code" in request.callback(response.headers["Location"])


@pytest.mark.parametrize("scope", ["openid profile", "profile"])
def test_a_nonce_longer_than_the_server_keeps_is_invalid_request(signed_in, make_client, scope):
    """A nonce of 256 characters failed the code's INSERT (a 500 on PostgreSQL): invalid_request
    at the client, for an OpenID request or not (the nonce is kept with the code either way)."""
    request = AuthorizationRequest(make_client(skip_consent=True), scope=scope, nonce="n" * 256)
    response = signed_in.get(request.url)
    assert response.status_code == 302, response.text
    assert request.callback(response.headers["Location"])["error"] == "invalid_request"
    request = AuthorizationRequest(make_client(skip_consent=True), scope=scope, nonce="n" * 255)
    assert "code" in request.callback(signed_in.get(request.url).headers["Location"])


@pytest.mark.parametrize("claims", ["[]", "not json", '{"id_token": []}', "\u00e9"])
def test_a_malformed_claims_parameter_without_openid_is_invalid_request(signed_in, make_client, claims):
    """The claims parameter is read for every request (acr, sub): without openid in the scope it
    was never validated, and a malformed one was a 500."""
    request = AuthorizationRequest(make_client(skip_consent=True), scope="profile", claims=claims)
    response = signed_in.get(request.url)
    assert response.status_code == 302, response.text
    assert request.callback(response.headers["Location"])["error"] == "invalid_request"
