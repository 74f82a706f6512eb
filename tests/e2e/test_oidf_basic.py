"""The OpenID Foundation's Basic OP plan, module by module, for the modules no feature's own tests
mirror: a real server over real HTTP, a person's browser played by requests, PyJWT verifying.

Each test names its conformance-suite module in a comment (``# OIDF: <module>``) and checks what
that module checks.
"""

from datetime import timedelta

import jwt
import requests

from tests.helpers import AuthorizationRequest

from .test_oauth_flow import SCOPE
from .test_oauth_flow import UserAgent
from .test_oauth_flow import at_hash
from .test_oauth_flow import exchange
from .test_oauth_flow import introspect
from .test_oauth_flow import sign_in_for_tokens
from .test_oauth_flow import verify


def _metadata(server) -> dict:
    response = requests.get(f"{server.url}/.well-known/openid-configuration", timeout=10)
    assert response.status_code == 200
    return response.json()


# OIDF: oidcc-server
def test_oidcc_server(server, register, user):
    """The code flow: the code comes back with state and iss, the token response has an ID token
    whose iss, sub, aud, exp, iat, nonce and at_hash verify, and userinfo names the same sub."""
    client = register()
    agent, request, token = sign_in_for_tokens(server, client, user)
    assert token["token_type"] == "Bearer"
    _, claims = verify(server, token["id_token"], audience=client.client_id)
    assert claims["iss"] == _metadata(server)["issuer"] == server.url
    assert claims["nonce"] == request.nonce and claims["at_hash"] == at_hash(token["access_token"])
    assert claims["iat"] <= claims["exp"]
    info = requests.get(f"{server.url}/oauth/userinfo", timeout=10,
                        headers={"Authorization": f"Bearer {token['access_token']}"})
    assert info.status_code == 200 and info.json()["sub"] == claims["sub"] == str(user.id)


# OIDF: oidcc-idtoken-signature
def test_oidcc_idtoken_signature(server, register, user):
    """The ID token is signed with an algorithm discovery lists, by a key the JWKS publishes (kid)."""
    client = register()
    _, _, token = sign_in_for_tokens(server, client, user)
    header = jwt.get_unverified_header(token["id_token"])
    assert header["alg"] in _metadata(server)["id_token_signing_alg_values_supported"]
    published = requests.get(f"{server.url}/.well-known/jwks.json", timeout=10).json()["keys"]
    assert header["kid"] in {key["kid"] for key in published}
    verify(server, token["id_token"], audience=client.client_id)


# OIDF: oidcc-idtoken-unsigned
def test_oidcc_idtoken_unsigned(server):
    """The module runs only for a server offering unsigned ID tokens; ours never issues one, and
    discovery says so (the module is then skipped as not applicable)."""
    assert "none" not in _metadata(server)["id_token_signing_alg_values_supported"]


# OIDF: oidcc-ensure-request-with-unknown-parameter-succeeds
def test_oidcc_ensure_request_with_unknown_parameter_succeeds(server, register, user):
    """OpenID Connect Core §3.1.2.1: parameters the server does not understand are ignored."""
    client = register()
    agent = UserAgent(server.url)
    request = AuthorizationRequest(client, scope=SCOPE, issuer=server.url, extra="foobar", **{"x-custom": "1"})
    query = agent.authorize(request, user)
    assert exchange(server, client, request, query["code"]).status_code == 200


# OIDF: oidcc-login-hint
def test_oidcc_login_hint(server, register, user):
    """login_hint fills the sign-in form's email field."""
    client = register()
    agent = UserAgent(server.url)
    request = AuthorizationRequest(client, scope=SCOPE, issuer=server.url, login_hint=user.email)
    started = agent.get(request.url)
    assert started.status_code == 302
    page = agent.get(started.headers["Location"])
    assert page.status_code == 200 and f'value="{user.email}"' in page.text


def _code_and_tokens(server, client, user):
    agent = UserAgent(server.url)
    request = AuthorizationRequest(client, scope=SCOPE, issuer=server.url)
    code = agent.authorize(request, user)["code"]
    first = exchange(server, client, request, code)
    assert first.status_code == 200, first.text
    return request, code, first.json()


# OIDF: oidcc-codereuse
def test_oidcc_codereuse(server, register, user):
    """RFC 6749 §4.1.2: a code is used once; the second exchange is invalid_grant."""
    client = register()
    request, code, _ = _code_and_tokens(server, client, user)
    again = exchange(server, client, request, code)
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"


# OIDF: oidcc-codereuse-30seconds
def test_oidcc_codereuse_30seconds(server, register, resource_server, user, clock):
    """Thirty seconds later the reused code is still refused, and what its first use issued is
    revoked (RFC 6749 §4.1.2 SHOULD): the access token is inactive, the refresh token refused."""
    client = register()
    request, code, tokens = _code_and_tokens(server, client, user)
    clock.shift(timedelta(seconds=30))
    again = exchange(server, client, request, code)
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"
    assert introspect(server, resource_server, tokens["access_token"]) == {"active": False}
    refreshed = requests.post(f"{server.url}/oauth/token", auth=(client.client_id, client.client_secret), timeout=10,
                              data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]})
    assert refreshed.status_code == 400 and refreshed.json()["error"] == "invalid_grant"


# OIDF: oidcc-ensure-registered-redirect-uri
def test_oidcc_ensure_registered_redirect_uri(server, register, user):
    """An unregistered redirect_uri is never redirected to: the server shows an error page."""
    client = register()
    agent = UserAgent(server.url)
    request = AuthorizationRequest(client, scope=SCOPE, issuer=server.url,
                                   redirect_uri="https://attacker.example.com/callback")
    page = agent.get(request.url)
    assert page.status_code == 400 and "Location" not in page.headers
    assert "redirect_uri" in page.text


# OIDF: oidcc-ensure-redirect-uri-in-authorization-request
def test_oidcc_ensure_redirect_uri_in_authorization_request(server, register, user):
    """OpenID Connect Core §3.1.2.1: redirect_uri is required in an OpenID request, even when the
    client registered a single URI: an error page saying so, no redirect."""
    client = register()
    agent = UserAgent(server.url)
    request = AuthorizationRequest(client, scope=SCOPE, issuer=server.url)
    del request.params["redirect_uri"]
    page = agent.get(request.url)
    assert page.status_code == 400 and "Location" not in page.headers
    assert "redirect_uri" in page.text


# OIDF: oidcc-ensure-request-with-valid-pkce-succeeds
def test_oidcc_ensure_request_with_valid_pkce_succeeds(server, register, user):
    """RFC 7636: an S256 challenge and its verifier give tokens; a wrong verifier does not."""
    client = register()
    agent = UserAgent(server.url)
    request = AuthorizationRequest(client, scope=SCOPE, issuer=server.url)
    code = agent.authorize(request, user)["code"]
    wrong = requests.post(f"{server.url}/oauth/token", auth=(client.client_id, client.client_secret), timeout=10,
                          data={"grant_type": "authorization_code", "code": code, "redirect_uri": request.redirect_uri,
                                "code_verifier": "x" * 43})
    assert wrong.status_code == 400 and wrong.json()["error"] == "invalid_grant"
    request2 = AuthorizationRequest(client, scope=SCOPE, issuer=server.url)
    # Signed in and consented: the second request answers at once.
    answered = agent.get(request2.url)
    code2 = request2.callback(answered.headers["Location"])["code"]
    assert exchange(server, client, request2, code2).status_code == 200
