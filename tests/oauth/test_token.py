"""/oauth/token: client authentication, the code exchange, refresh rotation, client credentials."""

import hashlib
import sys
import threading

import flask
import pytest
import requests
from authlib.integrations.flask_oauth2.requests import FlaskOAuth2Request
from sqlalchemy import select

from app.extensions import db
from app.services import accounts
from oauth.models import AuthorizationCode
from oauth.server import FlaskRequest

from ..helpers import AuthActions
from ..helpers import AuthorizationRequest
from ..helpers import claims_of
from ..helpers import csrf_token
from ..helpers import exchange
from ..helpers import get_code
from ..helpers import introspect
from ..helpers import production_only
from ..helpers import refresh


@pytest.fixture
def confidential(make_client):
    return make_client(skip_consent=True)


@pytest.fixture
def public(make_client):
    return make_client(public=True, skip_consent=True)


@pytest.fixture
def resource_server(make_client):
    return make_client(grant_types=["client_credentials"], redirect_uris=(), name="API", introspect=True)


@pytest.mark.parametrize("kind", ["confidential", "public"])
def test_code_exchange_returns_tokens(request, signed_in, user, kind):
    """Access, refresh and ID token; no-store; exactly the RFC 6749 §5.1 members."""
    application = request.getfixturevalue(kind)
    authorization, code = get_code(signed_in, application)
    response = exchange(signed_in, application, authorization, code)
    assert response.status_code == 200, response.get_json()
    assert response.headers["Cache-Control"] == "no-store" and response.headers["Pragma"] == "no-cache"
    body = response.get_json()
    assert set(body) == {"access_token", "token_type", "expires_in", "refresh_token", "id_token", "scope"}
    assert body["token_type"] == "Bearer" and body["expires_in"] == 900 and body["scope"] == "openid profile email"
    header, claims = claims_of(body["access_token"])
    assert header["typ"] == "at+jwt" and header["alg"] == "RS256" and claims["keyId"] == header["kid"]
    assert set(claims) == {"iss", "sub", "aud", "exp", "iat", "jti", "client_id", "scope", "sid", "auth_time",
                           "roles", "userId", "sessionId", "loginDate", "keyId", "fam"}
    assert claims["sub"] == claims["userId"] == str(user.id) and claims["sid"] == claims["sessionId"]
    # The grant (refresh family) the token belongs to, and its issue time to the microsecond in the
    # opaque jti (oauth.revocations), for revocation.
    assert isinstance(claims["iat"], int) and int(claims["jti"].rpartition(".")[2], 16) // 10 ** 6 == claims["iat"]
    assert claims["client_id"] == application.client_id and claims["roles"] == ["user"]
    assert claims["iss"] == claims["aud"] == "http://localhost:5000" and claims["exp"] - claims["iat"] == 900
    id_header, id_claims = claims_of(body["id_token"])
    assert id_header["kid"] == header["kid"]
    assert id_claims["aud"] == [application.client_id] and id_claims["nonce"] == authorization.nonce
    assert {"at_hash", "auth_time", "sid", "amr", "iat", "exp"} <= set(id_claims)
    assert id_claims["sid"] == claims["sid"] and id_claims["amr"] == ["pwd"]
    assert id_claims["email"] == user.email


def test_no_openid_scope_means_no_id_token(signed_in, confidential):
    authorization, code = get_code(signed_in, confidential, scope="email")
    assert "id_token" not in exchange(signed_in, confidential, authorization, code).get_json()


@pytest.mark.parametrize("auth, form, status, error", [
    (("CLIENT", "wrong-secret"), {}, 401, "invalid_client"),
    (("no-such-client", "x"), {}, 401, "invalid_client"),
    (None, {"client_id": "CLIENT"}, 401, "invalid_client"),
    (None, {"client_id": "CLIENT", "client_secret": "wrong"}, 401, "invalid_client"),
], ids=["wrong-secret", "unknown-client", "confidential-without-secret", "wrong-secret-in-body"])
def test_client_authentication_failures(signed_in, confidential, auth, form, status, error):
    authorization, code = get_code(signed_in, confidential)
    if auth:
        auth = tuple(confidential.client_id if part == "CLIENT" else part for part in auth)
    form = {key: (confidential.client_id if value == "CLIENT" else value) for key, value in form.items()}
    response = signed_in.post("/oauth/token", auth=auth, data={
        "grant_type": "authorization_code", "code": code, "redirect_uri": authorization.redirect_uri,
        "code_verifier": authorization.verifier, **form})
    assert response.status_code == status and response.get_json()["error"] == error
    if auth:
        assert response.headers["WWW-Authenticate"].startswith("Basic")


def test_client_secret_post_is_accepted(signed_in, confidential):
    authorization, code = get_code(signed_in, confidential)
    response = signed_in.post("/oauth/token", data={
        "grant_type": "authorization_code", "code": code, "redirect_uri": authorization.redirect_uri,
        "code_verifier": authorization.verifier, "client_id": confidential.client_id,
        "client_secret": confidential.client_secret})
    assert response.status_code == 200


@pytest.mark.parametrize("changes, error", [
    ({"code_verifier": "x" * 50}, "invalid_grant"),
    ({"code_verifier": None}, "invalid_grant"),  # RFC 7636 §4.6, OAuth 2.1 §4.1.3
    ({"redirect_uri": "https://app.example.com/other"}, "invalid_grant"),
    ({"code": "not-a-code"}, "invalid_grant"),
    ({"code": None}, "invalid_request"),
], ids=["wrong-verifier", "missing-verifier", "other-redirect-uri", "unknown-code", "missing-code"])
def test_code_exchange_errors(signed_in, public, changes, error):
    authorization, code = get_code(signed_in, public)
    response = exchange(signed_in, public, authorization, code, changes)
    assert response.status_code in (400, 401) and response.get_json()["error"] == error


def test_missing_verifier_is_invalid_grant_and_leaves_the_code_unused(signed_in, confidential):
    """RFC 7636 §4.6: a code issued for a challenge does not verify without its verifier (confidential
    clients too); the refused attempt does not spend the code."""
    authorization, code = get_code(signed_in, confidential)
    refused = exchange(signed_in, confidential, authorization, code, {"code_verifier": None})
    assert refused.status_code == 400 and refused.get_json()["error"] == "invalid_grant"
    assert exchange(signed_in, confidential, authorization, code).status_code == 200


@pytest.mark.parametrize("sent, status", [
    (None, 200),
    ("https://app.example.com/callback", 200),
    ("https://app.example.com/other", 400),
], ids=["omitted", "the-registered-uri", "another-uri"])
def test_redirect_uri_may_be_omitted_when_the_authorization_request_omitted_it(signed_in, confidential, sent, status):
    """OAuth 2.1 §4.1.3: with no redirect_uri in the authorization request (one registered URI), the
    token request may leave it out; when it sends one, it must be the URI the code went to. (A plain
    OAuth request: an OpenID Connect one must send redirect_uri.)"""
    authorization = AuthorizationRequest(confidential, scope="profile email")
    del authorization.params["redirect_uri"]
    code = authorization.callback(signed_in.get(authorization.url).headers["Location"])["code"]
    response = exchange(signed_in, confidential, authorization, code, {"redirect_uri": sent})
    assert response.status_code == status, response.get_json()
    if status == 400:
        assert response.get_json()["error"] == "invalid_grant"


def test_redirect_uri_sent_in_the_authorization_request_is_required(signed_in, confidential):
    """RFC 6749 §4.1.3, OAuth 2.1 §4.1.3: sent then, it must be sent again (and match): invalid_grant."""
    authorization, code = get_code(signed_in, confidential)
    response = exchange(signed_in, confidential, authorization, code, {"redirect_uri": None})
    assert response.status_code == 400 and response.get_json()["error"] == "invalid_grant"


def test_verifier_without_challenge_is_refused(make_app, make_user, make_client):
    """RFC 9700 §2.1.1: a code_verifier for a request that had no challenge is a downgrade."""
    app = make_app(PKCE_REQUIRED_FOR_CONFIDENTIAL=False)
    user = make_user()
    signed_in = app.test_client()
    AuthActions(signed_in).login(user.email, user.password)
    application = make_client(skip_consent=True)
    request = AuthorizationRequest(application)
    request.params.pop("code_challenge")
    request.params.pop("code_challenge_method")
    code = request.callback(signed_in.get(request.url).headers["Location"])["code"]
    response = exchange(signed_in, application, request, code)
    assert response.status_code == 400 and response.get_json()["error"] == "invalid_request"


def test_code_of_another_client_is_refused(signed_in, confidential, make_client):
    other = make_client(skip_consent=True, name="Other")
    authorization, code = get_code(signed_in, confidential)
    response = exchange(signed_in, other, authorization, code)
    assert response.get_json()["error"] == "invalid_grant"


def test_code_expires_after_60_seconds(clock, signed_in, confidential):
    authorization, code = get_code(signed_in, confidential)
    clock.shift(61)
    assert exchange(signed_in, confidential, authorization, code).get_json()["error"] == "invalid_grant"


def test_reused_code_fails_and_revokes_what_it_issued(signed_in, confidential, resource_server):
    """RFC 6749 §4.1.2: the second use fails, and the first use's tokens are revoked."""
    authorization, code = get_code(signed_in, confidential)
    first = exchange(signed_in, confidential, authorization, code).get_json()
    assert introspect(signed_in, resource_server, first["access_token"])["active"] is True
    second = exchange(signed_in, confidential, authorization, code)
    assert second.status_code == 400 and second.get_json()["error"] == "invalid_grant"
    assert introspect(signed_in, resource_server, first["access_token"]) == {"active": False}
    assert refresh(signed_in, confidential, first["refresh_token"]).get_json()["error"] == "invalid_grant"


def test_refresh_rotates_and_reuse_revokes_the_family(signed_in, public, resource_server):
    authorization, code = get_code(signed_in, public)
    first = exchange(signed_in, public, authorization, code).get_json()
    second = refresh(signed_in, public, first["refresh_token"])
    assert second.status_code == 200 and second.headers["Cache-Control"] == "no-store"
    rotated = second.get_json()
    # OpenID Connect Core §12.2: the grant has openid, so a new ID token comes too.
    assert set(rotated) == {"access_token", "token_type", "expires_in", "refresh_token", "scope", "id_token"}
    assert rotated["refresh_token"] != first["refresh_token"]
    assert claims_of(rotated["access_token"])[1]["sid"] == claims_of(first["access_token"])[1]["sid"]
    replay = refresh(signed_in, public, first["refresh_token"])
    assert replay.status_code == 400 and replay.get_json()["error"] == "invalid_grant"
    assert refresh(signed_in, public, rotated["refresh_token"]).get_json()["error"] == "invalid_grant"
    assert introspect(signed_in, resource_server, rotated["access_token"]) == {"active": False}


def test_refresh_token_is_bound_to_its_client(signed_in, public, make_client):
    other = make_client(public=True, skip_consent=True, name="Other")
    authorization, code = get_code(signed_in, public)
    token = exchange(signed_in, public, authorization, code).get_json()["refresh_token"]
    assert refresh(signed_in, other, token).get_json()["error"] == "invalid_grant"
    assert refresh(signed_in, public, token).status_code == 200  # a foreign attempt does not burn it


def test_refresh_may_narrow_scope_but_not_widen_it(signed_in, public):
    authorization, code = get_code(signed_in, public, scope="openid email")
    token = exchange(signed_in, public, authorization, code).get_json()["refresh_token"]
    wider = refresh(signed_in, public, token, scope="openid email profile")
    assert wider.status_code == 400 and wider.get_json()["error"] == "invalid_scope"
    narrower = refresh(signed_in, public, token, scope="email")
    assert narrower.status_code == 200 and narrower.get_json()["scope"] == "email"


@pytest.mark.parametrize("scope, survives", [("openid", False), ("openid offline_access", True)],
                         ids=["online", "offline_access"])
def test_logout_ends_refresh_tokens_unless_offline_access(signed_in, public, scope, survives):
    authorization, code = get_code(signed_in, public, scope=scope)
    token = exchange(signed_in, public, authorization, code).get_json()["refresh_token"]
    AuthActions(signed_in).logout()
    assert (refresh(signed_in, public, token).status_code == 200) is survives


def test_deactivated_user_gets_nothing(app, signed_in, user, public):
    authorization, code = get_code(signed_in, public, scope="openid offline_access")
    token = exchange(signed_in, public, authorization, code).get_json()["refresh_token"]
    with app.app_context():
        accounts.deactivate(user.email)
    assert refresh(signed_in, public, token).get_json()["error"] == "invalid_grant"


def test_refresh_token_expires(clock, signed_in, public):
    authorization, code = get_code(signed_in, public, scope="openid offline_access")
    token = exchange(signed_in, public, authorization, code).get_json()["refresh_token"]
    clock.shift(30 * 86400 + 1)
    assert refresh(signed_in, public, token).get_json()["error"] == "invalid_grant"


def test_client_credentials_issues_an_access_token_only(client, resource_server):
    response = client.post("/oauth/token", data={"grant_type": "client_credentials", "scope": "openid"},
                           auth=(resource_server.client_id, resource_server.client_secret))
    assert response.status_code == 200
    body = response.get_json()
    assert set(body) == {"access_token", "token_type", "expires_in", "scope"}
    _, claims = claims_of(body["access_token"])
    assert claims["sub"] == claims["client_id"] == resource_server.client_id
    assert "userId" not in claims and "sid" not in claims


def test_client_credentials_needs_the_grant(client, make_client):
    application = make_client()
    response = client.post("/oauth/token", data={"grant_type": "client_credentials"},
                           auth=(application.client_id, application.client_secret))
    assert response.status_code == 400 and response.get_json()["error"] == "unauthorized_client"


@pytest.mark.parametrize("form, error", [
    ({"grant_type": "password", "username": "a", "password": "b"}, "unsupported_grant_type"),
    ({"grant_type": "implicit"}, "unsupported_grant_type"),
    ({}, "unsupported_grant_type"),
], ids=["password", "implicit", "none"])
def test_unsupported_grants(client, resource_server, form, error):
    response = client.post("/oauth/token", data=form, auth=(resource_server.client_id, resource_server.client_secret))
    assert response.status_code == 400 and response.get_json()["error"] == error


def test_token_endpoint_errors_are_oauth_json(client):
    response = client.get("/oauth/token")
    assert response.status_code == 405
    assert response.get_json() == {"error": "invalid_request",
                                   "error_description": "The method is not allowed for the requested URL."}


@pytest.mark.parametrize("base_url", ["https://id.example", "http://127.0.0.1:5000", "http://[::1]:5000"])
def test_authlib_sees_the_request_as_its_own_constructor_builds_it(app, base_url):
    """oauth.server.FlaskRequest replaces the constructor of Authlib's request: the same attributes,
    parameters and URI (Authlib's as an IRI, with what may be decoded decoded)."""
    with app.test_request_context("/oauth/token?resource=urn%3Ax", method="POST", base_url=base_url,
                                  data={"grant_type": "client_credentials"}):
        ours = FlaskRequest(flask.request._get_current_object())
        theirs = FlaskOAuth2Request(flask.request)
        assert (ours.method, ours.headers, ours.payload.datalist) == (theirs.method, theirs.headers,
                                                                      theirs.payload.datalist)
    assert set(vars(ours)) == set(vars(theirs))
    assert ours.uri == f"{base_url}/oauth/token?resource=urn%3Ax"
    assert theirs.uri == f"{base_url}/oauth/token?resource=urn:x"


def test_authlib_answers_are_encoded_as_flask_encodes_json(app):
    """oauth.server encodes Authlib's JSON with one kept encoder: the bytes of flask.json.dumps."""
    payload = {"scope": "b a", "active": True, "exp": 1, "name": "Zoë ☃", "aud": ["x", "y"],
               "nested": {"z": 1, "a": None}}
    with app.app_context():
        response = app.extensions["oauth_server"].handle_response(200, payload, [("Content-Type", "application/json")])
        assert response.get_data(as_text=True) == flask.json.dumps(payload)


def test_issuing_and_validating_an_access_token_runs_no_sql(make_app, make_client, sql_statements):
    """Nothing is written for an access token (revocations are recorded instead), so with warm
    caches a client_credentials token request, and introspecting or using the token, take no
    database connection and send no statement."""
    app = make_app(KEY_RING_CHECK_INTERVAL=60, CLIENT_CACHE_CHECK_INTERVAL=60, DENYLIST_SYNC_INTERVAL=60)
    resource_server = make_client(grant_types=["client_credentials"], redirect_uris=(), name="API",
                                  introspect=True)
    http = app.test_client()
    auth = (resource_server.client_id, resource_server.client_secret)
    first = http.post("/oauth/token", data={"grant_type": "client_credentials"}, auth=auth).get_json()
    assert introspect(http, resource_server, first["access_token"])["active"] is True  # caches warm

    with sql_statements(app) as sent:
        body = http.post("/oauth/token", data={"grant_type": "client_credentials"}, auth=auth).get_json()
    assert sent == [] and "access_token" in body
    with sql_statements(app) as sent:
        assert introspect(http, resource_server, body["access_token"])["active"] is True
    assert sent == []


@production_only
def test_concurrent_exchanges_of_one_code_give_one_success(live_server, user, make_client):
    """Two simultaneous token requests with the same code: exactly one gets tokens (PostgreSQL)."""
    application = make_client(public=True, skip_consent=True)
    authorization, code = code_over_http(live_server.url, user, application)
    results = race(lambda: requests.post(f"{live_server.url}/oauth/token", data={
        "grant_type": "authorization_code", "code": code, "redirect_uri": authorization.redirect_uri,
        "code_verifier": authorization.verifier, "client_id": application.client_id}).status_code)
    assert sorted(results) == [200, 400]


@production_only
def test_concurrent_refreshes_give_one_success(live_server, user, make_client):
    """Two simultaneous refreshes with the same token: exactly one succeeds (PostgreSQL)."""
    application = make_client(public=True, skip_consent=True)
    authorization, code = code_over_http(live_server.url, user, application)
    token = requests.post(f"{live_server.url}/oauth/token", data={
        "grant_type": "authorization_code", "code": code, "redirect_uri": authorization.redirect_uri,
        "code_verifier": authorization.verifier, "client_id": application.client_id}).json()["refresh_token"]
    results = race(lambda: requests.post(f"{live_server.url}/oauth/token", data={
        "grant_type": "refresh_token", "refresh_token": token, "client_id": application.client_id}).status_code)
    assert sorted(results) == [200, 400]


def code_over_http(base, user, application):
    """Sign in through the real form and get a code, as a signed_in would."""
    session = requests.Session()
    page = session.get(f"{base}/login")
    session.post(f"{base}/login", data={"csrf_token": csrf_token(page.text), "email": user.email,
                                        "password": user.password})
    authorization = AuthorizationRequest(application)
    location = session.get(base + authorization.url, allow_redirects=False).headers["Location"]
    return authorization, authorization.callback(location)["code"]


def race(call, runners=2):
    """Run ``call`` in several threads released together; their results."""
    barrier = threading.Barrier(runners)
    results = []

    def run():
        barrier.wait(timeout=10)
        results.append(call())

    threads = [threading.Thread(target=run) for _ in range(runners)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return results


def test_the_deprecated_authlib_jose_is_never_imported(signed_in, public):
    """Authlib 1.9 deprecates authlib.jose; keys reach Authlib as joserfc keys from the ring."""
    authorization, code = get_code(signed_in, public)
    assert exchange(signed_in, public, authorization, code).status_code == 200
    assert "authlib.jose" not in sys.modules


def test_codes_are_stored_as_digests(app, signed_in, public):
    authorization, code = get_code(signed_in, public)
    with app.app_context():
        stored = db.session.scalar(select(AuthorizationCode))
        assert stored.code_hash == hashlib.sha256(code.encode()).hexdigest() and code not in str(vars(stored))
