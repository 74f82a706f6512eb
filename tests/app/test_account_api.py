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
ACCOUNT_KEYS = {"id", "email", "emailVerified", "fullname", "givenName", "familyName", "phone", "address",
                "birthdate", "avatar", "twoFactorEnabled", "roleId", "roles", "isActive", "createdAt", "updatedAt"}
SESSION_KEYS = {"id", "current", "device", "userAgent", "ipAddress", "amr", "createdAt", "lastSeenAt",
                "expiresAt"}
LOGIN_KEYS = {"time", "outcome", "method", "ipAddress", "device", "userAgent"}
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
    ("POST", "/api/v1/me/password", {"currentPassword": "x", "newPassword": STRONG_PASSWORD}),
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
    [role] = body["roles"]
    assert role["name"] == "user" and body["roleId"] == role["id"] and body["isActive"] is True
    assert body["emailVerified"] is True and body["twoFactorEnabled"] is False
    assert body["givenName"] is None and body["address"] is None and body["birthdate"] is None


def test_patch_changes_only_the_fields_sent(account):
    """A PATCH sets the given fields, keeps the others; null clears; an empty avatar restores the default."""
    first = account.send("PATCH", "/api/v1/me", json={
        "fullname": "  Ada King  ", "givenName": "Ada", "familyName": "King", "phone": "+44 20 7946 0958",
        "birthdate": "1985-12-10", "avatar": "https://pictures.example.com/ada.png",
        "address": {"street_address": "12 St James's Square", "locality": "London", "country": "UK",
                    "region": ""}})
    assert first.status_code == 200, first.get_json()
    body = first.get_json()
    assert body["fullname"] == "Ada King" and body["givenName"] == "Ada" and body["familyName"] == "King"
    assert body["phone"] == "+44 20 7946 0958" and body["birthdate"] == "1985-12-10"
    assert body["avatar"] == "https://pictures.example.com/ada.png"
    assert body["address"] == {"street_address": "12 St James's Square", "locality": "London", "country": "UK"}
    second = account.send("PATCH", "/api/v1/me", json={"familyName": None, "avatar": ""}).get_json()
    assert second["familyName"] is None and second["givenName"] == "Ada" and second["birthdate"] == "1985-12-10"
    assert second["avatar"] == accounts.gravatar_url(second["email"])
    assert account.get("/api/v1/me").get_json() == second


def test_profile_reaches_the_oidc_claims(app, account, application):
    """What the account page saves is what userinfo releases to an application."""
    account.send("PATCH", "/api/v1/me", json={"givenName": "Ada", "birthdate": "1985-12-10",
                                              "address": {"locality": "London"}})
    tokens = grant_tokens(account.http, application, scope="openid profile address")
    claims = account.http.get("/oauth/userinfo", headers=bearer(tokens["access_token"])).get_json()
    assert claims["given_name"] == "Ada" and claims["birthdate"] == "1985-12-10"
    assert claims["address"] == {"locality": "London"}


TOO_LONG = "String should have at most {} characters"
NOT_TEXT = "Input should be a valid string"
UNKNOWN = "Extra inputs are not permitted"


@pytest.mark.parametrize("changes, status, errors", [
    ({"birthdate": "1990-02-30"}, 400, {"birthdate": ["Enter a date as YYYY-MM-DD."]}),
    ({"birthdate": "10/12/1815"}, 400, {"birthdate": ["Enter a date as YYYY-MM-DD."]}),
    ({"birthdate": "2999-01-01"}, 400, {"birthdate": ["Enter a date between 1900-01-01 and today."]}),
    ({"birthdate": 19901231}, 422, {"birthdate": [NOT_TEXT]}),
    ({"fullname": "x" * 201}, 422, {"fullname": [TOO_LONG.format(200)]}),
    ({"fullname": "   "}, 400, {"fullname": ["This field is required."]}),
    ({"givenName": "x" * 101, "familyName": "y" * 101}, 422,
     {"givenName": [TOO_LONG.format(100)], "familyName": [TOO_LONG.format(100)]}),
    ({"givenName": "Ada\x07"}, 400, {"givenName": ["Use printable characters only."]}),
    ({"givenName": 7}, 422, {"givenName": [NOT_TEXT]}),
    ({"phone": "call me maybe"}, 400, {"phone": ["Enter a phone number such as +44 20 7946 0958."]}),
    ({"phone": "+1 2"}, 400, {"phone": ["Enter a phone number such as +44 20 7946 0958."]}),
    ({"avatar": "http://pictures.example.com/a.png"}, 400, {"avatar": ["Enter an https:// address of a picture."]}),
    ({"avatar": "javascript:alert(1)"}, 400, {"avatar": ["Enter an https:// address of a picture."]}),
    ({"avatar": "https://" + "a" * 500 + ".example"}, 422, {"avatar": [TOO_LONG.format(500)]}),
    ({"address": "London"}, 422, {"address": ["Input should be a valid dictionary or instance of Address"]}),
    ({"address": {"planet": "Earth", "postal_code": "x" * 21}}, 422,
     {"address.planet": [UNKNOWN], "address.postal_code": [TOO_LONG.format(20)]}),
    ({"address": {"locality": "Lon\x07don"}}, 400, {"address.locality": ["Use printable characters only."]}),
    ({"email": "mallory@example.com"}, 422, {"email": [UNKNOWN]}),
    ({"given_name": "Ada", "givenName": "Ada"}, 422, {"given_name": [UNKNOWN]}),
    ({"fullname": "Ada King", "birthdate": "yesterday"}, 400, {"birthdate": ["Enter a date as YYYY-MM-DD."]}),
], ids=["impossible-date", "not-iso", "future", "number", "long-fullname", "blank-fullname", "long-names",
        "nul-character", "not-text", "phone-letters", "phone-too-short", "avatar-http", "avatar-javascript",
        "avatar-too-long", "address-not-object", "address-members", "address-control", "email-not-here",
        "both-spellings", "one-bad-field"])
def test_invalid_profile_is_refused_with_messages_and_changes_nothing(account, changes, status, errors):
    """Every invalid field is named (camelCase) with its message; not even the valid fields are saved. The
    declared model refuses types, sizes and unknown fields (422); the profile's rules the rest (400)."""
    before = account.get("/api/v1/me").get_json()
    response = account.send("PATCH", "/api/v1/me", json=changes)
    body = assert_problem(response, status, errors)
    if status == 400:
        assert body["title"] == "Bad Request" and body["detail"] == "Some fields are not valid."
    else:
        assert body["title"] == "Unprocessable Content" and body["detail"] == "Some fields are missing or invalid."
    assert account.get("/api/v1/me").get_json() == before


# --- password ----------------------------------------------------------------------------------------

def test_password_change_ends_the_other_sessions_and_mails_a_notice(app, user, mailbox):
    """200 with the count; this session lives on, the other ends; the new password signs in; a notice."""
    browser = Browser(app, user)
    other = Browser(app, user)
    response = browser.send("POST", "/api/v1/me/password",
                            json={"currentPassword": user.password, "newPassword": STRONG_PASSWORD})
    assert response.status_code == 200 and response.get_json() == {"sessionsEnded": 1}
    assert browser.get("/currentuser").status_code == 200
    assert other.get("/currentuser").status_code == 401
    assert [message["Subject"] for message in mailbox.to(user.email)] == ["Your password was changed"]
    fresh = app.test_client()
    assert AuthActions(fresh).login(user.email, user.password).status_code == 400
    assert AuthActions(fresh).login(user.email, STRONG_PASSWORD).status_code == 303


def test_password_change_with_a_wrong_current_password_is_403(app, account, user, mailbox):
    """403 naming current_password; the old password still works and nothing is mailed."""
    response = account.send("POST", "/api/v1/me/password",
                            json={"currentPassword": "not the password", "newPassword": STRONG_PASSWORD})
    body = assert_problem(response, 403, {"currentPassword": [WRONG_PASSWORD]})
    assert body["title"] == "Forbidden"
    assert AuthActions(app.test_client()).login(user.email, user.password).status_code == 303
    assert mailbox.messages == []


def test_a_weak_new_password_is_400_with_the_policy_reasons(app, account, user):
    """The policy's reasons come back under errors.new_password; the password stays."""
    response = account.send("POST", "/api/v1/me/password",
                            json={"currentPassword": user.password, "newPassword": "password1"})
    body = assert_problem(response, 400)
    reasons = body["errors"]["newPassword"]
    assert reasons[0] == "This password is too easy to guess." and len(reasons) >= 2
    short = account.send("POST", "/api/v1/me/password", json={"currentPassword": user.password,
                                                              "newPassword": "short"})
    assert_problem(short, 400, {"newPassword": ["Use at least 8 characters."]})
    assert AuthActions(app.test_client()).login(user.email, user.password).status_code == 303


def test_password_change_needs_both_fields(account):
    """Missing members are named, each one."""
    response = account.send("POST", "/api/v1/me/password", json={"newPassword": STRONG_PASSWORD})
    assert_problem(response, 422, {"currentPassword": ["Field required"]})
    response = account.send("POST", "/api/v1/me/password", json={})
    assert_problem(response, 422, {"currentPassword": ["Field required"], "newPassword": ["Field required"]})


# --- email address -----------------------------------------------------------------------------------

def test_email_change_is_confirmed_by_the_code_sent_to_the_new_address(app, account, user, mailbox):
    """202; the old address stays and is told; the new address's code switches the account to it."""
    response = account.send("POST", "/api/v1/me/email", json={"email": "Ada.New@Example.com",
                                                              "password": user.password})
    assert response.status_code == 202
    assert response.get_json() == {"email": user.email, "pendingEmail": "ada.new@example.com"}
    notice = mailbox.to(user.email)[-1]
    assert notice["Subject"] == "A new email address was requested for your account"
    assert "ada.new@example.com" in notice.get_body(preferencelist=("plain",)).get_content()
    assert account.get("/api/v1/me").get_json()["email"] == user.email
    code = mailbox.last_code("ada.new@example.com")
    confirmed = account.send("POST", "/api/v1/me/email/confirm", json={"code": code})
    assert confirmed.status_code == 200
    body = confirmed.get_json()
    assert body["email"] == "ada.new@example.com" and body["emailVerified"] is True
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


@pytest.mark.parametrize("email, status, message", [
    ("not an address", 400, "An email address must have an @-sign."),
    ("SAME", 400, "This is already your email address."),
    ("", 422, "String should have at least 1 character"),
    ("x" * 250 + "@example.com", 422, "String should have at most 254 characters"),
], ids=["malformed", "same", "empty", "too-long"])
def test_email_change_to_an_unusable_address_is_refused(account, user, mailbox, email, status, message):
    """A malformed, empty or too long address, or the current one, is named under errors.email."""
    email = user.email.upper() if email == "SAME" else email
    response = account.send("POST", "/api/v1/me/email", json={"email": email, "password": user.password})
    assert_problem(response, status, {"email": [message]})
    assert mailbox.messages == []


def test_email_change_to_a_taken_address_answers_the_same_and_never_confirms(account, user, make_user, mailbox):
    """Same 202 and notice as for a free address, but no code reaches the other account's address."""
    taken = make_user(email="taken@example.com")
    response = account.send("POST", "/api/v1/me/email", json={"email": taken.email, "password": user.password})
    assert response.status_code == 202
    assert response.get_json() == {"email": user.email, "pendingEmail": taken.email}
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
    assert response.status_code == 200 and response.get_json() == {"twoFactorEnabled": True}
    signing_in = AuthActions(app.test_client()).login(user.email, user.password)
    assert signing_in.status_code == 303 and signing_in.headers["Location"] == "/login/2fa"
    assert_problem(account.send("PUT", "/api/v1/me/2fa", json={"enabled": False}), 403,
                   {"password": [WRONG_PASSWORD]})
    assert_problem(account.send("PUT", "/api/v1/me/2fa", json={"enabled": False, "password": "wrong one"}), 403,
                   {"password": [WRONG_PASSWORD]})
    assert account.get("/api/v1/me").get_json()["twoFactorEnabled"] is True
    off = account.send("PUT", "/api/v1/me/2fa", json={"enabled": False, "password": user.password})
    assert off.status_code == 200 and off.get_json() == {"twoFactorEnabled": False}
    assert AuthActions(app.test_client()).login(user.email, user.password).headers["Location"] == "/account"


def test_two_factor_needs_a_boolean(account):
    """"yes" is not a boolean."""
    for sent in ("yes", "true", 1, None):
        assert_problem(account.send("PUT", "/api/v1/me/2fa", json={"enabled": sent}), 422,
                       {"enabled": ["Input should be a valid boolean"]})
    assert account.get("/api/v1/me").get_json()["twoFactorEnabled"] is False


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
    assert listed[1]["device"] == "Firefox on Linux" and listed[1]["userAgent"] == FIREFOX
    assert listed[1]["ipAddress"] == "127.0.0.1" and listed[1]["amr"] == ["pwd"]


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
    assert response.status_code == 200 and response.get_json() == {"sessionsEnded": 2}
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
    assert logins[0]["method"] == "password" and logins[0]["ipAddress"] == "127.0.0.1"
    assert [entry["userAgent"] for entry in logins[1:]] == [f"agent/{index}" for index in range(54, 5, -1)]
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
    assert_problem(account.send("DELETE", "/api/v1/me", json={}), 422, {"password": ["Field required"]})


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
    changed = api.patch("/api/v1/me", json={"givenName": "Ada"}, headers=headers)
    assert changed.status_code == 200 and changed.get_json()["givenName"] == "Ada"
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
                        json={"currentPassword": user.password, "newPassword": STRONG_PASSWORD})
    assert response.status_code == 200 and response.get_json() == {"sessionsEnded": 1}
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
