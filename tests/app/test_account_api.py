"""/api/v1/me: the signed-in user's account as JSON, with the session cookie (+ X-CSRFToken) or a
bearer access token."""

import uuid

import pytest

from app.services import accounts

from ..helpers import ACCOUNT_CLIENT_SCOPE
from ..helpers import ACCOUNT_SCOPES
from ..helpers import FIREFOX
from ..helpers import STRONG_PASSWORD
from ..helpers import AuthActions
from ..helpers import Browser
from ..helpers import bearer
from ..helpers import csrf_token
from ..helpers import grant_tokens
from ..helpers import refresh

PROBLEM = "application/problem+json"
ACCOUNT_KEYS = {"id", "email", "email_verified", "fullname", "given_name", "family_name", "phone", "address",
                "birthdate", "avatar", "two_factor_enabled", "roles", "created_at", "updated_at"}
SESSION_KEYS = {"id", "current", "device", "user_agent", "ip_address", "amr", "created_at", "last_seen_at",
                "expires_at"}
LOGIN_KEYS = {"time", "outcome", "method", "ip_address", "device", "user_agent"}
WRONG_PASSWORD = "The password is not right."


# --- helpers: a signed-in browser, an OAuth client ---------------------------------------------------

@pytest.fixture
def account(app, user):
    """A browser signed in as ``user``."""
    return Browser(app, user)


@pytest.fixture
def application(make_client):
    """A first-party application that may act on the account API (the account scope)."""
    return make_client(skip_consent=True, scope=ACCOUNT_CLIENT_SCOPE)


def assert_problem(response, status, errors=None):
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == PROBLEM
    body = response.get_json()
    assert body["status"] == status and body["type"] == "about:blank"
    if errors is not None:
        assert body["errors"] == errors
    return body


# --- authentication and CSRF -------------------------------------------------------------------------

@pytest.mark.parametrize("method, path", [
    ("GET", "/api/v1/me"), ("PATCH", "/api/v1/me"), ("DELETE", "/api/v1/me"), ("POST", "/api/v1/me/password"),
    ("POST", "/api/v1/me/email"), ("POST", "/api/v1/me/email/confirm"), ("PUT", "/api/v1/me/2fa"),
    ("GET", "/api/v1/me/sessions"), ("DELETE", "/api/v1/me/sessions"),
    ("DELETE", f"/api/v1/me/sessions/{uuid.uuid4()}"), ("GET", "/api/v1/me/login-history"),
])
def test_every_endpoint_needs_a_session_or_token(client, method, path):
    """Without a cookie or bearer token: 401 problem JSON naming the Bearer scheme."""
    response = client.open(path, method=method, json={})
    body = assert_problem(response, 401)
    assert body["title"] == "Unauthorized"
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="http://localhost:5000"'


def test_a_garbage_bearer_token_is_401(client):
    """A token that is not ours opens nothing."""
    assert_problem(client.get("/api/v1/me", headers=bearer("not.a.token")), 401)


@pytest.mark.parametrize("method, path, body", [
    ("PATCH", "/api/v1/me", {"fullname": "Mallory"}),
    ("POST", "/api/v1/me/password", {"current_password": "x", "new_password": STRONG_PASSWORD}),
    ("POST", "/api/v1/me/email", {"email": "new@example.com", "password": "x"}),
    ("PUT", "/api/v1/me/2fa", {"enabled": True}),
    ("DELETE", "/api/v1/me/sessions", None),
    ("DELETE", "/api/v1/me", {"password": "x"}),
], ids=["profile", "password", "email", "2fa", "sessions", "delete"])
def test_cookie_changes_need_the_csrf_header(account, mailbox, method, path, body):
    """A cookie-authenticated change without X-CSRFToken is 400 problem JSON and changes nothing."""
    before = account.get("/api/v1/me").get_json()
    response = account.send(method, path, json=body, csrf=False)
    assert_problem(response, 400)
    assert "CSRF" in response.get_json()["detail"]
    assert account.get("/api/v1/me").get_json() == before
    assert mailbox.messages == []


@pytest.mark.parametrize("method, path", [
    ("PATCH", "/api/v1/me"), ("POST", "/api/v1/me/password"), ("POST", "/api/v1/me/email"),
    ("POST", "/api/v1/me/email/confirm"), ("PUT", "/api/v1/me/2fa"), ("DELETE", "/api/v1/me"),
])
def test_changes_need_a_json_body(account, method, path):
    """A form-encoded body is 415 problem JSON."""
    response = account.http.open(path, method=method, data={"password": "x"},
                                 headers={"X-CSRFToken": account.token})
    assert_problem(response, 415)


def test_a_json_body_must_be_an_object(account):
    """A JSON array or string is refused field by field: 400 with errors.body."""
    response = account.send("PATCH", "/api/v1/me", json=["fullname"])
    assert_problem(response, 400, {"body": ["Send a JSON object."]})


# --- profile -----------------------------------------------------------------------------------------

def test_me_returns_the_account_and_profile(account, user):
    """GET /api/v1/me: exactly the documented members, with the default Gravatar picture."""
    response = account.get("/api/v1/me")
    assert response.status_code == 200
    body = response.get_json()
    assert set(body) == ACCOUNT_KEYS
    assert body["id"] == str(user.id) and body["email"] == user.email and body["fullname"] == "Ada Lovelace"
    assert body["avatar"] == accounts.gravatar_url(user.email)
    assert body["roles"] == ["user"] and body["email_verified"] is True and body["two_factor_enabled"] is False
    assert body["given_name"] is None and body["address"] is None and body["birthdate"] is None


def test_patch_changes_only_the_fields_sent(account):
    """A PATCH sets the given fields, keeps the others; null clears; an empty avatar restores the default."""
    first = account.send("PATCH", "/api/v1/me", json={
        "fullname": "  Ada King  ", "given_name": "Ada", "family_name": "King", "phone": "+44 20 7946 0958",
        "birthdate": "1985-12-10", "avatar": "https://pictures.example.com/ada.png",
        "address": {"street_address": "12 St James's Square", "locality": "London", "country": "UK",
                    "region": ""}})
    assert first.status_code == 200, first.get_json()
    body = first.get_json()
    assert body["fullname"] == "Ada King" and body["given_name"] == "Ada" and body["family_name"] == "King"
    assert body["phone"] == "+44 20 7946 0958" and body["birthdate"] == "1985-12-10"
    assert body["avatar"] == "https://pictures.example.com/ada.png"
    assert body["address"] == {"street_address": "12 St James's Square", "locality": "London", "country": "UK"}
    second = account.send("PATCH", "/api/v1/me", json={"family_name": None, "avatar": ""}).get_json()
    assert second["family_name"] is None and second["given_name"] == "Ada" and second["birthdate"] == "1985-12-10"
    assert second["avatar"] == accounts.gravatar_url(second["email"])
    assert account.get("/api/v1/me").get_json() == second


def test_profile_reaches_the_oidc_claims(app, account, application):
    """What the account page saves is what userinfo releases to an application."""
    account.send("PATCH", "/api/v1/me", json={"given_name": "Ada", "birthdate": "1985-12-10",
                                              "address": {"locality": "London"}})
    tokens = grant_tokens(account.http, application, scope="openid profile address")
    claims = account.http.get("/oauth/userinfo", headers=bearer(tokens["access_token"])).get_json()
    assert claims["given_name"] == "Ada" and claims["birthdate"] == "1985-12-10"
    assert claims["address"] == {"locality": "London"}


@pytest.mark.parametrize("changes, errors", [
    ({"birthdate": "1990-02-30"}, {"birthdate": ["Enter a date as YYYY-MM-DD."]}),
    ({"birthdate": "10/12/1815"}, {"birthdate": ["Enter a date as YYYY-MM-DD."]}),
    ({"birthdate": "2999-01-01"}, {"birthdate": ["Enter a date between 1900-01-01 and today."]}),
    ({"birthdate": 19901231}, {"birthdate": ["Enter a date as YYYY-MM-DD."]}),
    ({"fullname": "x" * 201}, {"fullname": ["Use at most 200 characters."]}),
    ({"fullname": "   "}, {"fullname": ["This field is required."]}),
    ({"given_name": "x" * 101, "family_name": "y" * 101},
     {"given_name": ["Use at most 100 characters."], "family_name": ["Use at most 100 characters."]}),
    ({"given_name": "Ada\x07"}, {"given_name": ["Use printable characters only."]}),
    ({"given_name": 7}, {"given_name": ["Must be text."]}),
    ({"phone": "call me maybe"}, {"phone": ["Enter a phone number such as +44 20 7946 0958."]}),
    ({"phone": "+1 2"}, {"phone": ["Enter a phone number such as +44 20 7946 0958."]}),
    ({"avatar": "http://pictures.example.com/a.png"}, {"avatar": ["Enter an https:// address of a picture."]}),
    ({"avatar": "javascript:alert(1)"}, {"avatar": ["Enter an https:// address of a picture."]}),
    ({"avatar": "https://" + "a" * 500 + ".example"}, {"avatar": ["Use at most 500 characters."]}),
    ({"address": "London"},
     {"address": ["Must be an object with the members formatted, street_address, locality, region, postal_code, "
                  "country."]}),
    ({"address": {"planet": "Earth", "postal_code": "x" * 21}},
     {"address.planet": ["Unknown field."], "address.postal_code": ["Use at most 20 characters."]}),
    ({"email": "mallory@example.com"}, {"email": ["Unknown field."]}),
    ({"fullname": "Ada King", "birthdate": "yesterday"}, {"birthdate": ["Enter a date as YYYY-MM-DD."]}),
], ids=["impossible-date", "not-iso", "future", "number", "long-fullname", "blank-fullname", "long-names",
        "nul-character", "not-text", "phone-letters", "phone-too-short", "avatar-http", "avatar-javascript",
        "avatar-too-long", "address-not-object", "address-members", "email-not-here", "one-bad-field"])
def test_invalid_profile_is_400_with_messages_and_changes_nothing(account, changes, errors):
    """Every invalid field is named with its message; not even the valid fields are saved."""
    before = account.get("/api/v1/me").get_json()
    response = account.send("PATCH", "/api/v1/me", json=changes)
    body = assert_problem(response, 400, errors)
    assert body["title"] == "Bad Request" and body["detail"] == "Some fields are not valid."
    assert account.get("/api/v1/me").get_json() == before


# --- password ----------------------------------------------------------------------------------------

def test_password_change_ends_the_other_sessions_and_mails_a_notice(app, user, mailbox):
    """200 with the count; this session lives on, the other ends; the new password signs in; a notice."""
    browser = Browser(app, user)
    other = Browser(app, user)
    response = browser.send("POST", "/api/v1/me/password",
                            json={"current_password": user.password, "new_password": STRONG_PASSWORD})
    assert response.status_code == 200 and response.get_json() == {"sessions_ended": 1}
    assert browser.get("/currentuser").status_code == 200
    assert other.get("/currentuser").status_code == 401
    assert [message["Subject"] for message in mailbox.to(user.email)] == ["Your password was changed"]
    fresh = app.test_client()
    assert AuthActions(fresh).login(user.email, user.password).status_code == 400
    assert AuthActions(fresh).login(user.email, STRONG_PASSWORD).status_code == 303


def test_password_change_with_a_wrong_current_password_is_403(app, account, user, mailbox):
    """403 naming current_password; the old password still works and nothing is mailed."""
    response = account.send("POST", "/api/v1/me/password",
                            json={"current_password": "not the password", "new_password": STRONG_PASSWORD})
    body = assert_problem(response, 403, {"current_password": [WRONG_PASSWORD]})
    assert body["title"] == "Forbidden"
    assert AuthActions(app.test_client()).login(user.email, user.password).status_code == 303
    assert mailbox.messages == []


def test_a_weak_new_password_is_400_with_the_policy_reasons(app, account, user):
    """The policy's reasons come back under errors.new_password; the password stays."""
    response = account.send("POST", "/api/v1/me/password",
                            json={"current_password": user.password, "new_password": "password1"})
    body = assert_problem(response, 400)
    reasons = body["errors"]["new_password"]
    assert reasons[0] == "This password is too easy to guess." and len(reasons) >= 2
    short = account.send("POST", "/api/v1/me/password", json={"current_password": user.password,
                                                              "new_password": "short"})
    assert_problem(short, 400, {"new_password": ["Use at least 8 characters."]})
    assert AuthActions(app.test_client()).login(user.email, user.password).status_code == 303


def test_password_change_needs_both_fields(account):
    """Missing members are named, each one."""
    response = account.send("POST", "/api/v1/me/password", json={"new_password": STRONG_PASSWORD})
    assert_problem(response, 400, {"current_password": ["This field is required."]})


# --- email address -----------------------------------------------------------------------------------

def test_email_change_is_confirmed_by_the_code_sent_to_the_new_address(app, account, user, mailbox):
    """202; the old address stays and is told; the new address's code switches the account to it."""
    response = account.send("POST", "/api/v1/me/email", json={"email": "Ada.New@Example.com",
                                                              "password": user.password})
    assert response.status_code == 202
    assert response.get_json() == {"email": user.email, "pending_email": "ada.new@example.com"}
    notice = mailbox.to(user.email)[-1]
    assert notice["Subject"] == "A new email address was requested for your account"
    assert "ada.new@example.com" in notice.get_body(preferencelist=("plain",)).get_content()
    assert account.get("/api/v1/me").get_json()["email"] == user.email
    code = mailbox.last_code("ada.new@example.com")
    confirmed = account.send("POST", "/api/v1/me/email/confirm", json={"code": code})
    assert confirmed.status_code == 200
    body = confirmed.get_json()
    assert body["email"] == "ada.new@example.com" and body["email_verified"] is True
    assert body["avatar"] == accounts.gravatar_url("ada.new@example.com")
    fresh = app.test_client()
    assert AuthActions(fresh).login(user.email, user.password).status_code == 400
    assert AuthActions(fresh).login("ada.new@example.com", user.password).status_code == 303


def test_email_change_with_a_wrong_code_keeps_the_address(account, user, mailbox):
    """400 naming the code; the account keeps its address; the right code still works after."""
    account.send("POST", "/api/v1/me/email", json={"email": "new@example.com", "password": user.password})
    code = mailbox.last_code("new@example.com")
    wrong = "000000" if code != "000000" else "111111"
    response = account.send("POST", "/api/v1/me/email/confirm", json={"code": wrong})
    assert_problem(response, 400, {"code": ["That code is not right. Check the latest message and try again."]})
    assert account.get("/api/v1/me").get_json()["email"] == user.email
    assert account.send("POST", "/api/v1/me/email/confirm", json={"code": code}).get_json()["email"] == \
        "new@example.com"


def test_email_change_needs_the_password(account, user, mailbox):
    """403 with a wrong password: no code, no notice."""
    response = account.send("POST", "/api/v1/me/email", json={"email": "new@example.com", "password": "nope"})
    assert_problem(response, 403, {"password": [WRONG_PASSWORD]})
    assert mailbox.messages == []


@pytest.mark.parametrize("email, message", [
    ("not an address", "An email address must have an @-sign."),
    ("SAME", "This is already your email address."),
    ("", "This field is required."),
    ("x" * 250 + "@example.com", "Use at most 254 characters."),
], ids=["malformed", "same", "empty", "too-long"])
def test_email_change_to_an_unusable_address_is_400(account, user, mailbox, email, message):
    """A malformed, empty or too long address, or the current one, is named under errors.email."""
    email = user.email.upper() if email == "SAME" else email
    response = account.send("POST", "/api/v1/me/email", json={"email": email, "password": user.password})
    assert_problem(response, 400, {"email": [message]})
    assert mailbox.messages == []


def test_email_change_to_a_taken_address_answers_the_same_and_never_confirms(account, user, make_user, mailbox):
    """Same 202 and notice as for a free address, but no code reaches the other account's address."""
    taken = make_user(email="taken@example.com")
    response = account.send("POST", "/api/v1/me/email", json={"email": taken.email, "password": user.password})
    assert response.status_code == 202
    assert response.get_json() == {"email": user.email, "pending_email": taken.email}
    assert mailbox.to(taken.email) == []
    assert mailbox.to(user.email)[-1]["Subject"] == "A new email address was requested for your account"
    for guess in ("000000", "123456"):
        assert_problem(account.send("POST", "/api/v1/me/email/confirm", json={"code": guess}), 400)
    assert account.get("/api/v1/me").get_json()["email"] == user.email


def test_an_address_taken_before_confirmation_is_refused_generically(account, user, make_user, mailbox):
    """Another account takes the address between request and code: 409, the old address stays."""
    account.send("POST", "/api/v1/me/email", json={"email": "race@example.com", "password": user.password})
    code = mailbox.last_code("race@example.com")
    make_user(email="race@example.com")
    response = account.send("POST", "/api/v1/me/email/confirm", json={"code": code})
    body = assert_problem(response, 409)
    assert body["detail"] == "This email address cannot be used. Choose another address."
    assert account.get("/api/v1/me").get_json()["email"] == user.email


def test_a_second_email_change_request_within_a_minute_is_429(account, user, mailbox):
    """The code's resend window applies: 429 with Retry-After, and no second message."""
    body = {"email": "new@example.com", "password": user.password}
    assert account.send("POST", "/api/v1/me/email", json=body).status_code == 202
    response = account.send("POST", "/api/v1/me/email", json=body)
    assert_problem(response, 429)
    assert 0 < int(response.headers["Retry-After"]) <= 60
    assert len(mailbox.to("new@example.com")) == 1


# --- two-factor authentication -------------------------------------------------------------------------

def test_two_factor_on_then_off_with_the_password(app, account, user):
    """On needs no password and the next sign-in asks for a code; off needs the right password."""
    response = account.send("PUT", "/api/v1/me/2fa", json={"enabled": True})
    assert response.status_code == 200 and response.get_json() == {"two_factor_enabled": True}
    signing_in = AuthActions(app.test_client()).login(user.email, user.password)
    assert signing_in.status_code == 303 and signing_in.headers["Location"] == "/login/2fa"
    assert_problem(account.send("PUT", "/api/v1/me/2fa", json={"enabled": False}), 403,
                   {"password": [WRONG_PASSWORD]})
    assert_problem(account.send("PUT", "/api/v1/me/2fa", json={"enabled": False, "password": "wrong one"}), 403,
                   {"password": [WRONG_PASSWORD]})
    assert account.get("/api/v1/me").get_json()["two_factor_enabled"] is True
    off = account.send("PUT", "/api/v1/me/2fa", json={"enabled": False, "password": user.password})
    assert off.status_code == 200 and off.get_json() == {"two_factor_enabled": False}
    assert AuthActions(app.test_client()).login(user.email, user.password).headers["Location"] == "/account"


def test_two_factor_needs_a_boolean(account):
    """"yes" is not a boolean."""
    assert_problem(account.send("PUT", "/api/v1/me/2fa", json={"enabled": "yes"}), 400,
                   {"enabled": ["Must be true or false."]})


# --- sessions and history ----------------------------------------------------------------------------

def test_sessions_lists_the_live_ones_and_marks_this_one(app, user):
    """Both sessions, newest use first, with device and IP; exactly one is current."""
    other = Browser(app, user, **{"User-Agent": FIREFOX})
    browser = Browser(app, user)
    response = browser.get("/api/v1/me/sessions")
    assert response.status_code == 200
    listed = response.get_json()["sessions"]
    assert [item["id"] for item in listed] == [browser.session_id(), other.session_id()]
    assert all(set(item) == SESSION_KEYS for item in listed)
    assert [item["current"] for item in listed] == [True, False]
    assert listed[1]["device"] == "Firefox on Linux" and listed[1]["user_agent"] == FIREFOX
    assert listed[1]["ip_address"] == "127.0.0.1" and listed[1]["amr"] == ["pwd"]


def test_ending_one_session_signs_that_one_out(app, user):
    """204; the other browser is signed out and the session leaves the list."""
    browser = Browser(app, user)
    other = Browser(app, user)
    response = browser.send("DELETE", f"/api/v1/me/sessions/{other.session_id()}")
    assert response.status_code == 204 and response.data == b""
    assert other.get("/currentuser").status_code == 401
    assert [item["id"] for item in browser.get("/api/v1/me/sessions").get_json()["sessions"]] == \
        [browser.session_id()]


def test_ending_this_session_signs_out_and_clears_the_cookie(account):
    """DELETE of the current session's id is a sign-out."""
    response = account.send("DELETE", f"/api/v1/me/sessions/{account.session_id()}")
    assert response.status_code == 204
    assert any(value.startswith("idp_session=;") for value in response.headers.getlist("Set-Cookie"))
    assert account.get("/currentuser").status_code == 401


@pytest.mark.parametrize("target", ["another-users", "unknown", "ended"])
def test_ending_a_session_that_is_not_a_live_one_of_yours_is_404(app, user, make_user, target):
    """Another user's session id, an unknown id, an ended one: 404, and nothing ends."""
    browser = Browser(app, user)
    stranger = Browser(app, make_user())
    if target == "another-users":
        session_id = stranger.session_id()
    elif target == "unknown":
        session_id = str(uuid.uuid4())
    else:
        mine = Browser(app, user)
        session_id = mine.session_id()
        assert browser.send("DELETE", f"/api/v1/me/sessions/{session_id}").status_code == 204
    response = browser.send("DELETE", f"/api/v1/me/sessions/{session_id}")
    assert_problem(response, 404)
    assert response.get_json()["detail"] == "No such session."
    assert stranger.get("/currentuser").status_code == 200
    assert browser.get("/currentuser").status_code == 200


def test_a_malformed_session_id_is_404(account):
    """Not a UUID: no such resource."""
    assert_problem(account.send("DELETE", "/api/v1/me/sessions/not-a-uuid"), 404)


def test_ending_every_other_session(app, user, make_user):
    """DELETE /sessions ends the user's others, not this one, and not another user's."""
    browser = Browser(app, user)
    others = [Browser(app, user), Browser(app, user)]
    stranger = Browser(app, make_user())
    response = browser.send("DELETE", "/api/v1/me/sessions")
    assert response.status_code == 200 and response.get_json() == {"sessions_ended": 2}
    assert [other.get("/currentuser").status_code for other in others] == [401, 401]
    assert browser.get("/currentuser").status_code == 200
    assert stranger.get("/currentuser").status_code == 200


def test_login_history_is_the_last_50_attempts_newest_first(make_app, make_user, clock):
    """55 attempts a second apart: the 50 newest, in reverse order, with device and outcome."""
    app = make_app(LOGIN_RATE_LIMIT_IP="1000 per minute", LOGIN_RATE_LIMIT_ACCOUNT="1000 per minute")
    user = make_user()
    http = app.test_client()
    token = csrf_token(http.get("/login").text)
    for index in range(55):
        clock.shift(1)
        response = http.post("/login", data={"csrf_token": token, "email": user.email, "password": f"wrong {index}"},
                             headers={"User-Agent": f"agent/{index}"})
        assert response.status_code == 400
    clock.shift(1)
    browser = Browser(app, user, **{"User-Agent": FIREFOX})
    response = browser.get("/api/v1/me/login-history")
    assert response.status_code == 200
    logins = response.get_json()["logins"]
    assert len(logins) == 50 and all(set(entry) == LOGIN_KEYS for entry in logins)
    assert logins[0]["outcome"] == "success" and logins[0]["device"] == "Firefox on Linux"
    assert logins[0]["method"] == "password" and logins[0]["ip_address"] == "127.0.0.1"
    assert [entry["user_agent"] for entry in logins[1:]] == [f"agent/{index}" for index in range(54, 5, -1)]
    assert {entry["outcome"] for entry in logins[1:]} == {"bad_password"}
    assert [entry["time"] for entry in logins] == sorted((entry["time"] for entry in logins), reverse=True)


def test_login_history_holds_only_this_users_attempts(app, user, make_user):
    """Another account's sign-ins do not show."""
    Browser(app, make_user())
    browser = Browser(app, user)
    assert len(browser.get("/api/v1/me/login-history").get_json()["logins"]) == 1


# --- deletion ----------------------------------------------------------------------------------------

def test_deleting_with_a_wrong_password_changes_nothing(app, account, user):
    """403 naming the password; still signed in, still able to sign in."""
    response = account.send("DELETE", "/api/v1/me", json={"password": "not it"})
    assert_problem(response, 403, {"password": [WRONG_PASSWORD]})
    assert account.get("/currentuser").status_code == 200
    assert AuthActions(app.test_client()).login(user.email, user.password).status_code == 303


def test_deleting_needs_the_password_in_the_body(account):
    """No password member: 400 naming it."""
    assert_problem(account.send("DELETE", "/api/v1/me", json={}), 400, {"password": ["This field is required."]})


def test_deleting_signs_out_everywhere_kills_tokens_and_blocks_sign_in(app, user, application):
    """204 and the cookie cleared; other sessions end; refresh tokens are invalid_grant; no sign-in."""
    browser = Browser(app, user)
    other = Browser(app, user)
    tokens = grant_tokens(other.http, application, scope="openid offline_access")
    response = browser.send("DELETE", "/api/v1/me", json={"password": user.password})
    assert response.status_code == 204
    assert any(value.startswith("idp_session=;") for value in response.headers.getlist("Set-Cookie"))
    assert browser.get("/currentuser").status_code == 401
    assert other.get("/currentuser").status_code == 401
    again = refresh(app.test_client(), application, tokens["refresh_token"])
    assert again.status_code == 400 and again.get_json()["error"] == "invalid_grant"
    assert_problem(app.test_client().get("/api/v1/me", headers=bearer(tokens["access_token"])), 401)
    refused = AuthActions(app.test_client()).login(user.email, user.password)
    assert refused.status_code == 400 and "Incorrect email address or password." in refused.text


# --- bearer access tokens ------------------------------------------------------------------------------

def test_a_bearer_token_reads_and_changes_the_account_without_csrf(app, account, user, application):
    """An access token authenticates; no CSRF header is needed; its session is the current one."""
    tokens = grant_tokens(account.http, application, scope=ACCOUNT_SCOPES)
    api = app.test_client()
    headers = bearer(tokens["access_token"])
    assert api.get("/api/v1/me", headers=headers).get_json()["email"] == user.email
    changed = api.patch("/api/v1/me", json={"given_name": "Ada"}, headers=headers)
    assert changed.status_code == 200 and changed.get_json()["given_name"] == "Ada"
    listed = api.get("/api/v1/me/sessions", headers=headers).get_json()["sessions"]
    assert [(item["id"], item["current"]) for item in listed] == [(account.session_id(), True)]
    assert api.get("/api/v1/me/login-history", headers=headers).status_code == 200


def test_a_bearer_password_change_keeps_the_session_but_revokes_every_token(app, user, application):
    """The token's browser session is kept and the others end; every token of the account stops, the
    one that made the change included (a new password revokes what the old one granted)."""
    browser = Browser(app, user)
    other = Browser(app, user)
    mine = grant_tokens(browser.http, application, scope=ACCOUNT_SCOPES)
    theirs = grant_tokens(other.http, application, scope=ACCOUNT_SCOPES)
    api = app.test_client()
    response = api.post("/api/v1/me/password", headers=bearer(mine["access_token"]),
                        json={"current_password": user.password, "new_password": STRONG_PASSWORD})
    assert response.status_code == 200 and response.get_json() == {"sessions_ended": 1}
    assert browser.get("/currentuser").status_code == 200
    assert other.get("/currentuser").status_code == 401
    for tokens in (mine, theirs):
        assert_problem(api.get("/api/v1/me", headers=bearer(tokens["access_token"])), 401)
        again = refresh(api, application, tokens["refresh_token"])
        assert again.status_code == 400 and again.get_json()["error"] == "invalid_grant"


def test_a_bearer_token_deletes_the_account(app, account, user, application):
    """DELETE /api/v1/me with a bearer token and the password: the account is gone, the token too."""
    tokens = grant_tokens(account.http, application, scope=ACCOUNT_SCOPES)
    api = app.test_client()
    response = api.delete("/api/v1/me", json={"password": user.password}, headers=bearer(tokens["access_token"]))
    assert response.status_code == 204
    assert_problem(api.get("/api/v1/me", headers=bearer(tokens["access_token"])), 401)
    assert account.get("/currentuser").status_code == 401


# --- brute force -------------------------------------------------------------------------------------

def test_wrong_passwords_are_limited_per_account(make_app, make_user):
    """After LOGIN_RATE_LIMIT_ACCOUNT wrong passwords, even the right one is 429 for a while."""
    app = make_app(LOGIN_RATE_LIMIT_ACCOUNT="2 per 15 minutes")
    user = make_user()
    browser = Browser(app, user)
    for _ in range(2):
        assert browser.send("DELETE", "/api/v1/me", json={"password": "guess"}).status_code == 403
    response = browser.send("DELETE", "/api/v1/me", json={"password": user.password})
    assert_problem(response, 429)
    assert browser.get("/currentuser").status_code == 200
