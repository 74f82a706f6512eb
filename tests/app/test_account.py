"""The account pages: /account and its sections, through the test client with CSRF tokens."""

import html
import re
import uuid

import pytest

from ..helpers import ACCOUNT_CLIENT_SCOPE
from ..helpers import ACCOUNT_SCOPES
from ..helpers import FIREFOX
from ..helpers import STRONG_PASSWORD
from ..helpers import AuthActions
from ..helpers import csrf_token
from ..helpers import grant_tokens
from ..helpers import refresh

WRONG_PASSWORD = "The password is not right."
SECTIONS = ["/account/profile", "/account/password", "/account/email", "/account/email/confirm", "/account/2fa",
            "/account/applications", "/account/sessions", "/account/history", "/account/delete"]


def post_form(client, page_path, action, **fields):
    """Submit a page's form the way a browser does: the page's CSRF token plus the fields."""
    token = csrf_token(client.get(page_path).text)
    return client.post(action, data={"csrf_token": token, **fields})


def me(client) -> dict:
    return client.get("/api/v1/me").get_json()


def field_errors(page: str, field_id: str) -> list[str]:
    """The messages the _forms.html macro lists under one field."""
    block = re.search(rf'<ul class="field-errors" id="{field_id}-errors">(.*?)</ul>', page, re.S)
    return [html.unescape(item) for item in re.findall(r"<li>(.*?)</li>", block.group(1))] if block else []


def notices(page: str) -> list[str]:
    return [html.unescape(text) for text in re.findall(r'<p class="notice notice-\w+" role="\w+">(.*?)</p>', page)]


# --- overview and access ---------------------------------------------------------------------------

def test_overview_shows_the_account_and_links_every_section(signed_in, user):
    """The email in #account-email, a link to each section, and the Sign out form."""
    page = signed_in.get("/account")
    assert page.status_code == 200
    assert f'<dd id="account-email">{user.email}</dd>' in page.text
    for path in SECTIONS:
        if path != "/account/email/confirm":
            assert f'href="{path}"' in page.text
    assert 'action="/logout"' in page.text and ">Sign out</button>" in page.text


@pytest.mark.parametrize("path", SECTIONS)
def test_every_section_needs_a_session(client, path):
    """Signed out, each section sends the browser to the login page and back."""
    response = client.get(path)
    assert response.status_code == 302 and response.headers["Location"] == f"/login?next={path}"


@pytest.mark.parametrize("path", ["/account", *SECTIONS])
def test_every_section_renders_without_inline_script_or_style(signed_in, path):
    """CSP allows no inline script or style: none on any section; each form has its CSRF token."""
    page = signed_in.get(path)
    assert page.status_code == 200
    assert "<script" not in page.text and "style=" not in page.text
    assert page.text.count('name="csrf_token"') == page.text.count("<form")


def test_a_form_without_the_csrf_token_is_refused(signed_in, user):
    """A cross-site POST (no token) is 400 and changes nothing."""
    response = signed_in.post("/account/profile", data={"fullname": "Mallory"})
    assert response.status_code == 400
    assert me(signed_in)["fullname"] == "Ada Lovelace"


# --- profile ---------------------------------------------------------------------------------------

def test_profile_page_saves_every_field(signed_in):
    """The form's values are saved and shown on the overview."""
    response = post_form(signed_in, "/account/profile", "/account/profile", fullname="Ada King",
                         given_name="Ada", family_name="King", phone="+44 20 7946 0958", birthdate="1985-12-10",
                         avatar="https://pictures.example.com/ada.png", street_address="12 St James's Square",
                         locality="London", region="", postal_code="SW1Y 4JH", country="UK")
    assert response.status_code == 303 and response.headers["Location"] == "/account"
    body = me(signed_in)
    assert (body["fullname"], body["givenName"], body["familyName"], body["phone"], body["birthdate"]) == \
        ("Ada King", "Ada", "King", "+44 20 7946 0958", "1985-12-10")
    assert body["avatar"] == "https://pictures.example.com/ada.png"
    assert body["address"] == {"street_address": "12 St James's Square", "locality": "London",
                               "postal_code": "SW1Y 4JH", "country": "UK"}
    overview = signed_in.get("/account")
    assert notices(overview.text) == ["Your profile was saved."]
    assert "Ada King" in overview.text and 'src="https://pictures.example.com/ada.png"' in overview.text
    form = signed_in.get("/account/profile").text
    assert 'name="locality" type="text" value="London"' in form


def test_profile_page_keeps_address_members_it_does_not_show(signed_in):
    """Saving the name does not drop an address "formatted" member set through the API."""
    token = csrf_token(signed_in.get("/logout").text)
    signed_in.patch("/api/v1/me", json={"address": {"formatted": "12 St James's Square, London",
                                                    "locality": "London"}}, headers={"X-CSRFToken": token})
    response = post_form(signed_in, "/account/profile", "/account/profile", fullname="Ada King", locality="London")
    assert response.status_code == 303
    assert me(signed_in)["address"] == {"formatted": "12 St James's Square, London", "locality": "London"}


def test_profile_page_shows_errors_and_changes_nothing(signed_in):
    """Bad birthdate, too long names, a bad phone: 400, each message under its field, nothing saved."""
    before = me(signed_in)
    response = post_form(signed_in, "/account/profile", "/account/profile", fullname="x" * 201,
                         given_name="Ada", birthdate="1990-02-30", phone="call me", locality="y" * 101)
    assert response.status_code == 400
    assert field_errors(response.text, "fullname") == ["Use at most 200 characters."]
    assert field_errors(response.text, "birthdate") == ["Enter a date as YYYY-MM-DD."]
    assert field_errors(response.text, "phone") == ["Enter a phone number such as +44 20 7946 0958."]
    assert field_errors(response.text, "locality") == ["Use at most 100 characters."]
    assert field_errors(response.text, "given_name") == []
    assert 'aria-invalid="true"' in response.text
    assert me(signed_in) == before


def test_profile_page_needs_a_full_name(signed_in):
    """An empty full name is refused."""
    response = post_form(signed_in, "/account/profile", "/account/profile", fullname="  ")
    assert response.status_code == 400
    assert field_errors(response.text, "fullname") == ["This field is required."]


# --- password --------------------------------------------------------------------------------------

def test_password_change_ends_other_sessions_and_mails_a_notice(app, signed_in, user, mailbox):
    """This browser stays signed in, the other is signed out; the new password works; a notice is mailed."""
    other = app.test_client()
    AuthActions(other).login(user.email, user.password)
    response = post_form(signed_in, "/account/password", "/account/password", current_password=user.password,
                         new_password=STRONG_PASSWORD)
    assert response.status_code == 303 and response.headers["Location"] == "/account"
    assert notices(signed_in.get("/account").text) == [
        "Your password was changed. Other sessions signed out: 1."]
    assert other.get("/currentuser").status_code == 401
    assert signed_in.get("/currentuser").status_code == 200
    assert [message["Subject"] for message in mailbox.to(user.email)] == ["Your password was changed"]
    assert AuthActions(app.test_client()).login(user.email, STRONG_PASSWORD).status_code == 303


def test_password_change_with_a_wrong_current_password_is_refused(app, signed_in, user, mailbox):
    """400 with the message under the current password; the old password still signs in."""
    other = app.test_client()
    AuthActions(other).login(user.email, user.password)
    response = post_form(signed_in, "/account/password", "/account/password", current_password="not mine",
                         new_password=STRONG_PASSWORD)
    assert response.status_code == 400
    assert field_errors(response.text, "current_password") == [WRONG_PASSWORD]
    assert other.get("/currentuser").status_code == 200
    assert mailbox.messages == []
    assert AuthActions(app.test_client()).login(user.email, user.password).status_code == 303


def test_weak_new_password_shows_the_policy_reasons(app, signed_in, user):
    """The policy's reasons are listed under the new password; nothing changes."""
    response = post_form(signed_in, "/account/password", "/account/password", current_password=user.password,
                         new_password="password1")
    assert response.status_code == 400
    reasons = field_errors(response.text, "new_password")
    assert reasons[0] == "This password is too easy to guess." and len(reasons) >= 2
    assert AuthActions(app.test_client()).login(user.email, user.password).status_code == 303


# --- email address ---------------------------------------------------------------------------------

def test_email_change_confirmed_by_the_code_sent_to_the_new_address(app, signed_in, user, mailbox):
    """The old address stays until the code from the new one comes back; the old one is told."""
    response = post_form(signed_in, "/account/email", "/account/email", email="ada.new@example.com",
                         password=user.password)
    assert response.status_code == 303 and response.headers["Location"] == "/account/email/confirm"
    confirm_page = signed_in.get("/account/email/confirm")
    assert notices(confirm_page.text) == [
        "We sent a code to ada.new@example.com. Enter it below to confirm the new address; until then your "
        "account keeps its current address."]
    assert "Enter the code we sent to <strong>ada.new@example.com</strong>" in confirm_page.text
    overview = signed_in.get("/account").text
    assert f'<dd id="account-email">{user.email}</dd>' in overview and "ada.new@example.com" in overview
    notice = mailbox.to(user.email)[-1]
    assert "ada.new@example.com" in notice.get_body(preferencelist=("plain",)).get_content()
    response = post_form(signed_in, "/account/email/confirm", "/account/email/confirm",
                         code=mailbox.last_code("ada.new@example.com"))
    assert response.status_code == 303 and response.headers["Location"] == "/account"
    overview = signed_in.get("/account").text
    assert '<dd id="account-email">ada.new@example.com</dd>' in overview
    assert notices(overview) == ["Your email address is now ada.new@example.com."]
    assert AuthActions(app.test_client()).login("ada.new@example.com", user.password).status_code == 303


def test_email_change_with_a_wrong_code_keeps_the_old_address(signed_in, user, mailbox):
    """400 with the message under the code field; the address is unchanged."""
    post_form(signed_in, "/account/email", "/account/email", email="new@example.com", password=user.password)
    code = mailbox.last_code("new@example.com")
    response = post_form(signed_in, "/account/email/confirm", "/account/email/confirm",
                         code="000000" if code != "000000" else "111111")
    assert response.status_code == 400
    assert field_errors(response.text, "code") == ["That code is not right. Check the latest message and try again."]
    assert me(signed_in)["email"] == user.email


def test_email_change_with_a_wrong_password_sends_nothing(signed_in, user, mailbox):
    """400 with the message under the password; no code, no notice."""
    response = post_form(signed_in, "/account/email", "/account/email", email="new@example.com", password="nope")
    assert response.status_code == 400
    assert field_errors(response.text, "password") == [WRONG_PASSWORD]
    assert mailbox.messages == []


def test_email_change_to_a_taken_address_looks_the_same_and_never_confirms(signed_in, user, make_user, mailbox):
    """Same redirect and message as for a free address; the other account's owner gets nothing."""
    taken = make_user(email="taken@example.com")
    response = post_form(signed_in, "/account/email", "/account/email", email=taken.email, password=user.password)
    assert response.status_code == 303 and response.headers["Location"] == "/account/email/confirm"
    assert notices(signed_in.get("/account/email/confirm").text) == [
        "We sent a code to taken@example.com. Enter it below to confirm the new address; until then your "
        "account keeps its current address."]
    assert mailbox.to(taken.email) == []
    response = post_form(signed_in, "/account/email/confirm", "/account/email/confirm", code="123456")
    assert response.status_code == 400
    assert me(signed_in)["email"] == user.email


# --- two-factor authentication -----------------------------------------------------------------------

def test_two_factor_on_and_off(app, signed_in, user):
    """On with one click; off only with the right password."""
    response = post_form(signed_in, "/account/2fa", "/account/2fa", enabled="on")
    assert response.status_code == 303
    page = signed_in.get("/account/2fa").text
    assert notices(page) == ["Two-step sign-in is on: each sign-in now needs a code we email you."]
    assert 'id="two-factor-state">On:' in page
    assert AuthActions(app.test_client()).login(user.email, user.password).headers["Location"] == "/login/2fa"
    refused = post_form(signed_in, "/account/2fa", "/account/2fa", enabled="off", password="not it")
    assert refused.status_code == 400
    assert field_errors(refused.text, "password") == [WRONG_PASSWORD]
    assert me(signed_in)["twoFactorEnabled"] is True
    response = post_form(signed_in, "/account/2fa", "/account/2fa", enabled="off", password=user.password)
    assert response.status_code == 303
    assert me(signed_in)["twoFactorEnabled"] is False


def test_two_factor_needs_on_or_off(signed_in):
    """Any other value is a 400 and no change."""
    assert post_form(signed_in, "/account/2fa", "/account/2fa", enabled="maybe").status_code == 400
    assert me(signed_in)["twoFactorEnabled"] is False


# --- sessions and history ----------------------------------------------------------------------------

def session_id(client) -> str:
    return client.get("/currentuser").get_json()["session"]["id"]


def test_sessions_page_lists_device_and_ip_and_marks_this_one(app, signed_in, user):
    """Each live session with its device and IP; "(this session)" once, with no End button."""
    other = app.test_client()
    AuthActions(other).login(user.email, user.password, **{"User-Agent": FIREFOX})
    page = signed_in.get("/account/sessions").text
    assert page.count('class="item"') == 2
    assert page.count("(this session)") == 1
    assert "Firefox on Linux" in page and "127.0.0.1" in page
    assert f'action="/account/sessions/{session_id(other)}/end"' in page
    assert f'action="/account/sessions/{session_id(signed_in)}/end"' not in page


def test_ending_another_session_from_the_page(app, signed_in, user):
    """The other browser is signed out; this one is not."""
    other = app.test_client()
    AuthActions(other).login(user.email, user.password)
    response = post_form(signed_in, "/account/sessions", f"/account/sessions/{session_id(other)}/end")
    assert response.status_code == 303 and response.headers["Location"] == "/account/sessions"
    assert other.get("/currentuser").status_code == 401
    assert signed_in.get("/currentuser").status_code == 200


def test_ending_another_users_session_is_404(app, signed_in, make_user):
    """A session id of someone else (or none at all) is 404 and ends nothing."""
    stranger_user = make_user()
    stranger = app.test_client()
    AuthActions(stranger).login(stranger_user.email, stranger_user.password)
    for target in (session_id(stranger), str(uuid.uuid4())):
        response = post_form(signed_in, "/logout", f"/account/sessions/{target}/end")
        assert response.status_code == 404
        assert notices(response.text) == ["That session has already ended."]
    assert stranger.get("/currentuser").status_code == 200


def test_signing_out_every_other_session(app, signed_in, user):
    """Every other session of the user ends; this one stays."""
    others = [app.test_client(), app.test_client()]
    for other in others:
        AuthActions(other).login(user.email, user.password)
    response = post_form(signed_in, "/account/sessions", "/account/sessions/end-others")
    assert response.status_code == 303
    assert notices(signed_in.get("/account/sessions").text) == ["Other sessions signed out: 2."]
    assert [other.get("/currentuser").status_code for other in others] == [401, 401]
    assert signed_in.get("/currentuser").status_code == 200


def test_history_page_shows_the_last_50_attempts_newest_first(make_app, make_user, clock):
    """55 failed attempts and a sign-in: 50 entries, the sign-in first."""
    app = make_app(LOGIN_RATE_LIMIT_IP="1000 per minute", LOGIN_RATE_LIMIT_ACCOUNT="1000 per minute")
    user = make_user()
    client = app.test_client()
    token = csrf_token(client.get("/login").text)
    for index in range(55):
        clock.shift(1)
        client.post("/login", data={"csrf_token": token, "email": user.email, "password": f"wrong {index}"})
    clock.shift(1)
    AuthActions(client).login(user.email, user.password, **{"User-Agent": FIREFOX})
    page = client.get("/account/history").text
    outcomes = re.findall(r'<li class="item login-(\w+)">', page)
    assert outcomes == ["success"] + ["bad_password"] * 49
    times = re.findall(r'<time datetime="([^"]+)">', page)
    assert times == sorted(times, reverse=True) and times[0] == "2026-03-01T09:00:56+00:00"
    assert "Firefox on Linux" in page


# --- connected applications ----------------------------------------------------------------------------

def test_applications_page_lists_grants_and_revokes_one(app, signed_in, make_client):
    """Each granted application with its scopes; Revoke stops its tokens and leaves the others."""
    application = make_client(name="Example App", scope=ACCOUNT_CLIENT_SCOPE)
    other = make_client(name="Other App", scope=ACCOUNT_CLIENT_SCOPE)
    tokens = grant_tokens(signed_in, application, scope="openid email")
    others = grant_tokens(signed_in, other, scope=ACCOUNT_SCOPES)
    page = signed_in.get("/account/applications").text
    assert "Example App" in page and "Other App" in page and 'data-scope="email"' in page
    response = post_form(signed_in, "/account/applications",
                         f"/account/applications/{application.client_id}/revoke")
    assert response.status_code == 303 and response.headers["Location"] == "/account/applications"
    page = signed_in.get("/account/applications").text
    assert notices(page) == ["Access withdrawn: the application can no longer use your account."]
    assert "Example App" not in page and "Other App" in page
    again = refresh(app.test_client(), application, tokens["refresh_token"])
    assert again.status_code == 400 and again.get_json()["error"] == "invalid_grant"
    assert refresh(app.test_client(), other, others["refresh_token"]).status_code == 200


def test_revoking_needs_the_csrf_token_and_a_grant(app, signed_in, make_client):
    """Without the token: 400 and the grant stays; an application never granted: 404."""
    application = make_client(scope=ACCOUNT_CLIENT_SCOPE)
    never = make_client(name="Never Used", scope=ACCOUNT_CLIENT_SCOPE)
    grant_tokens(signed_in, application, scope=ACCOUNT_SCOPES)
    response = signed_in.post(f"/account/applications/{application.client_id}/revoke")
    assert response.status_code == 400
    assert len(signed_in.get("/api/v1/me/applications").get_json()["applications"]) == 1
    response = post_form(signed_in, "/account/applications", f"/account/applications/{never.client_id}/revoke")
    assert response.status_code == 404
    assert notices(response.text) == ["This application has no access to withdraw."]


def test_applications_page_says_when_there_are_none(signed_in):
    """No grant yet: a sentence, no form."""
    page = signed_in.get("/account/applications").text
    assert "No application has access to your account." in page and "/revoke" not in page


# --- deletion ----------------------------------------------------------------------------------------

def test_deleting_with_a_wrong_password_is_refused(app, signed_in, user):
    """400 with the message under the password; the account lives on."""
    response = post_form(signed_in, "/account/delete", "/account/delete", password="not it")
    assert response.status_code == 400
    assert field_errors(response.text, "password") == [WRONG_PASSWORD]
    assert signed_in.get("/currentuser").status_code == 200
    assert AuthActions(app.test_client()).login(user.email, user.password).status_code == 303


def test_deleting_signs_out_and_the_account_cannot_sign_in(app, signed_in, user, make_client):
    """The browser is signed out (cookie cleared), other sessions end, tokens die, sign-in fails."""
    other = app.test_client()
    AuthActions(other).login(user.email, user.password)
    application = make_client(skip_consent=True, scope=ACCOUNT_CLIENT_SCOPE)
    tokens = grant_tokens(other, application, scope=ACCOUNT_SCOPES)
    response = post_form(signed_in, "/account/delete", "/account/delete", password=user.password)
    assert response.status_code == 303 and response.headers["Location"] == "/login"
    assert signed_in.get_cookie("idp_session") is None
    assert notices(signed_in.get("/login").text) == ["Your account was deleted and you have been signed out."]
    assert other.get("/currentuser").status_code == 401
    again = refresh(app.test_client(), application, tokens["refresh_token"])
    assert again.status_code == 400 and again.get_json()["error"] == "invalid_grant"
    refused = AuthActions(app.test_client()).login(user.email, user.password)
    assert refused.status_code == 400 and "Incorrect email address or password." in refused.text


def test_wrong_passwords_are_limited_per_account_across_pages_and_api(make_app, make_user):
    """LOGIN_RATE_LIMIT_ACCOUNT wrong passwords, on any of these forms, the API or the sign-in form:
    then 429 everywhere for that account, even with the right password."""
    app = make_app(LOGIN_RATE_LIMIT_ACCOUNT="2 per 15 minutes")
    user = make_user()
    client = app.test_client()
    AuthActions(client).login(user.email, user.password)
    assert post_form(client, "/account/delete", "/account/delete", password="guess").status_code == 400
    token = csrf_token(client.get("/logout").text)
    api = client.put("/api/v1/me/2fa", json={"enabled": False, "password": "guess"}, headers={"X-CSRFToken": token})
    assert api.status_code == 403
    response = post_form(client, "/account/password", "/account/password", current_password=user.password,
                         new_password=STRONG_PASSWORD)
    assert response.status_code == 429
    assert client.get("/currentuser").status_code == 200
    assert AuthActions(app.test_client()).login(user.email, user.password).status_code == 429
