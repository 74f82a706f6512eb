"""private_key_jwt and client_secret_jwt (RFC 7523 §2.2, §3; OpenID Connect Core §9) over real HTTP
against a real server: Authlib's own client (``OAuth2Session`` with ``PrivateKeyJWT`` /
``ClientSecretJWT``) as the relying-party library, assertions made by hand for what a library
would never send (replays, expired, wrong audience, wrong algorithm, a foreign key), and a small
real HTTP server in the test serving a client's ``jwks_uri``."""

import base64
import hashlib
import hmac
import json
import secrets
import threading
import time
import uuid
from datetime import datetime
from datetime import timedelta
from datetime import timezone
from http.server import BaseHTTPRequestHandler
from http.server import ThreadingHTTPServer
from types import SimpleNamespace
from urllib.parse import parse_qs
from urllib.parse import urljoin
from urllib.parse import urlsplit

import pytest
import requests
import sqlalchemy as sa
from authlib.integrations.requests_client import OAuth2Session
from authlib.oauth2.rfc7523 import ClientSecretJWT
from authlib.oauth2.rfc7523 import PrivateKeyJWT
from joserfc import jwt
from joserfc.jwk import ECKey
from joserfc.jwk import OctKey
from joserfc.jwk import RSAKey

from app.extensions import db
from oauth import assertions
from oauth import client_keys
from oauth import clients
from oauth.models import ClientAssertionUse
from tests.helpers import AuthorizationRequest
from tests.helpers import csrf_token
from tests.helpers import production_only

from ..helpers import free_port
from .test_oauth_flow import UserAgent

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
REDIRECT_URI = "https://rp.example.com/callback"
SCOPE = "openid profile email"


def token_url(server) -> str:
    return f"{server.url}/oauth/token"
    client_keys.forget()


@pytest.fixture(scope="module")
def rsa_key():
    return RSAKey.generate_key(2048, parameters={"kid": "rp-rsa-1", "use": "sig"})


@pytest.fixture(scope="module")
def other_rsa_key():
    return RSAKey.generate_key(2048, parameters={"kid": "rp-rsa-1", "use": "sig"})


def public_jwks(*keys) -> dict:
    return {"keys": [key.as_dict(private=False) for key in keys]}


@pytest.fixture
def register(server):
    """Register an application on the server; returns its id and secret (None for private_key_jwt)."""

    def factory(method="private_key_jwt", grant_types=("client_credentials",), introspect=False, **metadata):
        redirect_uris = [REDIRECT_URI] if "authorization_code" in grant_types else []
        with server.app.app_context():
            application, secret = clients.register(
                "Relying Party", redirect_uris, grant_types=list(grant_types), scope=SCOPE, skip_consent=True,
                token_endpoint_auth_method=method, introspect=introspect, **metadata)
            return SimpleNamespace(client_id=application.client_id, client_secret=secret,
                                   redirect_uris=redirect_uris, name="Relying Party")

    return factory


def assertion(key, client_id, audience, alg="RS256", lifetime=60, header=None, **claims) -> str:
    """A client assertion as RFC 7523 §3 describes it; ``claims`` override or (None) remove members."""
    at = int(time.time())
    payload = {"iss": client_id, "sub": client_id, "aud": audience, "iat": at, "exp": at + lifetime,
               "jti": secrets.token_urlsafe(16)}
    payload.update(claims)
    payload = {name: value for name, value in payload.items() if value is not None}
    return jwt.encode({"alg": alg, **(header or {})}, payload, key, algorithms=[alg])


def token_request(server, client_assertion, assertion_type=ASSERTION_TYPE, auth=None, **extra) -> requests.Response:
    form = {"grant_type": "client_credentials", "client_assertion_type": assertion_type,
            "client_assertion": client_assertion, **extra}
    return requests.post(token_url(server), data={k: v for k, v in form.items() if v is not None}, auth=auth,
                         timeout=10)


def refused(response, error="invalid_client", status=401, says=None):
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error"] == error, body
    if says:
        assert says in body["error_description"], body
    return body


def key_session(server, client, key, alg="RS256", kid=True) -> OAuth2Session:
    """Authlib's requests client authenticating with private_key_jwt."""
    method = PrivateKeyJWT(token_url(server), alg=alg, headers={"kid": key.kid} if kid else None)
    return OAuth2Session(client.client_id, key, token_endpoint_auth_method=method, scope=SCOPE,
                         redirect_uri=REDIRECT_URI)


# OIDF: oidcc-server (client_auth_type=private_key_jwt)
def test_code_flow_with_private_key_jwt_through_authlibs_client(server, register, rsa_key, user):
    """The code is exchanged by Authlib's client authenticating with private_key_jwt (assertion
    addressed to the token endpoint, no kid: the one key that fits is used); then the refresh."""
    client = register(grant_types=("authorization_code", "refresh_token"), jwks=public_jwks(rsa_key))
    agent = UserAgent(server.url)
    request = AuthorizationRequest(client, scope=SCOPE, issuer=server.url)
    signed_in = _sign_in_and_authorize(agent, request, user)
    session = key_session(server, client, rsa_key, kid=False)
    token = session.fetch_token(token_url(server), grant_type="authorization_code", code=signed_in["code"],
                                redirect_uri=REDIRECT_URI, code_verifier=request.verifier)
    assert {"access_token", "id_token", "refresh_token"} <= set(token)
    refreshed = session.refresh_token(token_url(server), refresh_token=token["refresh_token"])
    assert refreshed["access_token"] != token["access_token"]


def _sign_in_and_authorize(agent: UserAgent, request: AuthorizationRequest, user) -> dict:
    """Through the login page to a skip-consent client: the query the client receives."""
    started = agent.get(request.url)
    assert started.status_code == 302, started.text
    login_url = urljoin(agent.url, started.headers["Location"])
    resume = parse_qs(urlsplit(login_url).query)["next"][0]
    page = agent.get(login_url)
    answered = agent.post("/login", {"csrf_token": csrf_token(page.text), "email": user.email,
                                     "password": user.password, "next": resume})
    assert answered.status_code == 303, answered.text
    back = agent.get(resume)
    assert back.status_code == 302, back.text
    return request.callback(back.headers["Location"])


def test_client_credentials_revocation_and_introspection_with_private_key_jwt(server, register, rsa_key):
    """Authlib's client at three endpoints, each assertion addressed to the endpoint it is sent to."""
    client = register(jwks=public_jwks(rsa_key), introspect=True, token_endpoint_auth_signing_alg="RS256")
    session = key_session(server, client, rsa_key)
    token = session.fetch_token(token_url(server), grant_type="client_credentials")
    introspect_method = PrivateKeyJWT(None, alg="RS256", headers={"kid": rsa_key.kid})
    introspection = OAuth2Session(client.client_id, rsa_key, token_endpoint_auth_method=introspect_method,
                                  revocation_endpoint_auth_method=introspect_method)
    active = introspection.introspect_token(f"{server.url}/oauth/introspect", token=token["access_token"])
    assert active.status_code == 200 and active.json()["active"] is True, active.text
    revoked = introspection.revoke_token(f"{server.url}/oauth/revoke", token=token["access_token"])
    assert revoked.status_code == 200, revoked.text
    after = introspection.introspect_token(f"{server.url}/oauth/introspect", token=token["access_token"])
    assert after.json() == {"active": False}


@pytest.mark.parametrize("alg", ["PS256", "ES256"])
def test_other_asymmetric_algorithms(server, register, alg):
    key = RSAKey.generate_key(2048, parameters={"kid": "k"}) if alg.startswith("PS") \
        else ECKey.generate_key("P-256", parameters={"kid": "k"})
    client = register(jwks=public_jwks(key))
    token = key_session(server, client, key, alg=alg).fetch_token(token_url(server), grant_type="client_credentials")
    assert token["token_type"] == "Bearer"


# OIDF: oidcc-ensure-client-assertion-with-iss-aud-succeeds
def test_an_assertion_addressed_to_the_issuer_succeeds(server, register, rsa_key):
    """The assertion's aud is the issuer identifier, not the token endpoint: accepted (as a list too)."""
    client = register(jwks=public_jwks(rsa_key))
    response = token_request(server, assertion(rsa_key, client.client_id, server.url))
    assert response.status_code == 200, response.text
    response = token_request(server, assertion(rsa_key, client.client_id, ["https://other.example.com", server.url]))
    assert response.status_code == 200, response.text


def test_an_assertion_is_single_use(server, register, rsa_key):
    """RFC 7523 §3 (7): the jti is spent by its first use, even by a request that failed after it."""
    client = register(jwks=public_jwks(rsa_key))
    used = assertion(rsa_key, client.client_id, token_url(server))
    assert token_request(server, used).status_code == 200
    refused(token_request(server, used), says="used before")
    failing = assertion(rsa_key, client.client_id, token_url(server))
    # Authenticated, then refused: this client may not use the refresh_token grant.
    refused(token_request(server, failing, grant_type="refresh_token", refresh_token="x"), "unauthorized_client", 400)
    refused(token_request(server, failing), says="used before")


@production_only
def test_concurrent_replays_exactly_one_wins(server, register, rsa_key, backend):
    """Eight requests with one assertion at the same moment: one token, seven refusals."""
    client = register(jwks=public_jwks(rsa_key))
    shared = assertion(rsa_key, client.client_id, token_url(server))
    barrier = threading.Barrier(8)
    results = []

    def attempt():
        barrier.wait()
        results.append(token_request(server, shared).status_code)

    threads = [threading.Thread(target=attempt) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [200] + [401] * 7


def _hs256(secret: bytes, header: dict, claims: dict) -> str:
    def part(value) -> bytes:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=")
    signing_input = part(header) + b"." + part(claims)
    signature = base64.urlsafe_b64encode(hmac.new(secret, signing_input, hashlib.sha256).digest()).rstrip(b"=")
    return (signing_input + b"." + signature).decode()


@pytest.mark.parametrize("case", [
    "expired", "too-far", "wrong-aud", "no-jti", "no-exp", "iss-not-sub", "client-id-mismatch", "foreign-key",
    "unknown-client", "alg-none", "hs256-with-public-key", "not-registered-alg", "exp-nan", "exp-string",
    "jti-number", "nbf-future",
])
def test_bad_assertions_are_invalid_client(server, register, rsa_key, other_rsa_key, case):
    # Only one case registers an algorithm: the others meet the method's family rule alone (HS256 is
    # refused for private_key_jwt before any key is looked at).
    client = register(jwks=public_jwks(rsa_key),
                      token_endpoint_auth_signing_alg="RS256" if case == "not-registered-alg" else None)
    cid, aud = client.client_id, token_url(server)
    extra = {}
    if case == "expired":
        value = assertion(rsa_key, cid, aud, lifetime=-120)
    elif case == "too-far":
        value = assertion(rsa_key, cid, aud, lifetime=2 * 3600)
    elif case == "wrong-aud":
        value = assertion(rsa_key, cid, "https://elsewhere.example.com/oauth/token")
    elif case == "no-jti":
        value = assertion(rsa_key, cid, aud, jti=None)
    elif case == "no-exp":
        value = assertion(rsa_key, cid, aud, exp=None)
    elif case == "iss-not-sub":
        value = assertion(rsa_key, cid, aud, iss="someone-else")
    elif case == "client-id-mismatch":
        value, extra = assertion(rsa_key, cid, aud), {"client_id": "another-client"}
    elif case == "foreign-key":  # same kid, another key pair
        value = assertion(other_rsa_key, cid, aud, header={"kid": rsa_key.kid})
    elif case == "unknown-client":
        value = assertion(rsa_key, "00000000-0000-0000-0000-000000000000", aud)
    elif case == "alg-none":
        header = base64.urlsafe_b64encode(b'{"alg":"none"}').rstrip(b"=").decode()
        body = base64.urlsafe_b64encode(json.dumps(
            {"iss": cid, "sub": cid, "aud": aud, "exp": int(time.time()) + 60, "jti": "x"}).encode()).rstrip(b"=")
        value = f"{header}.{body.decode()}."
    elif case == "hs256-with-public-key":  # key confusion: the public key's PEM as an HMAC secret
        at = int(time.time())
        value = _hs256(rsa_key.as_pem(private=False), {"alg": "HS256", "kid": rsa_key.kid},
                       {"iss": cid, "sub": cid, "aud": aud, "exp": at + 60, "jti": secrets.token_urlsafe(8)})
    elif case == "exp-nan":  # signed by the client itself: still never a 500
        value = assertion(rsa_key, cid, aud, exp=float("nan"))
    elif case == "exp-string":
        value = assertion(rsa_key, cid, aud, exp=str(int(time.time()) + 60))
    elif case == "jti-number":
        value = assertion(rsa_key, cid, aud, jti=12345)
    elif case == "nbf-future":
        value = assertion(rsa_key, cid, aud, nbf=int(time.time()) + 600)
    else:  # registered RS256, signed PS256 with the right key
        value = assertion(rsa_key, cid, aud, alg="PS256")
    says = {"hs256-with-public-key": "must be signed with RS256 or RS384", "alg-none": "must be signed with",
            "not-registered-alg": "must be signed with RS256.", "too-far": "too far in the future",
            "foreign-key": "does not verify", "expired": "not acceptable", "wrong-aud": "not acceptable",
            "iss-not-sub": "iss and sub", "unknown-client": "does not exist"}.get(case)
    refused(token_request(server, value, **extra), says=says)


@pytest.mark.parametrize("value", [
    "not-a-jwt", "a.b.c", "...", "e30.e30.", "W10.W10.c2ln", "eyJhbGciOiJSUzI1NiJ9.__8.c2ln", "ä.ö.ü",
    "x" * 9000, "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOjF9.c2ln", "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOltdfQ.c2ln",
], ids=["plain", "abc", "dots", "empty-objects", "arrays", "non-utf8", "non-ascii", "huge", "sub-int",
        "sub-list"])
def test_garbage_assertions_are_invalid_client_never_a_500(server, value):
    refused(token_request(server, value))


def test_malformed_requests_are_invalid_request(server, register, rsa_key):
    """RFC 6749 §2.3 / §5.2: one authentication method per request; RFC 7521 §4.2: both parameters."""
    client = register(jwks=public_jwks(rsa_key))
    good = assertion(rsa_key, client.client_id, token_url(server))
    refused(token_request(server, good, auth=(client.client_id, "secret")), "invalid_request", 400,
            says="more than one way")
    refused(token_request(server, good, client_secret="secret"), "invalid_request", 400)
    refused(token_request(server, good, assertion_type=None), "invalid_request", 400, says="client_assertion_type")
    refused(token_request(server, good, assertion_type="urn:example:other"), "invalid_request", 400)
    refused(token_request(server, None), "invalid_request", 400, says="client_assertion is missing")
    # Nothing above spent the assertion: it was never checked.
    assert token_request(server, good).status_code == 200


def test_a_client_uses_only_the_method_it_registered(server, register, rsa_key):
    """OpenID Connect Core §9: a client_secret_basic client cannot switch to an assertion at will
    (even one signed by keys it registered), and a private_key_jwt client has no secret."""
    basic = register(method="client_secret_basic", jwks=public_jwks(rsa_key))
    refused(token_request(server, assertion(rsa_key, basic.client_id, token_url(server))),
            says="registered for client_secret_basic")
    keyed = register(jwks=public_jwks(rsa_key))
    assert keyed.client_secret is None
    response = requests.post(token_url(server), data={"grant_type": "client_credentials"},
                             auth=(keyed.client_id, "anything"), timeout=10)
    refused(response)


def test_jwks_uri_keys_are_fetched_and_a_rotated_key_is_picked_up(server, register, rsa_key, other_rsa_key,
                                                                  monkeypatch):
    """The client's keys come from its jwks_uri (a real HTTP server here); a signature by a kid
    the cached set lacks fetches it again; a key the client withdrew stops working."""
    monkeypatch.setattr(client_keys, "REFETCH_INTERVAL", 0.0)
    served = {"document": public_jwks(rsa_key)}

    class Keys(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (http.server's name)
            body = json.dumps(served["document"]).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    keys_server = ThreadingHTTPServer(("127.0.0.1", 0), Keys)
    threading.Thread(target=keys_server.serve_forever, daemon=True).start()
    try:
        client = register(jwks_uri=f"http://127.0.0.1:{keys_server.server_port}/jwks.json")
        first = key_session(server, client, rsa_key).fetch_token(token_url(server), grant_type="client_credentials")
        assert first["access_token"]
        rotated = RSAKey.generate_key(2048, parameters={"kid": "rp-rsa-2", "use": "sig"})
        served["document"] = public_jwks(rotated)
        second = key_session(server, client, rotated).fetch_token(token_url(server), grant_type="client_credentials")
        assert second["access_token"]
        refused(token_request(server, assertion(other_rsa_key, client.client_id, token_url(server),
                                                header={"kid": "rp-rsa-2"})))
    finally:
        keys_server.shutdown()
        keys_server.server_close()


def test_unusable_jwks_uri_is_invalid_client_never_a_500(server, register, rsa_key):
    """A jwks_uri serving no usable JWKS (its reason quotes the document), or nothing at all."""

    class NotKeys(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (http.server's name)
            body = b'{"keys": "none \\ here"}'
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    keys_server = ThreadingHTTPServer(("127.0.0.1", 0), NotKeys)
    threading.Thread(target=keys_server.serve_forever, daemon=True).start()
    try:
        client = register(jwks_uri=f"http://127.0.0.1:{keys_server.server_port}/jwks.json")
        refused(token_request(server, assertion(rsa_key, client.client_id, token_url(server))),
                says="public keys cannot be had")
    finally:
        keys_server.shutdown()
        keys_server.server_close()
    gone = register(jwks_uri=f"http://127.0.0.1:{free_port()}/jwks.json")
    refused(token_request(server, assertion(rsa_key, gone.client_id, token_url(server))),
            says="public keys cannot be had")


def test_a_jwks_uri_that_redirects_is_not_followed(server, register, rsa_key):
    """A registered jwks_uri answering 302 must not make the server fetch where it points (an
    internal address, say: SSRF), as request_uri and back-channel logout never follow redirects."""
    fetched = []

    class Keys(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (http.server's name)
            fetched.append(self.path)
            if self.path.startswith("/redirect"):
                self.send_response(302)
                self.send_header("Location", f"http://127.0.0.1:{self.server.server_port}/internal/jwks.json")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            body = json.dumps(public_jwks(rsa_key)).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    keys_server = ThreadingHTTPServer(("127.0.0.1", 0), Keys)
    threading.Thread(target=keys_server.serve_forever, daemon=True).start()
    try:
        client = register(jwks_uri=f"http://127.0.0.1:{keys_server.server_port}/redirect")
        refused(token_request(server, assertion(rsa_key, client.client_id, token_url(server))),
                says="public keys cannot be had")
        assert fetched == ["/redirect"]
    finally:
        keys_server.shutdown()
        keys_server.server_close()


# --- client_secret_jwt ---------------------------------------------------------------------------------

def secret_session(server, client, secret, alg="HS256") -> OAuth2Session:
    method = ClientSecretJWT(token_url(server), alg=alg)
    return OAuth2Session(client.client_id, secret, token_endpoint_auth_method=method)


# OIDF: oidcc-server (client_auth_type=client_secret_jwt)
def test_client_secret_jwt_through_authlibs_client(server, register, user):
    """Authlib's ClientSecretJWT; the secret works as an HMAC key, never sent itself (nor as Basic)."""
    client = register(method="client_secret_jwt", grant_types=("authorization_code", "client_credentials"))
    token = secret_session(server, client, client.client_secret).fetch_token(token_url(server),
                                                                             grant_type="client_credentials")
    assert token["access_token"]
    agent = UserAgent(server.url)
    request = AuthorizationRequest(client, scope=SCOPE, issuer=server.url)
    query = _sign_in_and_authorize(agent, request, user)
    exchanged = secret_session(server, client, client.client_secret, alg="HS512").fetch_token(
        token_url(server), grant_type="authorization_code", code=query["code"], redirect_uri=REDIRECT_URI,
        code_verifier=request.verifier)
    assert exchanged["id_token"]
    basic = requests.post(token_url(server), data={"grant_type": "client_credentials"},
                          auth=(client.client_id, client.client_secret), timeout=10)
    refused(basic)
    wrong = secret_session(server, client, secrets.token_urlsafe(32))
    with pytest.raises(Exception, match="invalid_client"):
        wrong.fetch_token(token_url(server), grant_type="client_credentials")


def test_client_secret_jwt_refuses_asymmetric_signatures_and_rotation_reseals(server, register, rsa_key):
    client = register(method="client_secret_jwt", token_endpoint_auth_signing_alg="HS256")
    refused(token_request(server, assertion(rsa_key, client.client_id, token_url(server))), says="HS256")
    refused(token_request(server, assertion(OctKey.import_key(client.client_secret), client.client_id,
                                            token_url(server), alg="HS384")), says="HS256")
    with server.app.app_context():
        _, new_secret = clients.rotate_secret(client.client_id)
    refused(token_request(server, assertion(OctKey.import_key(client.client_secret), client.client_id,
                                            token_url(server), alg="HS256")))
    response = token_request(server, assertion(OctKey.import_key(new_secret), client.client_id, token_url(server),
                                               alg="HS256"))
    assert response.status_code == 200, response.text


def test_switching_to_client_secret_jwt_issues_a_new_secret(server, register):
    """The server keeps older secrets only as digests; the switch issues (and seals) a new one."""
    client = register(method="client_secret_basic")
    with server.app.app_context():
        application, secret = clients.update(client.client_id, token_endpoint_auth_method="client_secret_jwt")
        assert secret and secret != client.client_secret and application.client_secret_sealed
        assert secret not in application.client_secret_sealed
    refused(requests.post(token_url(server), data={"grant_type": "client_credentials"},
                          auth=(client.client_id, client.client_secret), timeout=10))
    token = secret_session(server, client, secret).fetch_token(token_url(server), grant_type="client_credentials")
    assert token["access_token"]
    with server.app.app_context():
        application, again = clients.update(client.client_id, token_endpoint_auth_method="client_secret_post")
        assert again is None and application.client_secret_sealed is None
    response = requests.post(token_url(server), timeout=10, data={
        "grant_type": "client_credentials", "client_id": client.client_id, "client_secret": secret})
    assert response.status_code == 200, response.text


# OIDF: oidcc-server-client-secret-post
def test_code_flow_with_client_secret_post_through_authlibs_client(server, register, user):
    client = register(method="client_secret_post", grant_types=("authorization_code",))
    agent = UserAgent(server.url)
    request = AuthorizationRequest(client, scope=SCOPE, issuer=server.url)
    query = _sign_in_and_authorize(agent, request, user)
    session = OAuth2Session(client.client_id, client.client_secret, token_endpoint_auth_method="client_secret_post")
    token = session.fetch_token(token_url(server), grant_type="authorization_code", code=query["code"],
                                redirect_uri=REDIRECT_URI, code_verifier=request.verifier)
    assert token["id_token"] and token["access_token"]


def test_discovery_lists_the_methods_and_algorithms(server):
    document = requests.get(f"{server.url}/.well-known/openid-configuration", timeout=10).json()
    methods = ["client_secret_basic", "client_secret_post", "private_key_jwt", "client_secret_jwt"]
    assert document["token_endpoint_auth_methods_supported"] == [*methods, "none"]
    assert document["revocation_endpoint_auth_methods_supported"] == [*methods, "none"]
    assert document["introspection_endpoint_auth_methods_supported"] == methods
    algs = [*clients.ASYMMETRIC_ALGS, *clients.HMAC_ALGS]
    for endpoint in ("token", "revocation", "introspection"):
        assert document[f"{endpoint}_endpoint_auth_signing_alg_values_supported"] == algs
        assert "none" not in algs


def test_spent_jtis_are_kept_until_their_assertion_expires_then_purged(server, register, rsa_key):
    """A used jti is recorded (as a digest) until exp + the allowed skew; records past that go as
    new ones are written."""
    client = register(jwks=public_jwks(rsa_key))
    with server.app.app_context():
        application_id = clients.get(client.client_id).id
        stale = ClientAssertionUse(id=uuid.uuid4(), application_id=application_id, jti_hash="0" * 64,
                                   expires_at=datetime.now(timezone.utc) - timedelta(seconds=1))
        db.session.add(stale)
        db.session.commit()
    assertions._purged["at"] = 0.0  # the last purge was long ago
    jti = secrets.token_urlsafe(16)
    sent = assertion(rsa_key, client.client_id, token_url(server), lifetime=300, jti=jti)
    assert token_request(server, sent).status_code == 200
    with server.app.app_context():
        rows = db.session.execute(sa.select(ClientAssertionUse.jti_hash, ClientAssertionUse.expires_at)).all()
    assert [row.jti_hash for row in rows] == [hashlib.sha256(jti.encode()).hexdigest()]
    exp = jwt.decode(sent, rsa_key).claims["exp"]
    assert rows[0].expires_at == datetime.fromtimestamp(exp + 60, tz=timezone.utc)
