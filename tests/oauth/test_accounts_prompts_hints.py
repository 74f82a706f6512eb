"""The authorization endpoint's browser side: POST requests, several accounts in one browser,
prompt=select_account and the other prompts, max_age, and id_token_hint."""

import base64
import hashlib
import hmac
import json
import re
import warnings
from urllib.parse import parse_qs
from urllib.parse import urlsplit

import pytest
from joserfc import jwt as jose_jwt
from joserfc.jwk import RSAKey

from keys import ring

from ..helpers import AuthActions
from ..helpers import AuthorizationRequest
from ..helpers import claims_of
from ..helpers import csrf_token
from ..helpers import exchange

CHOOSER_ACTION = re.compile(r'<form method="post" action="(/oauth/authorize/[^"]+/account)"')
ACCOUNT_BUTTON = re.compile(r'<button type="submit" name="account" value="([^"]+)">([^<]+)</button>')
ANOTHER = re.compile(r'<a href="([^"]+)">Use another account</a>')


def sign_in(client, user, next_path=None):
    response = AuthActions(client).login(user.email, user.password, next_path=next_path)
    assert response.status_code == 303, response.text
    return response


def sign_in_as_another(client, user):
    """"Use another account": the login form with prompt=login while signed in."""
    page = client.get("/login?prompt=login")
    assert 'name="password"' in page.text
    response = client.post("/login", data={"csrf_token": csrf_token(page.text), "email": user.email,
                                           "password": user.password, "next": ""})
    assert response.status_code == 303, response.text


def whoami(client) -> str | None:
    me = client.get("/currentuser")
    return me.get_json()["email"] if me.status_code == 200 else None


def id_token_for(client, application, **extra) -> tuple[str, dict]:
    """A code flow for a consent-skipping application; the ID token and its claims."""
    request = AuthorizationRequest(application, **extra)
    response = client.get(request.url)
    assert response.status_code == 302, response.text
    tokens = exchange(client, application, request, request.callback(response.headers["Location"])["code"])
    assert tokens.status_code == 200, tokens.get_json()
    id_token = tokens.get_json()["id_token"]
    return id_token, claims_of(id_token)[1]


def code_user(client, application, request, response) -> str:
    """The ``sub`` of the ID token the code in ``response`` (a redirect to the client) yields."""
    tokens = exchange(client, application, request, request.callback(response.headers["Location"])["code"])
    return claims_of(tokens.get_json()["id_token"])[1]["sub"]


def b64(data) -> str:
    raw = data if isinstance(data, bytes) else json.dumps(data).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


# --- POST to the authorization endpoint --------------------------------------------------------------

# OIDF: oidcc-ensure-post-request-succeeds
def test_post_request_succeeds(app, signed_in, user, make_client):
    """OIDC Core §3.1.2.1: the form-encoded POST a relying party's page sends cross-site (so without
    our cookies: another client here) is parked and claimed by GET with the browser's cookies."""
    application = make_client(skip_consent=True)
    request = AuthorizationRequest(application)
    relying_party_page = app.test_client()  # a cross-site POST carries no SameSite=Lax cookie
    posted = relying_party_page.post("/oauth/authorize", data=request.params)
    assert posted.status_code == 303
    claim = posted.headers["Location"]
    assert re.fullmatch(r"/oauth/authorize/posted/[A-Za-z0-9_-]{32}", claim)
    assert len(claim) < 100  # the parameters stay server-side, whatever their length
    answered = signed_in.get(claim)
    assert answered.status_code == 302
    assert code_user(signed_in, application, request, answered) == str(user.id)
    assert signed_in.get(claim).status_code == 400  # a parked request is claimed once


def test_post_request_without_session_goes_through_login(client, user, make_client):
    application = make_client(skip_consent=True)
    request = AuthorizationRequest(application, login_hint=user.email)
    claimed = client.get(client.post("/oauth/authorize", data=request.params).headers["Location"])
    login = urlsplit(claimed.headers["Location"])
    assert login.path == "/login" and parse_qs(login.query)["login_hint"] == [user.email]
    resume = parse_qs(login.query)["next"][0]
    sign_in(client, user, next_path=resume)
    assert "code" in request.callback(client.get(resume).headers["Location"])


def test_post_and_get_give_the_same_errors(signed_in, make_client):
    """Repeated parameters (also across query and body) and invalid values: the errors of a GET."""
    application = make_client(skip_consent=True)
    request = AuthorizationRequest(application)
    state_twice = signed_in.post("/oauth/authorize", data={**request.params, "state": [request.state, "again"]})
    answered = signed_in.get(state_twice.headers["Location"])
    assert request.callback(answered.headers["Location"])["error"] == "invalid_request"
    across = signed_in.post("/oauth/authorize?scope=openid", data=request.params)
    answered = signed_in.get(across.headers["Location"])
    assert request.callback(answered.headers["Location"])["error"] == "invalid_request"
    plain = signed_in.post("/oauth/authorize", data={**request.params, "code_challenge_method": "plain"})
    assert request.callback(signed_in.get(plain.headers["Location"]).headers["Location"])["error"] == \
        "invalid_request"
    for bad in ({**request.params, "client_id": [application.client_id, "other"]},
                {**request.params, "redirect_uri": "https://evil.example/callback"},
                {**request.params, "client_id": "no-such-client"}, {}):
        page = signed_in.post("/oauth/authorize", data=bad)
        assert page.status_code == 400 and "Location" not in page.headers, bad


@pytest.mark.parametrize("body, content_type", [
    (b'{"client_id": "x"}', "application/json"),
    (b"\xff\xfe garbage \x80", "application/x-www-form-urlencoded"),
    (b"client_id=%ZZ&&&=&redirect_uri", "application/x-www-form-urlencoded"),
    (b"--b\r\nContent-Disposition: form-data; name=\"client_id\"\r\n\r\nx\r\n--b--\r\n",
     "multipart/form-data; boundary=b"),
    (b"a=" + b"x" * 100_000, "application/x-www-form-urlencoded"),
    (b"", "text/plain"),
], ids=["json", "not-utf8", "broken-encoding", "multipart", "huge", "empty"])
def test_hostile_post_bodies_never_fail(signed_in, body, content_type):
    response = signed_in.post("/oauth/authorize", data=body, content_type=content_type)
    assert response.status_code in (400, 413) and "Location" not in response.headers


def test_parked_handles_and_browser_handles_do_not_mix(app, client, user, make_client):
    """A parked handle does not resume a request bound to a browser, nor the other way round."""
    application = make_client(skip_consent=True)
    request = AuthorizationRequest(application)
    parked = client.post("/oauth/authorize", data=request.params).headers["Location"].rsplit("/", 1)[1]
    assert client.get(f"/oauth/authorize/{parked}").status_code == 400
    bound = parse_qs(urlsplit(client.get(request.url).headers["Location"]).query)["next"][0].rsplit("/", 1)[1]
    assert client.get(f"/oauth/authorize/posted/{bound}").status_code == 400
    assert client.get("/oauth/authorize/posted/" + "x" * 500).status_code == 400


# --- prompt ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("prompt", ["none login", "consent none", "select_account none", "none none login",
                                    "create", "login unknown", "LOGIN", "login\tconsent"])
def test_invalid_prompt_values_go_back_as_invalid_request(signed_in, make_client, prompt):
    """OIDC Core §3.1.2.1: none with any other value is an error; values we do not support too."""
    request = AuthorizationRequest(make_client(skip_consent=True), prompt=prompt)
    response = signed_in.get(request.url)
    assert response.status_code == 302
    assert request.callback(response.headers["Location"])["error"] == "invalid_request"


def test_discovery_lists_the_supported_prompts(client):
    assert client.get("/.well-known/openid-configuration").get_json()["prompt_values_supported"] == [
        "none", "login", "consent", "select_account"]


# OIDF: oidcc-prompt-none-not-logged-in
def test_prompt_none_not_logged_in(client, make_client):
    request = AuthorizationRequest(make_client(skip_consent=True), prompt="none")
    response = client.get(request.url)
    assert response.status_code == 302
    assert request.callback(response.headers["Location"])["error"] == "login_required"


# OIDF: oidcc-prompt-none-logged-in
def test_prompt_none_logged_in(signed_in, user, make_client):
    """A second request with prompt=none is answered silently, for the same user and sign-in."""
    application = make_client(skip_consent=True)
    _, first = id_token_for(signed_in, application)
    _, second = id_token_for(signed_in, application, prompt="none")
    assert second["sub"] == first["sub"] == str(user.id)
    assert second["auth_time"] == first["auth_time"]


# OIDF: oidcc-prompt-login
def test_prompt_login(clock, signed_in, user, make_client):
    """prompt=login: the user signs in again, and the second ID token's auth_time is later."""
    application = make_client(skip_consent=True)
    _, first = id_token_for(signed_in, application)
    clock.shift(5)
    request = AuthorizationRequest(application, prompt="login")
    login = signed_in.get(request.url).headers["Location"]
    assert urlsplit(login).path == "/login"
    resume = parse_qs(urlsplit(login).query)["next"][0]
    page = signed_in.get(login)
    assert 'name="password"' in page.text
    clock.shift(1)
    signed_in.post("/login", data={"csrf_token": csrf_token(page.text), "email": user.email,
                                   "password": user.password, "next": resume})
    tokens = exchange(signed_in, application, request,
                      request.callback(signed_in.get(resume).headers["Location"])["code"])
    second = claims_of(tokens.get_json()["id_token"])[1]
    assert second["sub"] == first["sub"] and second["auth_time"] >= first["auth_time"] + 5


# OIDF: oidcc-max-age-1
def test_max_age_1(clock, signed_in, user, make_client):
    """Two seconds after signing in, max_age=1 asks for the password again; auth_time is the new sign-in."""
    application = make_client(skip_consent=True)
    _, first = id_token_for(signed_in, application)
    clock.shift(2)
    request = AuthorizationRequest(application, max_age="1")
    login = signed_in.get(request.url).headers["Location"]
    assert urlsplit(login).path == "/login"
    resume = parse_qs(urlsplit(login).query)["next"][0]
    page = signed_in.get(login)
    signed_in.post("/login", data={"csrf_token": csrf_token(page.text), "email": user.email,
                                   "password": user.password, "next": resume})
    tokens = exchange(signed_in, application, request,
                      request.callback(signed_in.get(resume).headers["Location"])["code"])
    second = claims_of(tokens.get_json()["id_token"])[1]
    assert second["auth_time"] >= first["auth_time"] + 2


# OIDF: oidcc-max-age-10000
def test_max_age_10000(clock, signed_in, make_client):
    """A sign-in a minute old satisfies max_age=10000: no login, the same auth_time."""
    application = make_client(skip_consent=True)
    _, first = id_token_for(signed_in, application)
    clock.shift(60)
    _, second = id_token_for(signed_in, application, max_age="10000")
    assert second["auth_time"] == first["auth_time"]


# --- several accounts per browser and prompt=select_account -------------------------------------------

def chooser(client, request) -> tuple:
    """The account chooser page for ``request``: (page, {email: session id}, form action)."""
    page = client.get(request.url)
    assert page.status_code == 200 and "<h1>Choose an account</h1>" in page.text, page.text
    accounts = {email: sid for sid, email in ACCOUNT_BUTTON.findall(page.text)}
    return page, accounts, CHOOSER_ACTION.search(page.text).group(1)


def test_select_account_without_accounts_shows_the_login_form(client, user, make_client):
    request = AuthorizationRequest(make_client(skip_consent=True), prompt="select_account")
    login = urlsplit(client.get(request.url).headers["Location"])
    assert login.path == "/login" and "prompt" not in parse_qs(login.query)
    resume = parse_qs(login.query)["next"][0]
    sign_in(client, user, next_path=resume)
    assert "code" in request.callback(client.get(resume).headers["Location"])


def test_select_account_with_one_account_still_asks(signed_in, user, make_client):
    """One account signed in: the chooser shows it and "Use another account"; picking it continues."""
    application = make_client(skip_consent=True)
    request = AuthorizationRequest(application, prompt="select_account")
    page, accounts, action = chooser(signed_in, request)
    assert list(accounts) == [user.email]
    assert "/login?" in ANOTHER.search(page.text).group(1).replace("&amp;", "&")
    picked = signed_in.post(action, data={"csrf_token": csrf_token(page.text), "account": accounts[user.email]})
    assert picked.status_code == 303
    answered = signed_in.get(picked.headers["Location"])
    assert code_user(signed_in, application, request, answered) == str(user.id)


def test_two_accounts_in_one_browser_and_choosing_between_them(app, client, make_user, make_client):
    """Sign in as A, "use another account" as B: both stay signed in; the chooser lists both and the
    account picked gets the code and becomes the active one."""
    ada, bob = make_user(), make_user(fullname="Bob")
    application = make_client(skip_consent=True)
    sign_in(client, ada)
    first = AuthorizationRequest(application, prompt="select_account")
    page, accounts, action = chooser(client, first)
    another = ANOTHER.search(page.text).group(1).replace("&amp;", "&")
    assert parse_qs(urlsplit(another).query)["prompt"] == ["login"]
    login_page = client.get(another)
    assert 'name="password"' in login_page.text  # the form, although Ada is signed in
    resume = parse_qs(urlsplit(another).query)["next"][0]
    client.post("/login", data={"csrf_token": csrf_token(login_page.text), "email": bob.email,
                                "password": bob.password, "next": resume})
    answered = client.get(resume)  # signed in since the request: that was the choice
    assert code_user(client, application, first, answered) == str(bob.id)
    assert whoami(client) == bob.email

    second = AuthorizationRequest(application, prompt="select_account")
    page, accounts, action = chooser(client, second)
    assert list(accounts) == [bob.email, ada.email]  # the active one first
    picked = client.post(action, data={"csrf_token": csrf_token(page.text), "account": accounts[ada.email]})
    assert code_user(client, application, second, client.get(picked.headers["Location"])) == str(ada.id)
    assert whoami(client) == ada.email  # Ada is active now, Bob still signed in
    assert client.get_cookie("idp_accounts") is not None
    page, accounts, _ = chooser(client, AuthorizationRequest(application, prompt="select_account"))
    assert list(accounts) == [ada.email, bob.email]


def test_choosing_needs_csrf_and_an_account_of_this_browser(app, client, make_user, make_client):
    ada, eve = make_user(), make_user()
    application = make_client(skip_consent=True)
    sign_in(client, ada)
    elsewhere = app.test_client()
    sign_in(elsewhere, eve)
    eve_session = elsewhere.get("/currentuser").get_json()["session"]["id"]
    request = AuthorizationRequest(application, prompt="select_account")
    page, accounts, action = chooser(client, request)
    forged = client.post(action, data={"account": accounts[ada.email]})
    assert forged.status_code == 400 and "Location" not in forged.headers
    foreign = client.post(action, data={"csrf_token": csrf_token(page.text), "account": eve_session})
    assert foreign.status_code == 303 and foreign.headers["Location"] == action.rsplit("/", 1)[0]
    assert client.get(foreign.headers["Location"]).status_code == 200  # the chooser again
    assert whoami(client) == ada.email
    other_browser = app.test_client()
    sign_in(other_browser, ada)
    assert other_browser.post(action, data={"csrf_token": csrf_token(page.text),
                                            "account": accounts[ada.email]}).status_code == 400


def test_signing_out_ends_only_the_active_account(client, make_user):
    ada, bob = make_user(), make_user()
    sign_in(client, ada)
    sign_in_as_another(client, bob)
    assert whoami(client) == bob.email
    AuthActions(client).logout()
    assert whoami(client) == ada.email  # the next signed-in account took over
    assert client.get_cookie("idp_accounts") is None
    AuthActions(client).logout()
    assert whoami(client) is None and client.get_cookie("idp_session") is None


def test_signing_in_again_as_a_listed_account_keeps_its_session(client, make_user):
    """Re-signing in as a listed account re-authenticates its session (same sid), not a new one."""
    ada, bob = make_user(), make_user()
    sign_in(client, ada)
    ada_session = client.get("/currentuser").get_json()["session"]["id"]
    sign_in_as_another(client, bob)
    sign_in_as_another(client, ada)
    assert client.get("/currentuser").get_json()["session"]["id"] == ada_session
    assert client.get_cookie("idp_accounts").value.count(".") == 0  # Bob alone is listed


def test_at_most_five_accounts_and_the_oldest_ends(app, client, make_user):
    users = [make_user() for _ in range(6)]
    sign_in(client, users[0])
    first_cookie = client.get_cookie("idp_session").value
    for user in users[1:]:
        sign_in_as_another(client, user)
    assert len(client.get_cookie("idp_accounts").value.split(".")) == 4
    replay = app.test_client()
    replay.set_cookie("idp_session", first_cookie)
    assert replay.get("/currentuser").status_code == 401  # the sixth sign-in ended the first


@pytest.mark.parametrize("listed", [
    "garbage", "a.b.c", "." * 50, "ü" * 30, "x" * 4000,
    ".".join(["A" * 43] * 1000),
], ids=["garbage", "short", "separators", "non-ascii", "long", "thousand-entries"])
def test_tampered_account_lists_are_ignored(app, signed_in, user, make_client, listed):
    with warnings.catch_warnings():  # a browser would drop a cookie this large; an attacker sends it anyway
        warnings.simplefilter("ignore")
        signed_in.set_cookie("idp_accounts", listed)
    request = AuthorizationRequest(make_client(skip_consent=True), prompt="select_account")
    _, accounts, _ = chooser(signed_in, request)
    assert list(accounts) == [user.email]
    assert whoami(signed_in) == user.email


def test_listed_tokens_are_checked_again_on_use(app, client, make_user, make_client):
    """An ended session, a duplicated active token, and an unknown token are all dropped."""
    ada, bob = make_user(), make_user()
    sign_in(client, ada)
    sign_in_as_another(client, bob)
    ada_token = client.get_cookie("idp_accounts").value
    bob_token = client.get_cookie("idp_session").value
    elsewhere = app.test_client()
    elsewhere.set_cookie("idp_session", ada_token)
    AuthActions(elsewhere).logout()  # Ada's session ends in another browser holding her token
    client.set_cookie("idp_accounts", ".".join([ada_token, bob_token, "B" * 43]))
    _, accounts, _ = chooser(client, AuthorizationRequest(make_client(skip_consent=True), prompt="select_account"))
    assert list(accounts) == [bob.email]


# --- id_token_hint ------------------------------------------------------------------------------------

# OIDF: oidcc-id-token-hint
def test_id_token_hint(signed_in, user, make_client):
    """The ID token of a first flow, sent back as id_token_hint with prompt=none: answered silently."""
    application = make_client(skip_consent=True)
    id_token, first = id_token_for(signed_in, application)
    _, second = id_token_for(signed_in, application, prompt="none", id_token_hint=id_token)
    assert second["sub"] == first["sub"] == str(user.id)


def test_an_expired_hint_still_names_the_user(clock, signed_in, user, make_client):
    application = make_client(skip_consent=True)
    id_token, _ = id_token_for(signed_in, application)
    for _ in range(3):  # past the ID token's hour, the session kept alive within its idle window
        clock.shift(1700)
        assert whoami(signed_in) == user.email
    _, again = id_token_for(signed_in, application, prompt="none", id_token_hint=id_token)
    assert again["sub"] == str(user.id)


def test_hint_for_another_user(app, signed_in, user, make_user, make_client):
    """A hint naming someone not signed in here: login_required with prompt=none, else the login form."""
    application = make_client(skip_consent=True)
    other = app.test_client()
    bob = make_user()
    sign_in(other, bob)
    bobs_token, _ = id_token_for(other, application)
    silent = AuthorizationRequest(application, prompt="none", id_token_hint=bobs_token)
    assert silent.callback(signed_in.get(silent.url).headers["Location"])["error"] == "login_required"
    request = AuthorizationRequest(application, id_token_hint=bobs_token)
    login = urlsplit(signed_in.get(request.url).headers["Location"])
    assert login.path == "/login" and parse_qs(login.query)["prompt"] == ["login"]
    resume = parse_qs(login.query)["next"][0]
    page = signed_in.get(f"{login.path}?{login.query}")
    signed_in.post("/login", data={"csrf_token": csrf_token(page.text), "email": user.email,
                                   "password": user.password, "next": resume})
    again = urlsplit(signed_in.get(resume).headers["Location"])  # still not the hinted user: sign in again
    assert again.path == "/login"
    page = signed_in.get(f"{again.path}?{again.query}")
    signed_in.post("/login", data={"csrf_token": csrf_token(page.text), "email": bob.email,
                                   "password": bob.password, "next": resume})
    assert code_user(signed_in, application, request, signed_in.get(resume)) == str(bob.id)


def test_hint_for_a_listed_account_switches_to_it(client, make_user, make_client):
    ada, bob = make_user(), make_user()
    application = make_client(skip_consent=True)
    sign_in(client, ada)
    adas_token, _ = id_token_for(client, application)
    sign_in_as_another(client, bob)
    assert whoami(client) == bob.email
    _, claims = id_token_for(client, application, id_token_hint=adas_token)
    assert claims["sub"] == str(ada.id)
    assert whoami(client) == ada.email


def test_a_silent_hint_for_a_listed_account_answers_for_it_without_switching(client, make_user, make_client):
    """prompt=none shows no page, so the browser's active account stays the one the person chose."""
    ada, bob = make_user(), make_user()
    application = make_client(skip_consent=True)
    sign_in(client, ada)
    adas_token, _ = id_token_for(client, application)
    sign_in_as_another(client, bob)
    _, claims = id_token_for(client, application, prompt="none", id_token_hint=adas_token)
    assert claims["sub"] == str(ada.id)
    assert whoami(client) == bob.email


def test_consent_shown_to_one_account_is_not_given_by_another(client, make_user, make_client):
    """The consent page names ada (the hint's user); another tab signs in as bob, the active account
    now. Allow on ada's page gave bob's consent and a code for bob, whom the hint does not name.
    The decision goes back through the request's checks instead: ada again, and her code."""
    ada, bob = make_user(), make_user()
    application = make_client()
    sign_in(client, ada)
    first = AuthorizationRequest(application, scope="openid")
    page = client.get(first.url)
    allowed = client.post(page.text.split('action="')[1].split('"')[0],
                          data={"csrf_token": csrf_token(page.text), "decision": "allow"})
    tokens = exchange(client, application, first, first.callback(allowed.headers["Location"])["code"])
    # A claim beyond the scope asks for consent every time: the page is shown again.
    request = AuthorizationRequest(application, scope="openid", id_token_hint=tokens.get_json()["id_token"],
                                   claims=json.dumps({"userinfo": {"phone_number": None}}))
    page = client.get(request.url)
    assert page.status_code == 200 and ada.email in page.text
    sign_in_as_another(client, bob)
    decided = client.post(page.text.split('action="')[1].split('"')[0],
                          data={"csrf_token": csrf_token(page.text), "decision": "allow"})
    assert not decided.headers.get("Location", "").startswith(request.redirect_uri), decided.headers
    again = client.get(decided.headers["Location"])
    content = again.text.split("<main", 1)[1]  # the page's own content (the header names the browser's account)
    assert again.status_code == 200 and ada.email in content and bob.email not in content
    assert whoami(client) == ada.email


def forged_hints(app, application, other_application, user_id) -> dict:
    """Hints that must not pass: each is otherwise a well-formed ID token for ``user_id``."""
    issuer = app.config["ISSUER"]
    claims = {"iss": issuer, "sub": str(user_id), "aud": [application.client_id], "iat": 1, "exp": 4102444800}
    with app.app_context():
        kid = ring.current_kid()
        jwks = json.loads(ring.jwks()[0])
        other_issuer = ring.sign({**claims, "iss": "https://evil.example"})
        other_audience = ring.sign({**claims, "aud": [other_application.client_id]})
        no_subject = ring.sign({key: value for key, value in claims.items() if key != "sub"})
        access_token_like = ring.sign(claims, typ="at+jwt")
        ours = ring.sign(claims)
    public = next(key for key in jwks["keys"] if key["kid"] == kid)
    signing_input = f"{b64({'alg': 'HS256', 'kid': kid})}.{b64(claims)}"
    hs256 = signing_input + "." + b64(hmac.new(json.dumps(public).encode(), signing_input.encode(),
                                               hashlib.sha256).digest())
    foreign_key = RSAKey.generate_key(2048, parameters={"kid": kid})
    foreign = jose_jwt.encode({"alg": "RS256", "kid": kid}, claims, foreign_key)
    head, body, signature = ours.split(".")
    return {
        "alg-none": f"{b64({'alg': 'none'})}.{b64(claims)}.",
        "alg-none-with-kid": f"{b64({'alg': 'none', 'kid': kid})}.{b64(claims)}.",
        "hs256-with-our-public-key": hs256,
        "foreign-key-with-our-kid": foreign,
        "other-issuer": other_issuer,
        "other-audience": other_audience,
        "no-subject": no_subject,
        "modified-payload": f"{head}.{b64({**claims, 'sub': 'someone-else'})}.{signature}",
        "garbage": "not.a.jwt",
        "huge": "A" * 20000,
        "access-token": access_token_like,
    }


def test_an_empty_hint_is_no_hint(signed_in, user, make_client):
    """RFC 6749 §3.1: a parameter sent without a value is treated as omitted."""
    _, claims = id_token_for(signed_in, make_client(skip_consent=True), prompt="none", id_token_hint="")
    assert claims["sub"] == str(user.id)


def test_forged_and_malformed_hints_are_refused(app, signed_in, user, make_client):
    """Never silently accepted: login_required with prompt=none, invalid_request otherwise."""
    application = make_client(skip_consent=True)
    hints = forged_hints(app, application, make_client(name="Other"), user.id)
    for name, hint in hints.items():
        silent = AuthorizationRequest(application, prompt="none", id_token_hint=hint)
        response = signed_in.get(silent.url)
        assert response.status_code == 302, name
        assert silent.callback(response.headers["Location"])["error"] == "login_required", name
        loud = AuthorizationRequest(application, id_token_hint=hint)
        response = signed_in.get(loud.url)
        assert loud.callback(response.headers["Location"])["error"] == "invalid_request", name


@pytest.mark.parametrize("hint", [
    "a.b.c", "..", "a.b", "%%%.%%%.%%%", "ü.ü.ü",
    f"{b64([1, 2])}.{b64({'sub': 'x'})}.sig",
    f"{b64({'alg': 'RS256', 'kid': ['a']})}.{b64({'sub': 'x'})}.c2ln",
    f"{b64({'alg': ['RS256'], 'kid': {}})}.{b64([])}.c2ln",
    f"{b64({'alg': 'RS256'})}.{b64('just a string')}.",
    f"{b64(b'not json')}.{b64(b'not json')}.{b64(b'sig')}",
], ids=["dots", "empty-parts", "two-parts", "percent", "non-ascii", "header-array", "kid-list", "alg-list",
        "payload-string", "not-json"])
def test_garbage_hints_never_fail(signed_in, make_client, hint):
    request = AuthorizationRequest(make_client(skip_consent=True), prompt="none", id_token_hint=hint)
    response = signed_in.get(request.url)
    assert request.callback(response.headers["Location"])["error"] == "login_required"
