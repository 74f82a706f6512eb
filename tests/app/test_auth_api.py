"""The account flows as JSON under /api/v1/auth: register, verify, sign in, 2FA, reset, renew, logout."""

import json
import re

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import LoginAttempt
from app.models import User
from app.services import accounts
from app.services import second_factor

from ..helpers import csrf_token

API = "/api/v1/auth"
PASSWORD = "correct horse battery staple"
NEW_PASSWORD = "violet tractor moonlight sandwich"
PROBLEM = "application/problem+json"
BAD_CREDENTIALS = "Incorrect email address or password."
WRONG_CODE = "That code is not right. Check the latest message and try again."
# Verification and reset name the account by an address: one refusal for every way a code fails.
BY_ADDRESS_REFUSAL = "That code is not right or has expired. Check the latest message, or ask for a new code."
VERIFY_SUBJECT = "Confirm your email address"


def post(client, path, body):
    return client.post(API + path, json=body)


def register(client, email, password=PASSWORD, **extra):
    return post(client, "/register", {"email": email, "fullname": "Grace Hopper", "password": password, **extra})


def session_token(response) -> str:
    """The idp_session cookie a response sets (exactly one)."""
    cookies = [value for value in response.headers.getlist("Set-Cookie") if value.startswith("idp_session=")]
    assert len(cookies) == 1, response.headers
    return cookies[0].split(";")[0].split("=", 1)[1]


def sets_no_session(response) -> bool:
    return not any(value.startswith("idp_session=") for value in response.headers.getlist("Set-Cookie"))


def current_user(app, token):
    """/currentuser as a client that holds nothing but this session cookie."""
    return app.test_client(use_cookies=False).get("/currentuser", headers={"Cookie": f"idp_session={token}"})


def problem_body(status, title, detail):
    return {"type": "about:blank", "title": title, "status": status, "detail": detail}


def other_code(code: str) -> str:
    return f"{(int(code) + 1) % 10 ** 6:06d}"


def neutral_headers(response) -> list:
    return [(name, value) for name, value in response.headers.items() if name not in ("Date", "Set-Cookie")]


def history(app):
    with app.app_context():
        rows = db.session.scalars(select(LoginAttempt).order_by(LoginAttempt.time, LoginAttempt.created_at))
        return [(row.method, row.outcome) for row in rows]


def stored_user(app, email):
    with app.app_context():
        found = accounts.find_by_email(email)
        return None if found is None else (found.role_names, found.email_verified)


def test_register_verify_and_use_the_session(app, client, mailbox):
    """Register -> code by mail -> verify opens a session whose cookie /currentuser accepts."""
    response = register(client, "Grace.Hopper@Example.com", phone="+15555550100",
                        address={"locality": "Arlington", "country": "US"})
    assert response.status_code == 202
    assert response.get_json() == {"status": "verification_sent", "email": "grace.hopper@example.com"}
    assert sets_no_session(response)
    [message] = mailbox.messages
    assert (message["To"], message["Subject"]) == ("grace.hopper@example.com", VERIFY_SUBJECT)
    code = mailbox.last_code("grace.hopper@example.com")
    assert client.get("/currentuser").status_code == 401

    verified = post(client, "/verify", {"email": "grace.hopper@example.com", "code": code})
    assert verified.status_code == 200
    body = verified.get_json()
    assert set(body) == {"user", "session"}
    assert set(body["session"]) == {"id", "expiresAt"}
    assert body["session"]["expiresAt"].endswith("Z")
    assert body["user"]["email"] == "grace.hopper@example.com"
    me = current_user(app, session_token(verified))
    assert me.status_code == 200
    assert me.get_json()["id"] == body["user"]["id"]
    assert me.get_json()["session"]["id"] == body["session"]["id"]
    assert (me.get_json()["email"], me.get_json()["fullname"]) == ("grace.hopper@example.com", "Grace Hopper")
    assert ([role["name"] for role in me.get_json()["roles"]], me.get_json()["emailVerified"]) == (["user"], True)
    assert history(app) == [("email_verification", "success")]


def test_new_account_gets_only_the_user_role_whatever_the_body_says(app, client, mailbox):
    """roles and emailVerified in the request body are refused (422 naming them, nothing created); without
    them: role user, unverified until the code."""
    email = "mallory@example.com"
    for extra in ({"roles": ["admin"], "emailVerified": True}, {"role_id": "admin", "email_verified": True}):
        refused = register(client, email, **extra)
        assert refused.status_code == 422 and refused.headers["Content-Type"] == PROBLEM
        assert set(refused.get_json()["errors"]) == set(extra)
        assert stored_user(app, email) is None and mailbox.messages == []
    response = register(client, email)
    assert response.status_code == 202
    assert stored_user(app, email) == (["user"], False)

    code = mailbox.last_code(email)
    verified = post(client, "/verify", {"email": email, "code": code})
    assert verified.status_code == 200
    me = current_user(app, session_token(verified)).get_json()
    assert ([role["name"] for role in me["roles"]], me["emailVerified"]) == (["user"], True)


def test_registering_a_taken_address_answers_like_a_new_one(app, client, make_user, mailbox):
    """Same status, body and headers for a taken address; its owner gets a notice, not a code."""
    owner = make_user(email="taken.account@example.com")
    taken = register(client, owner.email, password="another quite different passphrase")  # not the owner's
    fresh = register(client, "fresh.account@example.com")

    assert taken.status_code == fresh.status_code == 202
    assert taken.get_json() == {"status": "verification_sent", "email": owner.email}
    assert fresh.get_json() == {"status": "verification_sent", "email": "fresh.account@example.com"}
    assert neutral_headers(taken) == neutral_headers(fresh)

    [notice] = mailbox.to(owner.email)
    assert notice["Subject"] == "Someone tried to register with your email address"
    text = notice.get_body(preferencelist=("plain",)).get_content()
    assert "already exists" in text
    assert re.search(r"\d{6}", text) is None
    assert [message["Subject"] for message in mailbox.to("fresh.account@example.com")] == [VERIFY_SUBJECT]
    # The account is untouched: its own password still signs in, the newcomer's does not.
    newcomer = "another quite different passphrase"
    assert post(client, "/login", {"email": owner.email, "password": owner.password}).status_code == 200
    assert post(app.test_client(), "/login", {"email": owner.email, "password": newcomer}).status_code == 401


def test_weak_password_is_refused_with_reasons(app, client, mailbox):
    """A password under the policy answers 400 with the reasons in "errors"; no account, no mail."""
    response = register(client, "weak@example.com", password="hunter2")
    assert response.status_code == 400
    assert response.headers["Content-Type"] == PROBLEM
    assert response.get_json() == {**problem_body(400, "Password Rejected", "Use at least 8 characters."),
                                   "errors": ["Use at least 8 characters."]}
    assert stored_user(app, "weak@example.com") is None
    assert mailbox.messages == []


def test_unverified_sign_in_is_refused_and_a_code_is_mailed(app, client, make_user, mailbox):
    """A right password on an unverified account: 403 email_not_verified, and the mailed code verifies it."""
    waiting = make_user(verified=False)
    response = post(client, "/login", {"email": waiting.email, "password": waiting.password})
    assert response.status_code == 403
    assert response.headers["Content-Type"] == PROBLEM
    assert response.get_json() == {
        **problem_body(403, "Forbidden", "Your email address is not verified yet. Verify it, then sign in."),
        "reason": "email_not_verified"}
    assert sets_no_session(response)
    assert [message["Subject"] for message in mailbox.to(waiting.email)] == [VERIFY_SUBJECT]

    verified = post(client, "/verify", {"email": waiting.email, "code": mailbox.last_code(waiting.email)})
    assert verified.status_code == 200
    assert post(app.test_client(), "/login", {"email": waiting.email, "password": waiting.password}).status_code == 200


def test_wrong_codes_are_rejected_and_five_burn_the_right_one(app, client, mailbox, clock):
    """Each wrong code is 400 Code Rejected; after five, the right code fails too until a new one is sent."""
    email = "guesser@example.com"
    register(client, email)
    code = mailbox.last_code(email)
    for _ in range(5):
        wrong = post(client, "/verify", {"email": email, "code": other_code(code)})
        assert wrong.status_code == 400
        assert wrong.headers["Content-Type"] == PROBLEM
        assert wrong.get_json() == problem_body(400, "Code Rejected", BY_ADDRESS_REFUSAL)

    right = post(client, "/verify", {"email": email, "code": code})
    assert right.status_code == 400
    assert right.get_json() == problem_body(400, "Code Rejected", BY_ADDRESS_REFUSAL)
    assert sets_no_session(right)
    assert stored_user(app, email) == (["user"], False)

    clock.shift(60)
    assert post(client, "/verify/resend", {"email": email}).status_code == 202
    fresh = mailbox.last_code(email)
    assert post(client, "/verify", {"email": email, "code": fresh}).status_code == 200


def test_resend_inside_the_window_waits_then_replaces_the_code(app, client, mailbox, clock):
    """A resend within 60 s is 429 with Retry-After; after it, a new code comes and the old one is dead."""
    email = "impatient@example.com"
    register(client, email)
    old = mailbox.last_code(email)

    clock.shift(30.5)
    early = post(client, "/verify/resend", {"email": email})
    assert early.status_code == 429
    assert early.headers["Content-Type"] == PROBLEM
    assert early.headers["Retry-After"] == "30"
    assert early.get_json() == problem_body(
        429, "Too Many Requests", "A code was sent moments ago. You can ask for another in 30 seconds.")
    assert len(mailbox.to(email)) == 1

    clock.shift(30.5)
    later = post(client, "/verify/resend", {"email": email})
    assert later.status_code == 202
    assert later.get_json() == {"status": "sent_if_waiting"}
    assert [message["Subject"] for message in mailbox.to(email)] == [VERIFY_SUBJECT, VERIFY_SUBJECT]
    new = mailbox.last_code(email)

    assert post(client, "/verify", {"email": email, "code": old}).get_json() == problem_body(
        400, "Code Rejected", BY_ADDRESS_REFUSAL)
    assert post(client, "/verify", {"email": email, "code": new}).status_code == 200


@pytest.mark.parametrize("email", ["nobody-here@example.com", "verified@example.com"],
                         ids=["unknown", "already-verified"])
def test_resend_for_an_address_with_nothing_to_verify_is_silent(client, make_user, mailbox, email):
    """Unknown and verified addresses get the same 202 as a waiting one, and no mail."""
    make_user(email="verified@example.com")
    response = post(client, "/verify/resend", {"email": email})
    assert response.status_code == 202
    assert response.get_json() == {"status": "sent_if_waiting"}
    assert mailbox.messages == []


@pytest.mark.parametrize("age, status", [(86399, 200), (86400, 400)], ids=["last-second", "expired"])
def test_verification_code_lives_one_day(client, mailbox, clock, age, status):
    """An email code works until 86400 s after it was sent, not at that instant."""
    email = "slow.reader@example.com"
    register(client, email)
    code = mailbox.last_code(email)
    clock.shift(age)
    response = post(client, "/verify", {"email": email, "code": code})
    assert response.status_code == status
    if status == 400:
        assert response.get_json() == problem_body(400, "Code Rejected", BY_ADDRESS_REFUSAL)


@pytest.mark.parametrize("setting", ["server", "user"], ids=["EMAIL_2FA_REQUIRED", "two_factor_enabled"])
def test_sign_in_with_the_emailed_second_factor(make_app, make_user, mailbox, setting):
    """Password -> 202 second_factor_required and a mailed code -> POST 2fa opens the session."""
    app = make_app(EMAIL_2FA_REQUIRED=setting == "server")
    user = make_user()
    if setting == "user":
        with app.app_context():
            second_factor.set_enabled(db.session.get(User, user.id), True)
    client = app.test_client()

    pending = post(client, "/login", {"email": user.email, "password": user.password})
    assert pending.status_code == 202
    assert pending.get_json() == {"status": "second_factor_required"}
    assert sets_no_session(pending)
    assert client.get("/currentuser").status_code == 401
    assert [message["Subject"] for message in mailbox.to(user.email)] == ["Your sign-in code"]

    done = post(client, "/2fa", {"code": mailbox.last_code(user.email)})
    assert done.status_code == 200
    assert done.get_json()["user"] == {"id": str(user.id), "email": user.email}
    me = current_user(app, session_token(done))
    assert me.status_code == 200
    assert (me.get_json()["id"], me.get_json()["session"]["id"]) == (str(user.id), done.get_json()["session"]["id"])
    assert history(app) == [("password", "2fa_required"), ("password+email_otp", "success")]

    again = post(client, "/2fa", {"code": mailbox.last_code(user.email)})
    assert again.status_code == 401
    assert again.get_json() == problem_body(401, "Unauthorized", "No sign-in is waiting for a code. Sign in again.")


def test_second_factor_without_a_pending_sign_in_is_refused(client):
    """POST 2fa with no password accepted first opens nothing."""
    response = post(client, "/2fa", {"code": "123456"})
    assert response.status_code == 401
    assert response.get_json() == problem_body(401, "Unauthorized", "No sign-in is waiting for a code. Sign in again.")


def test_wrong_second_factor_codes_count_toward_the_account_limit(make_app, make_user, mailbox):
    """Three wrong 2FA codes with a limit of 3 failures: the fourth try is 429, and history has them all."""
    app = make_app(EMAIL_2FA_REQUIRED=True, LOGIN_RATE_LIMIT_ACCOUNT="3 per 15 minutes")
    user = make_user()
    client = app.test_client()
    assert post(client, "/login", {"email": user.email, "password": user.password}).status_code == 202
    code = mailbox.last_code(user.email)
    for _ in range(3):
        wrong = post(client, "/2fa", {"code": other_code(code)})
        assert wrong.status_code == 400
        assert wrong.get_json() == problem_body(400, "Code Rejected", WRONG_CODE)

    blocked = post(client, "/2fa", {"code": code})
    assert blocked.status_code == 429
    assert blocked.headers["Content-Type"] == PROBLEM
    assert int(blocked.headers["Retry-After"]) > 0
    assert sets_no_session(blocked)
    assert history(app) == [("password", "2fa_required")] + [("email_otp", "2fa_failed")] * 3 + [("password", "locked")]


def test_wrong_second_factor_codes_also_lock_the_password_sign_in(make_app, make_user, mailbox, clock):
    """Failures on the 2FA step are failures of the account: after three, signing in again is 429 too."""
    app = make_app(EMAIL_2FA_REQUIRED=True, LOGIN_RATE_LIMIT_ACCOUNT="3 per 15 minutes")
    user = make_user()
    client = app.test_client()
    assert post(client, "/login", {"email": user.email, "password": user.password}).status_code == 202
    code = mailbox.last_code(user.email)
    assert [post(client, "/2fa", {"code": other_code(code)}).status_code for _ in range(3)] == [400, 400, 400]

    clock.shift(61)  # past the resend window, so a new sign-in could mail a new code
    again = post(app.test_client(), "/login", {"email": user.email, "password": user.password})
    assert again.status_code == 429
    assert again.headers["Content-Type"] == PROBLEM
    assert [message["Subject"] for message in mailbox.to(user.email)] == ["Your sign-in code"]


def test_signing_in_again_inside_the_resend_window_still_asks_for_the_code(make_app, make_user, mailbox):
    """A second right password within 60 s answers 202 like the first; the code already mailed completes it."""
    app = make_app(EMAIL_2FA_REQUIRED=True)
    user = make_user()
    first = post(app.test_client(), "/login", {"email": user.email, "password": user.password})
    assert first.status_code == 202
    client = app.test_client()
    second = post(client, "/login", {"email": user.email, "password": user.password})
    assert second.status_code == 202
    assert second.get_json() == {"status": "second_factor_required",
                                 "detail": "A code was sent moments ago. You can ask for another in 60 seconds."}
    assert len(mailbox.to(user.email)) == 1
    done = post(client, "/2fa", {"code": mailbox.last_code(user.email)})
    assert done.status_code == 200


def test_page_and_api_sign_in_failures_share_the_account_limit(make_app, make_user):
    """Wrong passwords on /login and on the JSON API count against one per-account limit."""
    app = make_app(LOGIN_RATE_LIMIT_ACCOUNT="3 per 15 minutes")
    user = make_user()
    client = app.test_client()
    wrong = {"email": user.email, "password": "not the right password at all"}
    assert [post(client, "/login", wrong).status_code for _ in range(2)] == [401, 401]
    page = client.get("/login")
    form = {"csrf_token": csrf_token(page.text), "next": "", **wrong}
    assert client.post("/login", data=form).status_code == 400

    blocked = post(client, "/login", {"email": user.email, "password": user.password})
    assert blocked.status_code == 429
    assert history(app) == [("password", "bad_password")] * 3 + [("password", "locked")]


def test_successful_json_sign_ins_do_not_count_against_the_account(make_app, make_user):
    """The account limit counts failures only: successful API sign-ins never lock the account."""
    app = make_app(LOGIN_RATE_LIMIT_ACCOUNT="2 per 15 minutes")
    user = make_user()
    statuses = [post(app.test_client(), "/login", {"email": user.email, "password": user.password}).status_code
                for _ in range(3)]
    assert statuses == [200, 200, 200]


def test_forgot_password_answers_the_same_for_known_and_unknown_addresses(client, user, mailbox):
    """202 with the same body and headers either way; only the account's owner gets a code."""
    known = post(client, "/password/forgot", {"email": user.email})
    unknown = post(client, "/password/forgot", {"email": "nobody-here@example.com"})
    again = post(client, "/password/forgot", {"email": user.email})  # inside the resend window

    assert known.status_code == unknown.status_code == again.status_code == 202
    assert known.get_json() == unknown.get_json() == again.get_json() == {"status": "sent_if_registered"}
    assert neutral_headers(known) == neutral_headers(unknown) == neutral_headers(again)
    assert [(message["To"], message["Subject"]) for message in mailbox.messages] == [
        (user.email, "Reset your password")]


def test_password_reset_ends_every_session_and_notifies(app, user, mailbox):
    """Reset with the mailed code: 204, old password refused, new one works, old sessions end, a notice comes."""
    tokens = []
    for _ in range(2):
        signed_in = post(app.test_client(), "/login", {"email": user.email, "password": user.password})
        assert signed_in.status_code == 200
        tokens.append(session_token(signed_in))
    client = app.test_client()
    assert post(client, "/password/forgot", {"email": user.email}).status_code == 202
    code = mailbox.last_code(user.email)

    reset = post(client, "/password/reset", {"email": user.email, "code": code, "password": NEW_PASSWORD})
    assert reset.status_code == 204
    assert reset.data == b""
    assert [current_user(app, token).status_code for token in tokens] == [401, 401]

    old = post(client, "/login", {"email": user.email, "password": user.password})
    assert old.status_code == 401
    assert old.get_json() == problem_body(401, "Unauthorized", BAD_CREDENTIALS)
    new = post(client, "/login", {"email": user.email, "password": NEW_PASSWORD})
    assert new.status_code == 200
    assert current_user(app, session_token(new)).status_code == 200

    assert [message["Subject"] for message in mailbox.to(user.email)] == [
        "Reset your password", "Your password was changed"]
    notice = mailbox.to(user.email)[-1].get_body(preferencelist=("plain",)).get_content()
    assert "every session was signed out" in notice
    assert re.search(r"\d{6}", notice) is None

    reused = post(client, "/password/reset", {"email": user.email, "code": code, "password": PASSWORD})
    assert reused.status_code == 400
    assert reused.get_json() == problem_body(400, "Code Rejected", BY_ADDRESS_REFUSAL)


def test_password_reset_with_a_weak_password_keeps_the_code(client, user, mailbox):
    """A weak new password is 400 with reasons and does not use up the code."""
    post(client, "/password/forgot", {"email": user.email})
    code = mailbox.last_code(user.email)
    weak = post(client, "/password/reset", {"email": user.email, "code": code, "password": "hunter2"})
    assert weak.status_code == 400
    assert weak.get_json() == {**problem_body(400, "Password Rejected", "Use at least 8 characters."),
                               "errors": ["Use at least 8 characters."]}
    strong = post(client, "/password/reset", {"email": user.email, "code": code, "password": NEW_PASSWORD})
    assert strong.status_code == 204


def test_password_reset_with_a_wrong_code_changes_nothing(client, user, mailbox):
    """A wrong code is 400 Code Rejected and the old password still signs in."""
    post(client, "/password/forgot", {"email": user.email})
    code = mailbox.last_code(user.email)
    wrong = post(client, "/password/reset", {"email": user.email, "code": other_code(code), "password": NEW_PASSWORD})
    assert wrong.status_code == 400
    assert wrong.get_json() == problem_body(400, "Code Rejected", BY_ADDRESS_REFUSAL)
    assert post(client, "/login", {"email": user.email, "password": user.password}).status_code == 200


def test_session_renewal_replaces_the_cookie(app, client, user):
    """session/renew answers a new cookie for the same session; the old cookie stops working."""
    signed_in = post(client, "/login", {"email": user.email, "password": user.password})
    old = session_token(signed_in)
    renewed = client.post(API + "/session/renew", json={})
    assert renewed.status_code == 200
    new = session_token(renewed)
    assert new != old
    assert renewed.get_json()["session"]["id"] == signed_in.get_json()["session"]["id"]
    assert current_user(app, old).status_code == 401
    me = current_user(app, new)
    assert me.status_code == 200
    assert me.get_json()["session"]["id"] == signed_in.get_json()["session"]["id"]


def test_session_renewal_without_a_session_is_refused(client):
    """No cookie, no renewal: 401 problem JSON."""
    response = client.post(API + "/session/renew", json={})
    assert response.status_code == 401
    assert response.get_json() == problem_body(401, "Unauthorized", "No valid session or access token.")
    assert sets_no_session(response)


def test_logout_ends_the_session(app, client, user):
    """logout answers 204, clears the cookie, and the old cookie opens nothing."""
    token = session_token(post(client, "/login", {"email": user.email, "password": user.password}))
    response = client.post(API + "/logout", json={})
    assert response.status_code == 204
    assert session_token(response) == ""
    assert "Expires=Thu, 01 Jan 1970 00:00:00 GMT" in response.headers["Set-Cookie"]
    assert current_user(app, token).status_code == 401
    assert client.get("/currentuser").status_code == 401


@pytest.mark.parametrize("path", ["/register", "/verify", "/verify/resend", "/login", "/2fa", "/logout",
                                  "/session/renew", "/password/forgot", "/password/reset"])
def test_form_encoded_posts_are_refused(app, client, user, mailbox, path):
    """Only JSON bodies: a form post (what a cross-site page can send) is 415 and does nothing."""
    form = {"email": user.email, "password": user.password, "fullname": "Form Poster", "code": "123456"}
    response = client.post(API + path, data=form)
    assert response.status_code == 415
    assert response.headers["Content-Type"] == PROBLEM
    assert response.get_json() == problem_body(415, "Unsupported Media Type",
                                               "Send a JSON body (Content-Type: application/json).")
    assert sets_no_session(response)
    assert mailbox.messages == []
    assert history(app) == []


def test_registration_closed_is_not_found(make_app, mailbox):
    """With PUBLIC_REGISTRATION=False the endpoint is 404 problem JSON and creates nothing."""
    app = make_app(PUBLIC_REGISTRATION=False)
    response = register(app.test_client(), "late@example.com")
    assert response.status_code == 404
    assert response.headers["Content-Type"] == PROBLEM
    assert response.get_json() == problem_body(404, "Not Found", "Registration is closed on this server.")
    assert stored_user(app, "late@example.com") is None
    assert mailbox.messages == []


@pytest.mark.parametrize("path, body, field", [
    ("/login", {"email": "   ", "password": "x"}, "email"),
    ("/login", {"email": "a@example.com"}, "password"),
    ("/login", {"email": "a@example.com", "password": "x" * 1025}, "password"),
    ("/login", {"email": "a@example.com", "password": 12345678}, "password"),
    ("/register", {"email": "a@example.com", "fullname": "x" * 201, "password": PASSWORD}, "fullname"),
    ("/register", {"email": "a" * 250 + "@example.com", "fullname": "A", "password": PASSWORD}, "email"),
    ("/register", {"email": "a@example.com", "fullname": "A", "password": PASSWORD, "phone": "1" * 33}, "phone"),
    ("/register", {"email": "a@example.com", "fullname": "A", "password": PASSWORD, "address": "London"},
     "address"),
    ("/register", {"email": "a@example.com", "fullname": "A", "password": PASSWORD,
                   "address": {"town": "London"}}, "address.town"),
    ("/verify", {"email": "a@example.com", "code": "1" * 13}, "code"),
    ("/password/reset", {"email": "a@example.com", "code": "123456", "password": PASSWORD, "admin": True}, "admin"),
], ids=["blank", "missing", "too-long", "not-text", "fullname", "email", "phone", "address", "address-member",
        "code", "unknown"])
def test_bodies_are_checked_field_by_field(app, client, mailbox, path, body, field):
    """A body that breaks its declared model is 422 problem JSON naming the field; nothing happens."""
    response = post(client, path, body)
    assert response.status_code == 422 and response.headers["Content-Type"] == PROBLEM
    problem = response.get_json()
    assert (problem["title"], problem["status"]) == ("Unprocessable Content", 422)
    assert list(problem["errors"]) == [field]
    assert sets_no_session(response) and mailbox.messages == [] and history(app) == []


@pytest.mark.parametrize("body", [["email"], "email", 7, None], ids=["array", "string", "number", "null"])
def test_a_body_must_be_a_json_object(client, body):
    """JSON that is not an object is 400 with errors.body."""
    response = client.post(API + "/login", data=json.dumps(body), content_type="application/json")
    assert response.status_code == 400 and response.headers["Content-Type"] == PROBLEM
    assert response.get_json()["errors"] == {"body": ["Send a JSON object."]}


def test_the_csrf_token_endpoint_gives_a_token_that_changes_pass(app, user):
    """GET /api/v1/auth/csrf: the token a cookie-authenticated change sends (Swagger UI uses it)."""
    client = app.test_client()
    assert post(client, "/login", {"email": user.email, "password": user.password}).status_code == 200
    response = client.get(API + "/csrf")
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    token = response.get_json()["csrfToken"]
    refused = client.delete("/api/v1/me/sessions")
    assert refused.status_code == 400 and "CSRF" in refused.get_json()["detail"]
    assert client.delete("/api/v1/me/sessions", headers={"X-CSRFToken": token}).get_json() == {"sessionsEnded": 0}
