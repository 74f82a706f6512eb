"""The protocol end to end: a real server over real HTTP, `requests` as the client (the real login
and consent forms, CSRF included) and PyJWT as an independent resource server."""

import base64
import hashlib
import json
import os
import re
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import parse_qs
from urllib.parse import urlencode
from urllib.parse import urljoin
from urllib.parse import urlsplit

import jwt
import pytest
import requests

from tests.helpers import AuthorizationRequest
from tests.helpers import csrf_token
from tests.helpers import production_only

from ..helpers import free_port
from ..helpers import wait_until_up

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
REDIRECT_URI = "https://app.example.com/callback"
POST_LOGOUT_URI = "https://app.example.com/signed-out"
SCOPE = "openid profile email"
FORM_ACTION = re.compile(r'<form method="post" action="([^"]+)"')

# fam: the grant (refresh family) a user's access token belongs to, which revocation names.
ACCESS_TOKEN_CLAIMS = {"iss", "sub", "aud", "exp", "iat", "jti", "client_id", "scope", "keyId", "auth_time", "roles",
                       "userId", "loginDate", "sid", "sessionId", "fam"}
ID_TOKEN_CLAIMS = {"iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "acr", "amr", "at_hash", "sid", "name",
                   "picture", "updated_at", "email", "email_verified"}


def credentials(client) -> dict:
    """How ``client`` authenticates at the token endpoint: client_secret_basic, or its client_id alone."""
    if client.client_secret:
        return {"auth": (client.client_id, client.client_secret)}
    return {"data": {"client_id": client.client_id}}


def post(url: str, client, form: dict) -> requests.Response:
    """A form POST authenticated as ``client``."""
    auth = credentials(client)
    return requests.post(url, data={**auth.pop("data", {}), **form}, timeout=10, **auth)


def token_endpoint(server, client, **form) -> requests.Response:
    return post(f"{server.url}/oauth/token", client, form)


def introspect(server, client, token: str) -> dict:
    response = post(f"{server.url}/oauth/introspect", client, {"token": token})
    assert response.status_code == 200, response.text
    return response.json()


class UserAgent:
    """A person's browser, played by requests: follows the server's pages, never the client's URIs."""

    def __init__(self, url: str):
        self.url = url
        self.http = requests.Session()

    def get(self, target: str) -> requests.Response:
        return self.http.get(urljoin(self.url, target), allow_redirects=False, timeout=10)

    def post(self, target: str, form: dict) -> requests.Response:
        return self.http.post(urljoin(self.url, target), data=form, allow_redirects=False, timeout=10)

    def authorize(self, request: AuthorizationRequest, user, decision="allow", client_name="Example App") -> dict:
        """Authorize through the login page and the consent page; the query the client receives."""
        started = self.get(request.url)
        assert started.status_code == 302, started.text
        login_url = urljoin(self.url, started.headers["Location"])
        resume = parse_qs(urlsplit(login_url).query)["next"][0]
        assert resume.startswith("/oauth/authorize/"), login_url
        login_page = self.get(login_url)
        assert login_page.status_code == 200 and 'name="password"' in login_page.text
        signed_in = self.post("/login", {"csrf_token": csrf_token(login_page.text), "email": user.email,
                                         "password": user.password, "next": resume})
        assert signed_in.status_code == 303 and signed_in.headers["Location"] == resume, signed_in.text
        consent_page = self.get(resume)
        assert consent_page.status_code == 200 and f"<h1>Allow {client_name}?</h1>" in consent_page.text
        action = FORM_ACTION.search(consent_page.text).group(1)
        assert action == resume
        answered = self.post(action, {"csrf_token": csrf_token(consent_page.text), "decision": decision})
        assert answered.status_code == 303, answered.text
        return request.callback(answered.headers["Location"])

    def session_id(self) -> str:
        me = self.get("/currentuser")
        assert me.status_code == 200, me.text
        return me.json()["session"]["id"]


def exchange(server, client, request: AuthorizationRequest, code: str) -> requests.Response:
    return token_endpoint(server, client, grant_type="authorization_code", code=code,
                          redirect_uri=request.redirect_uri, code_verifier=request.verifier)


def sign_in_for_tokens(server, client, user, scope=SCOPE) -> tuple[UserAgent, AuthorizationRequest, dict]:
    """The whole authorization code flow; the user agent, the request and the token response."""
    agent = UserAgent(server.url)
    request = AuthorizationRequest(client, scope=scope, issuer=server.url)
    query = agent.authorize(request, user, client_name=client.name)
    response = exchange(server, client, request, query["code"])
    assert response.status_code == 200, response.text
    return agent, request, response.json()


def verify(server, token: str, audience: str) -> tuple[dict, dict]:
    """Verify ``token`` as an independent resource server does: JWKS by URL, kid, RS256, iss, aud, exp."""
    keys = jwt.PyJWKClient(f"{server.url}/.well-known/jwks.json", cache_keys=False, cache_jwk_set=False)
    key = keys.get_signing_key_from_jwt(token)
    claims = jwt.decode(token, key.key, algorithms=["RS256"], audience=audience, issuer=server.url,
                        options={"require": ["iss", "sub", "aud", "exp", "iat"]})
    return jwt.get_unverified_header(token), claims


def at_hash(access_token: str) -> str:
    """OpenID Connect Core §3.1.3.6: the left half of the SHA-256 of the access token."""
    digest = hashlib.sha256(access_token.encode()).digest()
    return base64.urlsafe_b64encode(digest[:16]).rstrip(b"=").decode()


@pytest.mark.parametrize("public", [False, True], ids=["confidential", "public"])
def test_authorization_code_flow_with_pkce(server, register, user, public):
    """Login page, consent, code and token exchange give tokens that verify against the JWKS."""
    client = register(public=public)
    agent, request, token = sign_in_for_tokens(server, client, user)
    assert set(token) == {"access_token", "token_type", "expires_in", "scope", "refresh_token", "id_token"}
    assert token["token_type"] == "Bearer" and token["expires_in"] == 900 and token["scope"] == SCOPE
    session_id = agent.session_id()

    id_header, id_token = verify(server, token["id_token"], audience=client.client_id)
    assert set(id_token) == ID_TOKEN_CLAIMS
    assert id_token["aud"] == [client.client_id]
    assert id_token["sub"] == str(user.id) and id_token["email"] == user.email
    assert id_token["nonce"] == request.nonce
    assert id_token["at_hash"] == at_hash(token["access_token"])
    assert id_token["sid"] == session_id and id_token["amr"] == ["pwd"] and id_token["acr"] == "urn:idp:acr:pwd"
    assert id_token["exp"] - id_token["iat"] == 3600
    assert id_header["alg"] == "RS256"

    at_header, access = verify(server, token["access_token"], audience=server.url)
    assert at_header["typ"] == "at+jwt" and at_header["alg"] == "RS256"
    assert set(access) == ACCESS_TOKEN_CLAIMS
    assert access["aud"] == server.url and access["iss"] == server.url
    assert access["exp"] - access["iat"] == 900
    assert access["client_id"] == client.client_id and access["scope"] == SCOPE
    assert access["sub"] == access["userId"] == str(user.id)
    assert access["sid"] == access["sessionId"] == session_id
    assert access["roles"] == ["user"]
    assert access["keyId"] == at_header["kid"] == id_header["kid"]
    assert access["auth_time"] == id_token["auth_time"]
    login_date = datetime.fromisoformat(access["loginDate"].replace("Z", "+00:00"))
    assert access["loginDate"].endswith("Z") and int(login_date.timestamp()) == access["auth_time"]
    assert isinstance(access["jti"], str) and len(access["jti"]) >= 16


def test_userinfo_with_the_access_token(server, register, user):
    """/oauth/userinfo answers the claims of the granted scopes for a bearer access token."""
    client = register()
    _, _, token = sign_in_for_tokens(server, client, user)
    response = requests.get(f"{server.url}/oauth/userinfo", timeout=10,
                            headers={"Authorization": f"Bearer {token['access_token']}"})
    assert response.status_code == 200, response.text
    info = response.json()
    assert set(info) == {"sub", "name", "picture", "updated_at", "email", "email_verified"}
    assert info["sub"] == str(user.id) and info["email"] == user.email
    assert info["name"] == "Ada Lovelace" and info["email_verified"] is True

    anonymous = requests.get(f"{server.url}/oauth/userinfo", timeout=10)
    assert anonymous.status_code == 401


def test_refresh_token_rotation_and_reuse_detection(server, register, resource_server, user):
    """A refresh rotates the token; presenting the old one again kills the whole family."""
    client = register()
    _, _, token = sign_in_for_tokens(server, client, user)
    first_refresh = token["refresh_token"]

    rotated = token_endpoint(server, client, grant_type="refresh_token", refresh_token=first_refresh)
    assert rotated.status_code == 200, rotated.text
    renewed = rotated.json()
    # OpenID Connect Core §12.2: the grant has openid, so the refresh brings a new ID token too.
    assert set(renewed) == {"access_token", "token_type", "expires_in", "scope", "refresh_token", "id_token"}
    assert renewed["refresh_token"] != first_refresh
    assert renewed["access_token"] != token["access_token"]
    _, access = verify(server, renewed["access_token"], audience=server.url)
    assert access["sub"] == str(user.id) and access["scope"] == SCOPE
    assert introspect(server, resource_server, renewed["access_token"])["active"] is True

    replayed = token_endpoint(server, client, grant_type="refresh_token", refresh_token=first_refresh)
    assert replayed.status_code == 400 and replayed.json()["error"] == "invalid_grant"
    after_reuse = token_endpoint(server, client, grant_type="refresh_token", refresh_token=renewed["refresh_token"])
    assert after_reuse.status_code == 400 and after_reuse.json()["error"] == "invalid_grant"
    assert introspect(server, resource_server, renewed["access_token"]) == {"active": False}


def test_introspection_of_an_active_access_token(server, register, resource_server, user):
    """A resource server introspecting a live access token learns who and what it is for."""
    client = register(public=True)
    _, _, token = sign_in_for_tokens(server, client, user)
    _, access = verify(server, token["access_token"], audience=server.url)
    body = introspect(server, resource_server, token["access_token"])
    assert body == {"active": True, "token_type": "Bearer", "sub": str(user.id), "client_id": client.client_id,
                    "scope": SCOPE, "exp": access["exp"], "iat": access["iat"], "iss": server.url,
                    "aud": server.url, "username": user.email}


def test_revoked_access_token_is_inactive(server, register, resource_server, user):
    """After RFC 7009 revocation the access token introspects as inactive and userinfo refuses it."""
    client = register()
    _, _, token = sign_in_for_tokens(server, client, user)
    assert introspect(server, resource_server, token["access_token"])["active"] is True

    hinted = {"token": token["access_token"], "token_type_hint": "access_token"}
    revoked = post(f"{server.url}/oauth/revoke", client, hinted)
    assert revoked.status_code == 200, revoked.text
    assert introspect(server, resource_server, token["access_token"]) == {"active": False}
    userinfo = requests.get(f"{server.url}/oauth/userinfo", timeout=10,
                            headers={"Authorization": f"Bearer {token['access_token']}"})
    assert userinfo.status_code == 401


def test_client_credentials(server, register, resource_server):
    """A service gets an access token for itself: no refresh token, no ID token, sub is its client_id."""
    service = register(grant_types=["client_credentials"], redirect_uris=(), scope="reports:read",
                       name="Reporting Service")
    response = token_endpoint(server, service, grant_type="client_credentials", scope="reports:read")
    assert response.status_code == 200, response.text
    token = response.json()
    assert set(token) == {"access_token", "token_type", "expires_in", "scope"}
    assert token["scope"] == "reports:read"
    header, access = verify(server, token["access_token"], audience=server.url)
    assert header["typ"] == "at+jwt"
    assert access["sub"] == access["client_id"] == service.client_id
    assert set(access) == {"iss", "sub", "aud", "exp", "iat", "jti", "client_id", "scope", "keyId"}
    assert introspect(server, resource_server, token["access_token"])["sub"] == service.client_id


def test_rp_initiated_logout(server, register, resource_server, user):
    """/oauth/logout with id_token_hint ends the session and returns to the registered URI with state."""
    client = register(post_logout_redirect_uris=(POST_LOGOUT_URI,))
    agent, _, token = sign_in_for_tokens(server, client, user)
    cookie = agent.http.cookies.get("idp_session")
    assert cookie

    response = agent.get("/oauth/logout?" + urlencode({
        "id_token_hint": token["id_token"], "post_logout_redirect_uri": POST_LOGOUT_URI, "state": "bye-42"}))
    assert response.status_code == 302, response.text
    assert response.headers["Location"] == f"{POST_LOGOUT_URI}?state=bye-42"
    # The session is over on the server, not only forgotten by this browser.
    stale = requests.get(f"{server.url}/currentuser", cookies={"idp_session": cookie}, timeout=10)
    assert stale.status_code == 401
    assert introspect(server, resource_server, token["access_token"]) == {"active": False}
    refreshed = token_endpoint(server, client, grant_type="refresh_token", refresh_token=token["refresh_token"])
    assert refreshed.status_code == 400 and refreshed.json()["error"] == "invalid_grant"


# --- two gunicorn processes sharing PostgreSQL and Redis -------------------------------------------


@pytest.fixture
def two_servers(app, backend, tmp_path):
    """`flask bootstrap`, a resource server client from `flask clients create`, then two
    gunicorn processes on one database and one Redis, with one issuer."""
    ports = [free_port(), free_port()]
    urls = [f"http://127.0.0.1:{port}" for port in ports]
    settings = {key: value for key, value in backend.config.items() if value}
    env = {**os.environ, **settings, "FLASK_APP": "wsgi", "ISSUER": urls[0],
           "SUPERADMIN_PASSWORD": "the super admin passphrase for e2e"}
    subprocess.run([BIN / "flask", "bootstrap"], cwd=ROOT, env=env, check=True, capture_output=True)
    created = subprocess.run([BIN / "flask", "clients", "create", "--name", "Shared Service",
                              "--grant-type", "client_credentials", "--introspect", "--json"],
                             cwd=ROOT, env=env, capture_output=True, text=True)
    assert created.returncode == 0, created.stderr
    client = SimpleNamespace(**json.loads(created.stdout))
    processes = []
    try:
        for index, port in enumerate(ports):
            log = tmp_path / f"gunicorn-{index}.log"
            with open(log, "w") as output:
                processes.append(subprocess.Popen(
                    [BIN / "gunicorn", "--bind", f"127.0.0.1:{port}", "--workers", "2", "wsgi:app"],
                    cwd=ROOT, env=env, stdout=output, stderr=output))
            wait_until_up(urls[index], processes[-1], log)
        yield SimpleNamespace(a=urls[0], b=urls[1], client=client)
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=10)


@production_only
def test_two_servers_share_tokens_revocations_and_keys(two_servers):
    """A token issued by server A is active on B, revoked through B, and inactive on A; same JWKS."""
    a, b, client = two_servers.a, two_servers.b, two_servers.client
    assert client.grant_types == ["client_credentials"] and client.public is False
    auth = (client.client_id, client.client_secret)

    issued = requests.post(f"{a}/oauth/token", data={"grant_type": "client_credentials"}, auth=auth, timeout=10)
    assert issued.status_code == 200, issued.text
    access_token = issued.json()["access_token"]

    on_b = requests.post(f"{b}/oauth/introspect", data={"token": access_token}, auth=auth, timeout=10)
    assert on_b.status_code == 200 and on_b.json()["active"] is True
    assert on_b.json()["sub"] == client.client_id and on_b.json()["iss"] == a
    # A resource server that reads the JWKS from B accepts A's token.
    key = jwt.PyJWKClient(f"{b}/.well-known/jwks.json").get_signing_key_from_jwt(access_token)
    claims = jwt.decode(access_token, key.key, algorithms=["RS256"], audience=a, issuer=a)
    assert claims["client_id"] == client.client_id

    revoked = requests.post(f"{b}/oauth/revoke", data={"token": access_token}, auth=auth, timeout=10)
    assert revoked.status_code == 200, revoked.text
    on_a = requests.post(f"{a}/oauth/introspect", data={"token": access_token}, auth=auth, timeout=10)
    assert on_a.status_code == 200 and on_a.json() == {"active": False}

    jwks_a = requests.get(f"{a}/.well-known/jwks.json", timeout=10)
    jwks_b = requests.get(f"{b}/.well-known/jwks.json", timeout=10)
    assert jwks_a.status_code == jwks_b.status_code == 200
    assert jwks_a.json() == jwks_b.json()
    assert jwks_a.headers["ETag"] == jwks_b.headers["ETag"]
    kids = [key["kid"] for key in jwks_a.json()["keys"]]
    assert jwt.get_unverified_header(access_token)["kid"] in kids
