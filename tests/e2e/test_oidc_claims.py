"""OpenID Connect claims, acr and userinfo end to end: a real server over real HTTP, `requests` as the
person's browser (the real login, second-factor and consent pages, CSRF included), Authlib's client
and PyJWT as the relying party. Each OpenID Foundation conformance module this mirrors is named in
a comment above its test."""

import json
from types import SimpleNamespace
from urllib.parse import parse_qs
from urllib.parse import urlsplit

import jwt
import pytest
import requests
from authlib.integrations.requests_client import OAuth2Session
from authlib.oidc.core import CodeIDToken
from joserfc import jwt as jose_jwt
from joserfc.jwk import KeySet

from app.extensions import db
from app.services import profile
from oauth import clients
from oauth.models import Application
from oauth.models import RefreshToken
from tests.helpers import AuthorizationRequest
from tests.helpers import csrf_token

from .test_oauth_flow import FORM_ACTION
from .test_oauth_flow import REDIRECT_URI
from .test_oauth_flow import UserAgent
from .test_oauth_flow import at_hash
from .test_oauth_flow import exchange
from .test_oauth_flow import token_endpoint
from .test_oauth_flow import verify

PWD = "urn:idp:acr:pwd"
MFA = "urn:idp:acr:mfa"
PHR = "urn:idp:acr:phr"


@pytest.fixture
def rp(server):
    """Register a relying party; ``columns`` are set on the application as stored (registration
    fields another part of the code builds the CLI and API for)."""

    def factory(public=False, skip_consent=False, **columns):
        with server.app.app_context():
            application, secret = clients.register("Relying Party", [REDIRECT_URI], public=public,
                                                   skip_consent=skip_consent)
            for name, value in columns.items():
                setattr(application, name, value)
            db.session.commit()
            clients.invalidate()
            return SimpleNamespace(client_id=application.client_id, client_secret=secret,
                                   redirect_uris=[REDIRECT_URI], public=public, name="Relying Party")

    return factory


class Person(UserAgent):
    """A browser that signs in first, then follows authorization requests through the pages."""

    def sign_in(self, user) -> None:
        page = self.get("/login")
        done = self.post("/login", {"csrf_token": csrf_token(page.text), "email": user.email,
                                    "password": user.password, "next": ""})
        assert done.status_code == 303, done.text

    def consent(self, page: requests.Response, decision="allow") -> requests.Response:
        assert page.status_code == 200 and "<h1>Allow Relying Party?</h1>" in page.text, page.text
        action = FORM_ACTION.search(page.text).group(1)
        return self.post(action, {"csrf_token": csrf_token(page.text), "decision": decision})

    def through(self, request: AuthorizationRequest) -> dict:
        """The authorization request, allowing on the consent page; the query the client receives."""
        answer = self.get(request.url)
        if answer.status_code == 200:
            answer = self.consent(answer)
        assert answer.status_code in (302, 303), answer.text
        return request.callback(answer.headers["Location"])


@pytest.fixture
def person(server):
    return Person(server.url)


def ask(server, client, **params) -> AuthorizationRequest:
    return AuthorizationRequest(client, issuer=server.url, **params)


def tokens_for(server, client, person, **params) -> tuple[AuthorizationRequest, dict]:
    request = ask(server, client, **params)
    query = person.through(request)
    response = exchange(server, client, request, query["code"])
    assert response.status_code == 200, response.text
    return request, response.json()


def userinfo(server, access_token: str, method="GET", in_body=False) -> requests.Response:
    url = f"{server.url}/oauth/userinfo"
    if in_body:
        return requests.post(url, data={"access_token": access_token}, timeout=10)
    return requests.request(method, url, headers={"Authorization": f"Bearer {access_token}"}, timeout=10)


def set_profile(server, user, **changes):
    with server.app.app_context():
        profile.update_profile(user.id, changes)


ADDRESS = {"street_address": "12 Analytical Row", "locality": "London", "postal_code": "N1 9GU", "country": "GB"}


# --- scopes (OpenID Connect Core §5.4) ---------------------------------------------------------------

SCOPE_CASES = {
    "profile": {"sub", "name", "given_name", "family_name", "picture", "birthdate", "updated_at"},
    "email": {"sub", "email", "email_verified"},
    "address": {"sub", "address"},
    "phone": {"sub", "phone_number", "phone_number_verified"},
    "profile email address phone": {"sub", "name", "given_name", "family_name", "picture", "birthdate",
                                    "updated_at", "email", "email_verified", "address", "phone_number",
                                    "phone_number_verified"},
}


# OIDF: oidcc-scope-profile
# OIDF: oidcc-scope-email
# OIDF: oidcc-scope-address
# OIDF: oidcc-scope-phone
# OIDF: oidcc-scope-all
@pytest.mark.parametrize("scope", list(SCOPE_CASES), ids=["profile", "email", "address", "phone", "all"])
def test_scopes_release_their_claims_at_userinfo(server, rp, person, user, scope):
    set_profile(server, user, given_name="Ada", family_name="Lovelace", birthdate="1915-12-10",
                phone="+44 20 7946 0000", address=ADDRESS)
    client = rp()
    person.sign_in(user)
    _, token = tokens_for(server, client, person, scope=f"openid {scope}")
    response = userinfo(server, token["access_token"])
    assert response.status_code == 200 and response.headers["Content-Type"] == "application/json"
    info = response.json()
    assert set(info) == SCOPE_CASES[scope]
    assert info["sub"] == str(user.id)
    if "address" in info:  # Core §5.1.1: a JSON object, not a string
        assert info["address"] == ADDRESS
    if "phone_number" in info:
        assert info["phone_number"] == "+44 20 7946 0000" and info["phone_number_verified"] is False
    if "email" in info:
        assert info["email"] == user.email and info["email_verified"] is True


# OIDF: oidcc-ensure-other-scope-order-succeeds
def test_other_scope_order_succeeds(server, rp, person, user):
    client = rp()
    person.sign_in(user)
    request, token = tokens_for(server, client, person, scope="email openid")
    _, claims = verify(server, token["id_token"], audience=client.client_id)
    assert claims["sub"] == str(user.id) and claims["email"] == user.email and claims["nonce"] == request.nonce
    assert set(token["scope"].split()) == {"openid", "email"}


# OIDF: oidcc-ensure-request-without-nonce-succeeds-for-code-flow
def test_request_without_nonce_succeeds_for_code_flow(server, rp, person, user):
    client = rp()
    person.sign_in(user)
    _, token = tokens_for(server, client, person, nonce=None)
    _, claims = verify(server, token["id_token"], audience=client.client_id)
    assert "nonce" not in claims and claims["sub"] == str(user.id)


# OIDF: oidcc-display-page
# OIDF: oidcc-display-popup
@pytest.mark.parametrize("display", ["page", "popup", "touch", "wap"])
def test_display_is_accepted(server, rp, person, user, display):
    """The login page is shown (as a page, whatever the display), and the flow completes."""
    client = rp()
    request = ask(server, client, display=display)
    started = person.get(request.url)
    assert started.status_code == 302 and "/login?" in started.headers["Location"]
    login_page = person.get(started.headers["Location"])
    assert login_page.status_code == 200 and 'name="password"' in login_page.text
    person.sign_in(user)
    query = person.through(request)
    assert exchange(server, client, request, query["code"]).status_code == 200


# OIDF: oidcc-ui-locales
# OIDF: oidcc-claims-locales
@pytest.mark.parametrize("parameter", ["ui_locales", "claims_locales"])
def test_locales_are_accepted(server, rp, person, user, parameter):
    """A language the pages do not have (Swedish) is no error: the pages and claims stay in English."""
    client = rp()
    person.sign_in(user)
    _, token = tokens_for(server, client, person, scope="openid profile", **{parameter: "se"})
    assert userinfo(server, token["access_token"]).json()["name"] == "Ada Lovelace"


# --- userinfo (OpenID Connect Core §5.3, RFC 6750 §2) -------------------------------------------------

# OIDF: oidcc-userinfo-get
# OIDF: oidcc-userinfo-post-header
# OIDF: oidcc-userinfo-post-body
@pytest.mark.parametrize("method, in_body", [("GET", False), ("POST", False), ("POST", True)],
                         ids=["get", "post-header", "post-body"])
def test_userinfo_methods(server, rp, person, user, method, in_body):
    client = rp()
    person.sign_in(user)
    _, token = tokens_for(server, client, person)
    response = userinfo(server, token["access_token"], method=method, in_body=in_body)
    assert response.status_code == 200, response.text
    assert response.json()["sub"] == str(user.id) and response.json()["email"] == user.email
    assert response.headers["Cache-Control"] == "no-store"


def test_userinfo_token_in_the_query_is_refused(server, rp, person, user):
    """RFC 9700 §2.1: never in the URL, even though RFC 6750 §2.3 allows it."""
    client = rp()
    person.sign_in(user)
    _, token = tokens_for(server, client, person)
    response = requests.get(f"{server.url}/oauth/userinfo", params={"access_token": token["access_token"]},
                            timeout=10)
    assert response.status_code == 400 and response.json()["error"] == "invalid_request"


# OIDF: oidcc-userinfo-rs256
def test_signed_userinfo(server, rp, person, user):
    """OpenID Connect Core §5.3.2: a signed JWT with iss and aud, verified against the JWKS."""
    client = rp(userinfo_signed_response_alg="RS256")
    person.sign_in(user)
    _, token = tokens_for(server, client, person)
    response = userinfo(server, token["access_token"])
    assert response.status_code == 200 and response.headers["Content-Type"] == "application/jwt"
    keys = jwt.PyJWKClient(f"{server.url}/.well-known/jwks.json", cache_keys=False, cache_jwk_set=False)
    claims = jwt.decode(response.text, keys.get_signing_key_from_jwt(response.text).key, algorithms=["RS256"],
                        audience=client.client_id, issuer=server.url, options={"require": ["iss", "aud", "sub"]})
    header = jwt.get_unverified_header(response.text)
    assert header["alg"] == "RS256" and header["kid"]
    assert claims["iss"] == server.url and claims["aud"] == client.client_id
    assert claims["sub"] == str(user.id) and claims["email"] == user.email
    # Another client, registered without it, gets plain JSON for the same user.
    plain = rp()
    _, other = tokens_for(server, plain, person)
    assert userinfo(server, other["access_token"]).json()["sub"] == str(user.id)


def test_discovery_lists_claims_acr_and_userinfo_signing(server):
    document = requests.get(f"{server.url}/.well-known/openid-configuration", timeout=10).json()
    assert document["claims_parameter_supported"] is True
    assert document["acr_values_supported"] == [PWD, MFA]  # not the phishing-resistant level: unreachable
    assert "acr" in document["claims_supported"] and "amr" in document["claims_supported"]
    assert document["userinfo_signing_alg_values_supported"] == ["RS256"]
    assert document["ui_locales_supported"] == ["en"]
    assert "display_values_supported" not in document


# --- the claims parameter (OpenID Connect Core §5.5) ---------------------------------------------------

# OIDF: oidcc-claims-essential
def test_claims_essential_name_at_userinfo(server, rp, person, user):
    """name asked for as essential at userinfo, with scope openid alone: the consent page names it,
    and once allowed, userinfo returns it."""
    client = rp()
    person.sign_in(user)
    request = ask(server, client, scope="openid", claims=json.dumps({"userinfo": {"name": {"essential": True}}}))
    page = person.get(request.url)
    assert 'data-claim="name"' in page.text and "Your name" in page.text
    query = request.callback(person.consent(page).headers["Location"])
    token = exchange(server, client, request, query["code"]).json()
    info = userinfo(server, token["access_token"]).json()
    assert info == {"sub": str(user.id), "name": "Ada Lovelace"}
    _, id_token = verify(server, token["id_token"], audience=client.client_id)
    assert "name" not in id_token  # asked for at userinfo only
    _, access = verify(server, token["access_token"], audience=server.url)
    assert access["userinfo_claims"] == ["name"]
    # The token alone carries the request (nothing is stored per access token); a token issued
    # without one has no such claim, and userinfo answers its scope's claims only.
    _, plain = tokens_for(server, client, person, scope="openid")
    assert "userinfo_claims" not in verify(server, plain["access_token"], audience=server.url)[1]
    assert userinfo(server, plain["access_token"]).json() == {"sub": str(user.id)}


def test_claims_requested_for_the_id_token(server, rp, person, user):
    client = rp()
    person.sign_in(user)
    _, token = tokens_for(server, client, person, scope="openid",
                          claims=json.dumps({"id_token": {"email": None, "auth_time": {"essential": True},
                                                          "nickname": {"essential": True}}}))
    _, id_token = verify(server, token["id_token"], audience=client.client_id)
    assert id_token["email"] == user.email and "auth_time" in id_token
    assert "nickname" not in id_token  # §5.5.1: unavailable, even essential, is simply absent
    assert set(userinfo(server, token["access_token"]).json()) == {"sub"}


def test_claims_beyond_scope_are_never_released_without_consent(server, rp, person, user):
    """Allowed once, a claim asked for by name is asked for again the next time (never remembered);
    denied, nothing is issued; with prompt=none, consent_required."""
    client = rp()
    person.sign_in(user)
    tokens_for(server, client, person, scope="openid")  # the scope itself is granted now
    claims = json.dumps({"userinfo": {"email": None}})
    again = ask(server, client, scope="openid", claims=claims)
    page = person.get(again.url)
    assert 'data-claim="email"' in page.text
    denied = again.callback(person.consent(page, decision="deny").headers["Location"])
    assert denied["error"] == "access_denied"
    silent = ask(server, client, scope="openid", claims=claims, prompt="none")
    assert silent.callback(person.get(silent.url).headers["Location"])["error"] == "consent_required"


def test_first_party_application_gets_claims_without_a_page(server, rp, person, user):
    client = rp(skip_consent=True)
    person.sign_in(user)
    request = ask(server, client, scope="openid", claims=json.dumps({"userinfo": {"email": None}}))
    answer = person.get(request.url)
    assert answer.status_code == 302
    token = exchange(server, client, request, request.callback(answer.headers["Location"])["code"]).json()
    assert userinfo(server, token["access_token"]).json()["email"] == user.email


@pytest.mark.parametrize("claims", [
    "not json", "[]", '"a string"', '{"userinfo": []}', '{"id_token": "acr"}', '{"userinfo": {"name": 1}}',
    '{"id_token": {"acr": {"essential": "yes"}}}', '{"id_token": {"acr": {"values": "urn:idp:acr:mfa"}}}',
    '{"userinfo": {"na\\u0000me\\"<>": 1}}',
], ids=["not-json", "array", "string", "userinfo-array", "id-token-string", "member-number",
        "essential-string", "values-string", "odd-name"])
def test_malformed_claims_parameter_is_invalid_request_at_the_client(server, rp, person, user, claims):  # noqa
    client = rp()
    person.sign_in(user)
    request = ask(server, client, claims=claims)
    answer = person.get(request.url)
    assert answer.status_code == 302, answer.text
    query = request.callback(answer.headers["Location"])
    assert query["error"] == "invalid_request" and "code" not in query


def test_unknown_members_of_the_claims_parameter_are_ignored(server, rp, person, user):
    client = rp()
    person.sign_in(user)
    _, token = tokens_for(server, client, person, claims=json.dumps({"userinfo": None, "other": [1, 2]}))
    assert "id_token" in token


@pytest.mark.parametrize("prompt", [None, "none"])
def test_sub_value_of_another_user_is_refused(server, rp, person, user, prompt):
    """§5.5.1: with a sub value, no answer for another user, even one with a session."""
    client = rp()
    person.sign_in(user)
    other = ask(server, client, prompt=prompt,
                claims=json.dumps({"id_token": {"sub": {"value": "00000000-0000-0000-0000-000000000000"}}}))
    assert other.callback(person.get(other.url).headers["Location"])["error"] == "login_required"
    _, token = tokens_for(server, client, person, claims=json.dumps({"id_token": {"sub": {"value": str(user.id)}}}))
    assert verify(server, token["id_token"], audience=client.client_id)[1]["sub"] == str(user.id)


# --- acr_values and acr (OpenID Connect Core §3.1.2.1, §5.5.1.1) --------------------------------------

# OIDF: oidcc-ensure-request-with-acr-values-succeeds
def test_request_with_acr_values_succeeds(server, rp, person, user):
    """Values this server does not know ("1 2", as the suite sends) are only preferences: issued."""
    client = rp()
    person.sign_in(user)
    _, token = tokens_for(server, client, person, acr_values="1 2")
    _, claims = verify(server, token["id_token"], audience=client.client_id)
    assert claims["acr"] == PWD and claims["amr"] == ["pwd"]


def step_up(person, mailbox, user, answer: requests.Response) -> requests.Response:
    """The second-factor page for the signed-in user, with the code mailed to them; the redirect back."""
    assert answer.status_code == 302 and answer.headers["Location"].endswith("/login/2fa"), answer.text
    page = person.get("/login/2fa")
    assert page.status_code == 200 and 'name="code"' in page.text
    code = mailbox.last_code(user.email)
    done = person.post("/login/2fa", {"csrf_token": csrf_token(page.text), "code": code})
    assert done.status_code == 303, done.text
    assert urlsplit(done.headers["Location"]).path.startswith("/oauth/authorize/")
    return person.get(done.headers["Location"])


def test_acr_values_step_a_password_session_up_with_a_mailed_code(server, rp, person, user, mailbox):  # noqa
    """A session signed in by password, a request preferring the second-factor level: the code is
    mailed (real SMTP), entered on the page, and the same session goes on at the higher level."""
    client = rp()
    person.sign_in(user)
    _, first = tokens_for(server, client, person)
    _, before = verify(server, first["id_token"], audience=client.client_id)
    assert before["acr"] == PWD
    mailbox.clear()

    request = ask(server, client, acr_values=f"{MFA} {PWD}")
    answer = step_up(person, mailbox, user, person.get(request.url))
    query = request.callback(answer.headers["Location"])
    token = exchange(server, client, request, query["code"]).json()
    _, after = verify(server, token["id_token"], audience=client.client_id)
    assert after["acr"] == MFA and after["amr"] == ["pwd", "otp", "mfa"]
    assert after["sid"] == before["sid"] and after["auth_time"] >= before["auth_time"]
    assert person.session_id() == before["sid"]

    # The session is at the higher level now: the next request asks for nothing more.
    again = ask(server, client, acr_values=MFA)
    assert "code" in again.callback(person.get(again.url).headers["Location"])


def test_essential_acr_steps_up_and_then_is_met(server, rp, person, user, mailbox):
    client = rp()
    person.sign_in(user)
    mailbox.clear()
    request = ask(server, client, claims=json.dumps({"id_token": {"acr": {"essential": True, "values": [MFA]}}}))
    answer = step_up(person, mailbox, user, person.get(request.url))
    if answer.status_code == 200:
        answer = person.consent(answer)
    token = exchange(server, client, request, request.callback(answer.headers["Location"])["code"]).json()
    assert verify(server, token["id_token"], audience=client.client_id)[1]["acr"] == MFA


def test_voluntary_level_under_prompt_none_is_issued_at_the_level_reached(server, rp, person, user):  # noqa
    client = rp()
    person.sign_in(user)
    tokens_for(server, client, person)  # consent given
    request = ask(server, client, acr_values=MFA, prompt="none")
    query = request.callback(person.get(request.url).headers["Location"])
    token = exchange(server, client, request, query["code"]).json()
    assert verify(server, token["id_token"], audience=client.client_id)[1]["acr"] == PWD


def test_essential_level_under_prompt_none_is_login_required(server, rp, person, user):
    client = rp()
    person.sign_in(user)
    tokens_for(server, client, person)
    request = ask(server, client, prompt="none",
                  claims=json.dumps({"id_token": {"acr": {"essential": True, "value": MFA}}}))
    query = request.callback(person.get(request.url).headers["Location"])
    assert query["error"] == "login_required" and "code" not in query


def test_essential_level_that_cannot_be_reached_is_unmet(server, rp, person, user):
    """The phishing-resistant level is declared but no sign-in reaches it yet: an essential request
    for it fails (OpenID Connect Core §5.5.1.1), a voluntary one is issued at the level reached."""
    client = rp()
    person.sign_in(user)
    request = ask(server, client, claims=json.dumps({"id_token": {"acr": {"essential": True, "values": [PHR]}}}))
    query = request.callback(person.get(request.url).headers["Location"])
    assert query["error"] == "unmet_authentication_requirements" and "code" not in query
    _, token = tokens_for(server, client, person, acr_values=PHR)
    assert verify(server, token["id_token"], audience=client.client_id)[1]["acr"] == PWD


def test_essential_password_level_is_reported_as_asked(server, rp, person, user):
    client = rp()
    person.sign_in(user)
    _, token = tokens_for(server, client, person,
                          claims=json.dumps({"id_token": {"acr": {"essential": True, "values": [PWD, MFA]}}}))
    assert verify(server, token["id_token"], audience=client.client_id)[1]["acr"] == PWD


def test_a_user_without_a_second_factor_is_issued_at_the_password_level(server, rp, person, make_user):  # noqa
    """No verified address to send a code to: the voluntary level is not reached, the request is
    answered at the password level; an essential one is unmet."""
    with server.app.app_context():
        server.app.config["EMAIL_VERIFICATION_REQUIRED"] = False
    unverified = make_user(verified=False)
    client = rp()
    person.sign_in(unverified)
    _, token = tokens_for(server, client, person, acr_values=MFA)
    assert verify(server, token["id_token"], audience=client.client_id)[1]["acr"] == PWD
    request = ask(server, client, claims=json.dumps({"id_token": {"acr": {"essential": True, "values": [MFA]}}}))
    assert request.callback(person.get(request.url).headers["Location"])["error"] == \
        "unmet_authentication_requirements"


# --- ID tokens on refresh (OpenID Connect Core §12.2) -------------------------------------------------

# OIDF: oidcc-refresh-token
def test_refresh_token_reissues_the_id_token(server, rp, person, user):
    client = rp()
    person.sign_in(user)
    request, first = tokens_for(server, client, person, acr_values=PWD,
                                claims=json.dumps({"id_token": {"email": None}}), scope="openid offline_access")
    _, original = verify(server, first["id_token"], audience=client.client_id)
    renewed = token_endpoint(server, client, grant_type="refresh_token", refresh_token=first["refresh_token"])
    assert renewed.status_code == 200, renewed.text
    renewed = renewed.json()
    _, again = verify(server, renewed["id_token"], audience=client.client_id)
    for name in ("iss", "sub", "aud", "auth_time", "sid", "acr", "amr", "email"):
        assert again[name] == original[name], name
    assert "nonce" in original and "nonce" not in again
    assert again["iat"] >= original["iat"] and again["exp"] - again["iat"] == 3600
    assert again["at_hash"] == at_hash(renewed["access_token"]) != original["at_hash"]
    # Through every rotation: acr and the claims request stay with the family.
    third = token_endpoint(server, client, grant_type="refresh_token", refresh_token=renewed["refresh_token"]).json()
    assert verify(server, third["id_token"], audience=client.client_id)[1]["email"] == user.email
    with server.app.app_context():
        rows = db.session.query(RefreshToken).filter(RefreshToken.application_id == Application.id,
                                                     Application.client_id == client.client_id).all()
        assert len(rows) == 3 and {row.acr for row in rows} == {PWD}
        assert all(row.claims == {"id_token": {"email": None}} for row in rows)


def test_refresh_without_openid_has_no_id_token(server, rp, person, user):
    client = rp()
    person.sign_in(user)
    _, first = tokens_for(server, client, person, scope="openid profile offline_access")
    narrowed = token_endpoint(server, client, grant_type="refresh_token", refresh_token=first["refresh_token"],
                              scope="profile").json()
    assert "id_token" not in narrowed and narrowed["scope"] == "profile"


def test_authlib_client_refreshes_and_validates_the_reissued_id_token(server, rp, person, user):
    """A certified-library relying party (Authlib's OAuth2Session): code with PKCE, then a refresh;
    both ID tokens validate against the JWKS with Authlib's own ID token rules."""
    client = rp()
    person.sign_in(user)
    document = requests.get(f"{server.url}/.well-known/openid-configuration", timeout=10).json()
    session = OAuth2Session(client.client_id, client.client_secret, scope="openid profile email",
                            redirect_uri=REDIRECT_URI, code_challenge_method="S256")
    verifier = "v" * 64
    url, state = session.create_authorization_url(document["authorization_endpoint"], nonce="n-0S6_WzA2Mj",
                                                  code_verifier=verifier)
    answer = person.get(url)
    if answer.status_code == 200:
        answer = person.consent(answer)
    location = answer.headers["Location"]
    assert parse_qs(urlsplit(location).query)["state"] == [state]
    token = session.fetch_token(document["token_endpoint"], authorization_response=location,
                                code_verifier=verifier)
    keys = KeySet.import_key_set(requests.get(document["jwks_uri"], timeout=10).json())

    def validated(id_token: str, access_token: str, nonce: str | None) -> CodeIDToken:
        decoded = jose_jwt.decode(id_token, keys)
        claims = CodeIDToken(decoded.claims, decoded.header,
                             options={"iss": {"essential": True, "value": document["issuer"]},
                                      "aud": {"essential": True, "value": client.client_id}},
                             params={"nonce": nonce, "access_token": access_token, "client_id": client.client_id})
        claims.validate()
        return claims

    first = validated(token["id_token"], token["access_token"], "n-0S6_WzA2Mj")
    refreshed = session.refresh_token(document["token_endpoint"])
    assert refreshed["refresh_token"] != token["refresh_token"]
    second = validated(refreshed["id_token"], refreshed["access_token"], None)
    assert second["sub"] == first["sub"] == str(user.id) and second["auth_time"] == first["auth_time"]
    assert "nonce" not in second and second["sid"] == first["sid"]
    assert jwt.get_unverified_header(refreshed["id_token"])["kid"] in {key.kid for key in keys}


def test_a_step_up_code_after_signing_out_opens_no_session(server, rp, person, user, mailbox):
    """The code is a second factor for the session that asked for it, not a sign-in of its own."""
    client = rp()
    person.sign_in(user)
    mailbox.clear()
    request = ask(server, client, acr_values=MFA)
    assert person.get(request.url).headers["Location"].endswith("/login/2fa")
    page = person.get("/login/2fa")
    code = mailbox.last_code(user.email)
    signed_out = person.get("/logout")
    assert person.post("/logout", {"csrf_token": csrf_token(signed_out.text)}).status_code in (302, 303)
    answer = person.post("/login/2fa", {"csrf_token": csrf_token(page.text), "code": code})
    assert answer.status_code in (302, 303) and answer.headers["Location"].endswith("/login")
    assert person.get("/currentuser").status_code == 401
