"""Request objects at /oauth/authorize (RFC 9101, OpenID Connect Core §6): by value and by reference.

Objects by reference are served by a real HTTP server on loopback (the issuer is plain http on
localhost, so http loopback request_uri values are fetchable, as on a developer's machine).
"""

import base64
import hashlib
import hmac
import json
import threading
import time
from http.server import BaseHTTPRequestHandler
from http.server import ThreadingHTTPServer
from urllib.parse import parse_qs
from urllib.parse import urlencode
from urllib.parse import urlsplit

import pytest
from hypothesis import HealthCheck
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st
from joserfc import jwt
from joserfc.jwk import ECKey
from joserfc.jwk import OKPKey
from joserfc.jwk import RSAKey
from sqlalchemy import select

from app.extensions import db
from oauth import client_keys
from oauth import clients
from oauth.models import Application
from oauth.models import PendingAuthorization

from ..helpers import AuthActions
from ..helpers import AuthorizationRequest
from ..helpers import claims_of
from ..helpers import exchange
from ..helpers import free_port

ISSUER = "http://localhost:5000"
RSA = RSAKey.generate_key(2048, parameters={"kid": "rsa-1", "use": "sig"})
RSA_OTHER = RSAKey.generate_key(2048, parameters={"kid": "rsa-2", "use": "sig"})
EC = ECKey.generate_key("P-256", parameters={"kid": "ec-1", "use": "sig"})
ED = OKPKey.generate_key("Ed25519", parameters={"kid": "ed-1", "use": "sig"})


def jwks(*keys) -> dict:
    return {"keys": [key.as_dict(private=False) for key in keys]}


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unsigned(claims: dict) -> str:
    return b64(json.dumps({"alg": "none"}).encode()) + "." + b64(json.dumps(claims).encode()) + "."


def signed(claims: dict, key=RSA, alg="RS256", kid=True) -> str:
    header = {"alg": alg, "typ": "oauth-authz-req+jwt"}
    if kid:
        header["kid"] = key.kid
    return jwt.encode(header, claims, key, algorithms=[alg])


class RequestUriServer:
    """A relying party's web server: serves request objects (and its JWKS) at paths the test sets;
    ``slow`` paths send their headers and then nothing for ``hang`` seconds."""

    def __init__(self):
        self.documents: dict[str, tuple[int, dict, bytes]] = {}
        self.hang = 0.0
        self.fetches: list[str] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                owner.fetches.append(self.path)
                status, headers, body = owner.documents.get(self.path, (404, {}, b"not found"))
                if status == "slow":
                    self.send_response(200)
                    self.send_header("Content-Type", "application/oauth-authz-req+jwt")
                    self.end_headers()
                    self.wfile.write(body[:10])
                    self.wfile.flush()
                    time.sleep(owner.hang)
                    return
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.http.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.http.server_port}"
        self.thread = threading.Thread(target=self.http.serve_forever, daemon=True)
        self.thread.start()

    def serve(self, path: str, body, status=200, content_type="application/oauth-authz-req+jwt", **headers) -> str:
        data = body.encode() if isinstance(body, str) else body
        self.documents[path] = (status, {"Content-Type": content_type, **headers}, data)
        return self.url + path

    def close(self):
        self.http.shutdown()
        self.http.server_close()
        self.thread.join()


@pytest.fixture
def rp_server():
    server = RequestUriServer()
    client_keys.forget()
    yield server
    server.close()
    client_keys.forget()


@pytest.fixture
def rp(app, make_client):
    """A registered client (skips consent) with the registration columns the test gives it."""

    def factory(**columns):
        registered = make_client(skip_consent=True)
        with app.app_context():
            application = db.session.scalar(select(Application).where(Application.client_id == registered.client_id))
            for name, value in columns.items():
                setattr(application, name, value)
            db.session.commit()
            clients.invalidate()
        return registered

    return factory


def configure(app, client, **columns):
    with app.app_context():
        application = db.session.scalar(select(Application).where(Application.client_id == client.client_id))
        for name, value in columns.items():
            setattr(application, name, value)
        db.session.commit()
        clients.invalidate()


def object_claims(request: AuthorizationRequest, **extra) -> dict:
    """Every parameter of the request in the object, with iss and aud (as the OIDF suite sends them)."""
    return {**request.params, "iss": request.client.client_id, "aud": ISSUER, **extra}


def by_value(request: AuthorizationRequest, token: str, **query) -> str:
    """The URL the OIDF suite builds: request, plus response_type, client_id, scope and redirect_uri
    in the query (OpenID Connect Core §6.1); state, nonce and PKCE only inside the object."""
    params = {"request": token, **{name: request.params[name] for name in
                                   ("response_type", "client_id", "scope", "redirect_uri")}, **query}
    return "/oauth/authorize?" + urlencode({name: value for name, value in params.items() if value is not None})


def by_reference(request: AuthorizationRequest, request_uri: str, **query) -> str:
    params = {"request_uri": request_uri, **{name: request.params[name] for name in
                                             ("response_type", "client_id", "scope", "redirect_uri")}, **query}
    return "/oauth/authorize?" + urlencode({name: value for name, value in params.items() if value is not None})


def error_at_client(response, redirect_uri: str) -> dict:
    """The error query redirected to the client's registered redirect URI (no code)."""
    assert response.status_code == 302, response.text
    location = response.headers["Location"]
    assert location.startswith(redirect_uri + "?"), location
    query = {name: values[0] for name, values in parse_qs(urlsplit(location).query).items()}
    assert "code" not in query and query["iss"] == ISSUER
    return query


def code_for(signed_in, application, request: AuthorizationRequest, url: str) -> str:
    """Follow a URL that must succeed: the code, after the callback checks (state from the object, iss)."""
    response = signed_in.get(url)
    assert response.status_code == 302, response.text
    return request.callback(response.headers["Location"])["code"]


def tokens_for(signed_in, application, request, code) -> dict:
    response = exchange(signed_in, application, request, code)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


# --- OIDF modules -------------------------------------------------------------------------------------

# OIDF: oidcc-unsigned-request-object-supported-correctly-or-rejected-as-unsupported
def test_unsigned_request_object_is_processed_for_a_client_that_allows_none(signed_in, rp):
    """alg none, by value; state, nonce and PKCE only in the object: the code comes back with the
    object's state, and the ID token carries the object's nonce."""
    application = rp(request_object_signing_alg="none")
    request = AuthorizationRequest(application)
    code = code_for(signed_in, application, request, by_value(request, unsigned(object_claims(request))))
    tokens = tokens_for(signed_in, application, request, code)
    assert claims_of(tokens["id_token"])[1]["nonce"] == request.nonce


# OIDF: oidcc-unsigned-request-object-supported-correctly-or-rejected-as-unsupported
def test_request_object_from_a_client_without_keys_or_none_is_request_not_supported(signed_in, rp):
    """The module's other accepted answer: request_not_supported (OpenID Connect Core §6.1), sent to
    the registered redirect URI."""
    application = rp()
    request = AuthorizationRequest(application)
    query = error_at_client(signed_in.get(by_value(request, unsigned(object_claims(request)))),
                            request.redirect_uri)
    assert query["error"] == "request_not_supported"


# OIDF: oidcc-request-uri-unsigned
# OIDF: oidcc-request-uri-unsigned-supported-correctly-or-rejected-as-unsupported
def test_unsigned_request_uri_is_fetched_and_processed(signed_in, rp, rp_server):
    request_uri = rp_server.serve("/request/1.jwt", "")
    application = rp(request_object_signing_alg="none", request_uris=[request_uri])
    request = AuthorizationRequest(application)
    rp_server.serve("/request/1.jwt", unsigned(object_claims(request)), content_type="application/jose")
    code = code_for(signed_in, application, request, by_reference(request, request_uri))
    assert tokens_for(signed_in, application, request, code)["token_type"] == "Bearer"
    assert rp_server.fetches == ["/request/1.jwt"]


# OIDF: oidcc-request-uri-unsigned-supported-correctly-or-rejected-as-unsupported
def test_request_uri_from_a_client_without_keys_or_none_is_request_uri_not_supported(signed_in, rp, rp_server):
    request_uri = rp_server.serve("/request/1.jwt", "")
    application = rp(request_uris=[request_uri])
    request = AuthorizationRequest(application)
    rp_server.serve("/request/1.jwt", unsigned(object_claims(request)))
    query = error_at_client(signed_in.get(by_reference(request, request_uri)), request.redirect_uri)
    assert query["error"] == "request_uri_not_supported"
    assert rp_server.fetches == []


# OIDF: oidcc-request-uri-signed-rs256
def test_rs256_signed_request_uri(signed_in, rp, rp_server):
    request_uri = rp_server.serve("/signed.jwt", "")
    application = rp(jwks=jwks(RSA, EC), request_object_signing_alg="RS256", request_uris=[request_uri])
    request = AuthorizationRequest(application)
    rp_server.serve("/signed.jwt", signed(object_claims(request)))
    code = code_for(signed_in, application, request, by_reference(request, request_uri))
    tokens = tokens_for(signed_in, application, request, code)
    assert claims_of(tokens["id_token"])[1]["nonce"] == request.nonce


# OIDF: oidcc-request-object-signed-rs256 (by value; the suite's by-reference twin is oidcc-request-uri-signed-rs256)
@pytest.mark.parametrize("key, alg", [(RSA, "RS256"), (EC, "ES256"), (RSA, "PS256"), (ED, "Ed25519")],
                         ids=["RS256", "ES256", "PS256", "Ed25519"])
def test_signed_request_object_by_value(signed_in, rp, key, alg):
    """Signed with one of the client's registered keys; any supported asymmetric algorithm when the
    client registered none in particular."""
    application = rp(jwks=jwks(RSA, EC, ED))
    request = AuthorizationRequest(application)
    code = code_for(signed_in, application, request, by_value(request, signed(object_claims(request), key, alg)))
    assert tokens_for(signed_in, application, request, code)["token_type"] == "Bearer"


def test_signed_request_object_without_kid_is_verified_with_the_key_of_its_type(signed_in, rp):
    application = rp(jwks=jwks(RSA_OTHER, RSA, EC))
    request = AuthorizationRequest(application)
    code_for(signed_in, application, request, by_value(request, signed(object_claims(request), kid=False)))


# OIDF: oidcc-ensure-request-object-with-redirect-uri
def test_redirect_uri_in_the_request_object_wins_over_the_query(signed_in, rp):
    """The query's redirect_uri is unregistered; the object's (registered) one is used."""
    application = rp(request_object_signing_alg="none")
    request = AuthorizationRequest(application)
    url = by_value(request, unsigned(object_claims(request)), redirect_uri="https://evil.example/callback")
    code = code_for(signed_in, application, request, url)
    assert tokens_for(signed_in, application, request, code)["token_type"] == "Bearer"


# OIDF: oidcc-ensure-registered-redirect-uri
def test_unregistered_redirect_uri_in_the_request_object_shows_an_error_page(signed_in, rp):
    application = rp(request_object_signing_alg="none")
    request = AuthorizationRequest(application)
    claims = object_claims(request, redirect_uri="https://evil.example/callback")
    response = signed_in.get(by_value(request, unsigned(claims)))
    assert response.status_code == 400 and "Location" not in response.headers
    assert "cannot be completed" in response.text


# OIDF: oidcc-response-type-missing
def test_response_type_missing(signed_in, rp):
    """Without response_type the request is refused (an error page: RFC 6749 §3.1.1)."""
    application = rp()
    request = AuthorizationRequest(application, response_type=None)
    response = signed_in.get(request.url)
    if response.status_code == 302:
        assert error_at_client(response, request.redirect_uri)["error"] in ("invalid_request",
                                                                            "unsupported_response_type")
    else:
        assert response.status_code == 400 and "Location" not in response.headers


# OIDF: oidcc-response-type-missing
def test_openid_request_object_without_response_type_in_the_query_is_refused(signed_in, rp):
    """OpenID Connect Core §6.1: response_type MUST be in the query as well, even when in the object."""
    application = rp(request_object_signing_alg="none")
    request = AuthorizationRequest(application)
    response = signed_in.get(by_value(request, unsigned(object_claims(request)), response_type=None))
    assert error_at_client(response, request.redirect_uri)["error"] == "invalid_request"


def test_plain_oauth_request_object_uses_only_the_object(signed_in, rp):
    """RFC 9101 §6.3 (no openid in the query's scope): only the object's parameters count, so
    client_id alone may accompany it, and a query state is not used."""
    application = rp(request_object_signing_alg="none")
    request = AuthorizationRequest(application, scope="profile")
    url = "/oauth/authorize?" + urlencode({"client_id": application.client_id, "state": "from-the-query",
                                           "request": unsigned(object_claims(request))})
    code_for(signed_in, application, request, url)


def test_response_type_in_query_and_object_must_match(signed_in, rp):
    application = rp(request_object_signing_alg="none")
    request = AuthorizationRequest(application)
    response = signed_in.get(by_value(request, unsigned(object_claims(request, response_type="token"))))
    assert error_at_client(response, request.redirect_uri)["error"] == "invalid_request"


# --- stored while the user signs in -------------------------------------------------------------------

def test_resumed_request_uses_the_resolved_parameters_and_is_not_verified_again(app, client, user, rp, rp_server):
    """Kept server-side as resolved (no request_uri, the object's state); after sign-in the request
    goes on even though the object is gone and the client's keys changed."""
    request_uri = rp_server.serve("/signed.jwt", "")
    application = rp(jwks=jwks(RSA), request_uris=[request_uri])
    request = AuthorizationRequest(application)
    rp_server.serve("/signed.jwt", signed(object_claims(request)))
    started = client.get(by_reference(request, request_uri))
    assert started.status_code == 302 and urlsplit(started.headers["Location"]).path == "/login"
    with app.app_context():
        stored = db.session.scalars(select(PendingAuthorization)).one().params
    assert "request_uri" not in stored and "request" not in stored
    assert stored["state"] == [request.state] and stored["code_challenge"] == [request.params["code_challenge"]]

    rp_server.documents.clear()
    configure(app, application, jwks=jwks(RSA_OTHER))
    resume = parse_qs(urlsplit(started.headers["Location"]).query)["next"][0]
    AuthActions(client).login(user.email, user.password, next_path=resume)
    final = client.get(resume)
    assert final.status_code == 302, final.text
    code = request.callback(final.headers["Location"])["code"]
    assert tokens_for(client, application, request, code)["token_type"] == "Bearer"
    assert rp_server.fetches == ["/signed.jwt"]


def test_unknown_kid_fetches_the_jwks_uri_again_once(signed_in, rp, rp_server, monkeypatch):
    """The client rotated its keys: a kid the cached set lacks fetches its jwks_uri again."""
    monkeypatch.setattr(client_keys, "REFETCH_INTERVAL", 0)
    jwks_uri = rp_server.serve("/jwks.json", json.dumps(jwks(RSA)), content_type="application/json")
    application = rp(jwks_uri=jwks_uri)
    first = AuthorizationRequest(application)
    code_for(signed_in, application, first, by_value(first, signed(object_claims(first))))
    rp_server.serve("/jwks.json", json.dumps(jwks(RSA, RSA_OTHER)), content_type="application/json")
    second = AuthorizationRequest(application)
    code_for(signed_in, application, second, by_value(second, signed(object_claims(second), RSA_OTHER)))
    assert rp_server.fetches == ["/jwks.json", "/jwks.json"]


# --- attacks ------------------------------------------------------------------------------------------

def hs256_with_public_key(claims: dict) -> str:
    """The classic confusion: HMAC keyed with the client's public key (PEM), which anyone has."""
    signing_input = b64(json.dumps({"alg": "HS256", "kid": RSA.kid}).encode()) + "." + b64(json.dumps(claims).encode())
    secret = RSA.as_pem(private=False)
    return signing_input + "." + b64(hmac.new(secret, signing_input.encode(), hashlib.sha256).digest())


def tampered(claims: dict) -> str:
    header, _, signature = signed(claims).split(".")
    return f"{header}.{b64(json.dumps({**claims, 'scope': 'openid profile email admin'}).encode())}.{signature}"


ATTACKS = {
    "tampered-signature": (lambda claims: tampered(claims), {}),
    "signed-by-another-key": (lambda claims: signed(claims, RSA_OTHER, kid=False), {}),
    "unknown-kid": (lambda claims: signed(claims, RSA_OTHER), {}),
    "alg-none-not-allowed": (lambda claims: unsigned(claims), {}),
    "hs256-with-public-key": (hs256_with_public_key, {}),
    "alg-other-than-registered": (lambda claims: signed(claims, EC, "ES256"), {"request_object_signing_alg": "RS256"}),
    "signed-when-none-registered": (lambda claims: signed(claims), {"request_object_signing_alg": "none"}),
    "for-another-client": (lambda claims: signed({**claims, "client_id": "someone-else"}), {}),
    "iss-another-client": (lambda claims: signed({**claims, "iss": "someone-else"}), {}),
    "aud-another-server": (lambda claims: signed({**claims, "aud": "https://other.example"}), {}),
    "expired": (lambda claims: signed({**claims, "exp": int(time.time()) - 3600}), {}),
    "not-yet-valid": (lambda claims: signed({**claims, "nbf": int(time.time()) + 3600}), {}),
    "nested-request": (lambda claims: signed({**claims, "request": unsigned(claims)}), {}),
    "nested-request-uri": (lambda claims: signed({**claims, "request_uri": "https://app.example.com/r"}), {}),
    "non-json-payload": (lambda claims: jwt.encode({"alg": "RS256", "kid": RSA.kid}, {}, RSA)
                         .split(".")[0] + "." + b64(b"not json") + "." + "x", {}),
    "signed-non-json-payload": (lambda claims: _signed_bytes(b"not json"), {}),
    "not-a-jwt": (lambda claims: "garbage", {}),
    "encrypted": (lambda claims: "a.b.c.d.e", {}),
    "huge": (lambda claims: signed({**claims, "padding": "x" * 70_000}), {}),
    "array-member": (lambda claims: signed({**claims, "prompt": ["login"]}), {}),
}


def _signed_bytes(payload: bytes) -> str:
    from joserfc import jws
    return jws.serialize_compact({"alg": "RS256", "kid": RSA.kid}, payload, RSA)


@pytest.mark.parametrize("attack", ATTACKS, ids=list(ATTACKS))
def test_forged_or_invalid_request_objects_are_refused(signed_in, rp, attack):
    """invalid_request_object, to the verified (registered) redirect URI, never a code; the state is
    the query's only (the object's is not trusted)."""
    make, columns = ATTACKS[attack]
    application = rp(jwks=jwks(RSA), **columns)
    request = AuthorizationRequest(application)
    query = error_at_client(signed_in.get(by_value(request, make(object_claims(request)), state="query-state")),
                            request.redirect_uri)
    assert query["error"] == "invalid_request_object", query
    assert query["state"] == "query-state"


def test_without_a_registered_redirect_uri_in_the_query_an_invalid_object_shows_a_page(signed_in, rp):
    """Two registered URIs and none named in the query: nowhere trusted to send the error."""
    application = rp(jwks=jwks(RSA), redirect_uris=["https://app.example.com/a", "https://app.example.com/b"])
    request = AuthorizationRequest(application, redirect_uri="https://app.example.com/a")
    response = signed_in.get(by_value(request, tampered(object_claims(request)), redirect_uri=None))
    assert response.status_code == 400 and "Location" not in response.headers
    assert "invalid_request_object" in response.text


def test_request_and_request_uri_together_are_invalid_request(signed_in, rp, rp_server):
    request_uri = rp_server.serve("/signed.jwt", "")
    application = rp(jwks=jwks(RSA), request_uris=[request_uri])
    request = AuthorizationRequest(application)
    token = signed(object_claims(request))
    rp_server.serve("/signed.jwt", token)
    response = signed_in.get(by_value(request, token, request_uri=request_uri))
    assert error_at_client(response, request.redirect_uri)["error"] == "invalid_request"
    assert rp_server.fetches == []


def test_unregistered_request_uri_is_never_fetched(signed_in, rp, rp_server):
    registered = rp_server.serve("/registered.jwt", "")
    application = rp(jwks=jwks(RSA), request_uris=[registered])
    request = AuthorizationRequest(application)
    other = rp_server.serve("/other.jwt", signed(object_claims(request)))
    for attempt in (other, registered + "/", registered + "?x=1", registered.replace("127.0.0.1", "localhost")):
        query = error_at_client(signed_in.get(by_reference(request, attempt)), request.redirect_uri)
        assert query["error"] == "invalid_request_uri"
    assert rp_server.fetches == []


def test_a_fragment_may_be_added_to_a_registered_request_uri(signed_in, rp, rp_server):
    """OpenID Connect Registration §2: a fragment (a hash of the content) versions the URI."""
    request_uri = rp_server.serve("/signed.jwt", "")
    application = rp(jwks=jwks(RSA), request_uris=[request_uri])
    request = AuthorizationRequest(application)
    token = signed(object_claims(request))
    rp_server.serve("/signed.jwt", token)
    code_for(signed_in, application, request, by_reference(request, f"{request_uri}#{b64(token.encode())[:43]}"))


@pytest.mark.parametrize("case", ["hangs", "huge", "redirects", "not-found", "refused"])
def test_request_uri_that_misbehaves_is_invalid_request_uri_quickly(app, signed_in, rp, rp_server, case):
    request_uri = rp_server.url + "/object.jwt"
    application = rp(jwks=jwks(RSA), request_uris=[request_uri])
    request = AuthorizationRequest(application)
    token = signed(object_claims(request))
    if case == "hangs":
        rp_server.hang = 30
        rp_server.documents["/object.jwt"] = ("slow", {}, token.encode())
    elif case == "huge":
        rp_server.serve("/object.jwt", token + "." * 200_000)
    elif case == "redirects":
        target = rp_server.serve("/elsewhere.jwt", token)
        rp_server.serve("/object.jwt", "", status=302, Location=target)
    elif case == "refused":  # nobody listens there
        request_uri = f"http://127.0.0.1:{free_port()}/object.jwt"
        configure(app, application, request_uris=[request_uri])
    started = time.monotonic()
    query = error_at_client(signed_in.get(by_reference(request, request_uri)), request.redirect_uri)
    assert query["error"] == "invalid_request_uri"
    assert time.monotonic() - started < 6
    assert "/elsewhere.jwt" not in rp_server.fetches


@pytest.mark.parametrize("uri, https_issuer, fetchable", [
    ("https://rp.example/request.jwt", True, True),
    ("http://rp.example/request.jwt", True, False),
    ("http://127.0.0.1:8000/request.jwt", True, False),
    ("http://127.0.0.1:8000/request.jwt", False, True),
    ("http://rp.example/request.jwt", False, False),
    ("file:///etc/passwd", False, False),
    ("ftp://127.0.0.1/request.jwt", False, False),
])
def test_request_uri_must_be_https_or_loopback_under_a_plain_http_issuer(make_app, uri, https_issuer, fetchable):
    from oauth import request_objects
    app = make_app(ISSUER="https://idp.example.com" if https_issuer else "http://localhost:5000")
    with app.app_context():
        assert request_objects._fetchable(uri) is fetchable


def test_repeated_request_is_invalid_request_and_repeated_redirect_uri_leaves_only_a_page(signed_in, rp):
    application = rp(jwks=jwks(RSA))
    request = AuthorizationRequest(application)
    token = signed(object_claims(request))
    twice = by_value(request, token) + "&" + urlencode({"request": token})
    assert error_at_client(signed_in.get(twice), request.redirect_uri)["error"] == "invalid_request"
    both = by_value(request, tampered(object_claims(request))) + "&" + urlencode(
        {"redirect_uri": request.redirect_uri})
    response = signed_in.get(both)
    assert response.status_code == 400 and "Location" not in response.headers


JSON_VALUES = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
                           lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner,
                                                                                       max_size=3), max_leaves=8)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(raw=st.text(max_size=300), members=st.dictionaries(st.text(max_size=12), JSON_VALUES, max_size=6))
def test_no_request_object_makes_a_server_error(signed_in, rp, raw, members):
    """Whatever the object holds (any text; any JSON members, unsigned for a client allowing none):
    an answer, never a 500."""
    application = rp(request_object_signing_alg="none")
    request = AuthorizationRequest(application)
    for token in (raw, unsigned({**object_claims(request), **members})):
        response = signed_in.get(by_value(request, token))
        assert response.status_code in (200, 302, 400), response.status_code


def test_a_nonce_with_a_nul_in_the_object_is_invalid_request(signed_in, rp):
    """A NUL in the query is refused before routing, but one inside a request object reached the
    code's INSERT: PostgreSQL refuses NUL in text (a 500). invalid_request at the client instead."""
    application = rp(request_object_signing_alg="none")
    request = AuthorizationRequest(application)
    response = signed_in.get(by_value(request, unsigned(object_claims(request, nonce="n\x00n"))))
    assert error_at_client(response, request.redirect_uri)["error"] == "invalid_request"
