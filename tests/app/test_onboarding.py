"""Registration, email verification, password reset and email 2FA through the pages."""

import hashlib
import hmac
import logging
import re

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import LoginAttempt
from app.models import User
from app.models import VerificationCode
from app.services import mailer
from app.services import verification
from app.services.errors import CodeRejected
from app.services.errors import ResendTooSoon

from ..helpers import AuthActions
from ..helpers import csrf_token

PASSWORD = "a long and unusual passphrase"


def register(client, email, password=PASSWORD, next_path="", **fields):
    page = client.get("/register")
    form = {"csrf_token": csrf_token(page.text), "email": email, "fullname": "Grace Hopper", "password": password,
            "next": next_path, **fields}
    return client.post("/register", data=form)


def submit_code(client, path, email, code, next_path=""):
    page = client.get(f"{path}?email={email}")
    return client.post(path, data={"csrf_token": csrf_token(page.text), "email": email, "code": code,
                                   "next": next_path})


def account(app, email):
    with app.app_context():
        user = db.session.scalar(select(User).where(User.email == email))
        return None if user is None else (user.email_verified, user.role_names, user.avatar, user.is_active)


def test_registration_creates_an_unverified_user_and_mails_a_code(app, client, mailbox):
    """Role user and email_verified false, whatever the form says; a code goes to the address."""
    response = register(client, "Grace@Example.com", roles="superAdmin", email_verified="true")
    assert response.status_code == 303
    assert response.headers["Location"] == "/verify-email?email=grace@example.com"
    verified, roles, avatar, active = account(app, "grace@example.com")
    assert (verified, roles, active) == (False, ["user"], True)
    digest = hashlib.md5(b"grace@example.com").hexdigest()
    assert avatar == f"https://gravatar.com/avatar/{digest}?s=200&d=identicon"
    message = mailbox.to("grace@example.com")[-1]
    assert message["Subject"] == "Confirm your email address" and message["From"] == "idp@example.com"
    assert message.get_body(preferencelist=("html",)) is not None
    assert len(mailbox.last_code("grace@example.com")) == 6


def test_registration_stores_phone_and_address(app, client, mailbox):
    register(client, "ada@example.com", phone="+44 20 7946 0000", street_address="12 Analytical Row",
             locality="London", postal_code="N1", country="UK")
    with app.app_context():
        user = db.session.scalar(select(User).where(User.email == "ada@example.com"))
        assert user.profile.phone_number == "+44 20 7946 0000"
        assert user.profile.address == {"street_address": "12 Analytical Row", "locality": "London",
                                        "postal_code": "N1", "country": "UK"}


def test_registering_a_taken_email_looks_the_same_and_notifies_the_owner(app, client, user, mailbox):
    """No enumeration: same status and redirect; the owner gets a notice, not a code."""
    fresh = register(app.test_client(), "newcomer@example.com")
    taken = register(client, user.email)
    assert taken.status_code == fresh.status_code == 303
    assert taken.headers["Location"] == f"/verify-email?email={user.email}"
    assert sorted(dict(taken.headers)) == sorted(dict(fresh.headers))
    [notice] = mailbox.to(user.email)
    assert notice["Subject"] == "Someone tried to register with your email address"
    assert not re.search(r"\b\d{6}\b", notice.get_body(preferencelist=("plain",)).get_content())


@pytest.mark.parametrize("fields, message", [
    ({"email": "not-an-email"}, "email address"),
    ({"password": "password1"}, "too easy to guess"),
    ({"fullname": ""}, "This field is required."),
], ids=["bad-email", "weak-password", "no-name"])
def test_registration_refusals_are_shown_on_the_form(app, client, mailbox, fields, message):
    page = client.get("/register")
    form = {"csrf_token": csrf_token(page.text), "email": "x@example.com", "fullname": "X", "password": PASSWORD,
            **fields}
    response = client.post("/register", data=form)
    assert response.status_code == 400 and message in response.text
    assert account(app, "x@example.com") is None and mailbox.messages == []


def test_registration_closed(make_app):
    client = make_app(PUBLIC_REGISTRATION=False).test_client()
    page = client.get("/register")
    assert page.status_code == 404 and "Registration is closed" in page.text
    assert client.post("/register", data={}).status_code in (400, 404)


def test_verification_signs_in_and_resumes_next(app, client, mailbox):
    register(client, "hopper@example.com", next_path="/account")
    code = mailbox.last_code("hopper@example.com")
    response = submit_code(client, "/verify-email", "hopper@example.com", code, next_path="/account")
    assert response.status_code == 303 and response.headers["Location"] == "/account"
    assert account(app, "hopper@example.com")[0] is True
    assert client.get("/currentuser").get_json()["emailVerified"] is True
    assert submit_code(app.test_client(), "/verify-email", "hopper@example.com", code).status_code == 400


def test_wrong_codes_are_limited_to_five_attempts(app, client, mailbox):
    register(client, "lovelace@example.com")
    code = mailbox.last_code("lovelace@example.com")
    wrong = "000000" if code != "000000" else "111111"
    for _ in range(5):
        response = submit_code(client, "/verify-email", "lovelace@example.com", wrong)
        assert response.status_code == 400 and "not right" in response.text
    dead = submit_code(client, "/verify-email", "lovelace@example.com", code)
    assert dead.status_code == 400 and "not right or has expired" in dead.text  # the right code, dead: the same refusal


def test_unknown_email_on_the_verification_page_looks_like_a_wrong_code(client):
    response = submit_code(client, "/verify-email", "nobody@example.com", "123456")
    assert response.status_code == 400 and "not right" in response.text


def test_resend_window_and_new_code_kills_the_old(clock, app, client, mailbox):
    register(client, "turing@example.com")
    first = mailbox.last_code("turing@example.com")
    page = client.get("/verify-email?email=turing@example.com")
    form = {"csrf_token": csrf_token(page.text), "email": "turing@example.com", "next": ""}
    too_soon = client.post("/verify-email/resend", data=form)
    assert too_soon.status_code == 303 and int(too_soon.headers["Retry-After"]) == 60
    assert "ask for another in 60 seconds" in client.get(too_soon.headers["Location"]).text
    assert len(mailbox.to("turing@example.com")) == 1
    clock.shift(61)
    client.post("/verify-email/resend", data=form)
    second = mailbox.last_code("turing@example.com")
    assert len(mailbox.to("turing@example.com")) == 2
    if second != first:
        assert submit_code(client, "/verify-email", "turing@example.com", first).status_code == 400
    assert submit_code(client, "/verify-email", "turing@example.com", second).status_code == 303


def test_email_codes_expire_after_a_day(clock, app, client, mailbox):
    register(client, "knuth@example.com")
    code = mailbox.last_code("knuth@example.com")
    clock.shift(86400)
    assert submit_code(client, "/verify-email", "knuth@example.com", code).status_code == 400


def test_codes_are_stored_as_peppered_digests(app, make_user):
    user = make_user(verified=False)
    with app.app_context():
        code = verification.issue(user.id, "email_verification")
        stored = db.session.scalar(select(VerificationCode))
        assert code not in str(vars(stored))
        assert stored.code_hash != hashlib.sha256(code.encode()).hexdigest()
        key = app.config["SECRET_KEY"].encode()
        assert stored.code_hash == hmac.new(key, b"verification-code:" + code.encode(), hashlib.sha256).hexdigest()


def test_mobile_codes_live_five_minutes(clock, app, make_user):
    user = make_user()
    with app.app_context():
        code = verification.issue(user.id, "mobile_verification")
        clock.shift(59)
        with pytest.raises(ResendTooSoon):
            verification.issue(user.id, "mobile_verification")
        clock.shift(242)
        with pytest.raises(CodeRejected):
            verification.check(user.id, "mobile_verification", code)


def test_sign_in_of_an_unverified_user_resumes_after_verification(app, client, make_user, mailbox):
    pending = make_user(verified=False)
    response = AuthActions(client).login(pending.email, pending.password, next_path="/account")
    assert response.headers["Location"] == f"/verify-email?email={pending.email}&next=/account"
    code = mailbox.last_code(pending.email)
    assert submit_code(client, "/verify-email", pending.email, code, "/account").headers["Location"] == "/account"


def forgot(client, email):
    page = client.get("/password/forgot")
    return client.post("/password/forgot", data={"csrf_token": csrf_token(page.text), "email": email})


def reset(client, email, code, password):
    page = client.get(f"/password/reset?email={email}")
    form = {"csrf_token": csrf_token(page.text), "email": email, "code": code, "password": password}
    return client.post("/password/reset", data=form)


def test_forgot_password_answers_the_same_for_unknown_addresses(client, user, mailbox):
    known, unknown = forgot(client, user.email), forgot(client, "ghost@example.com")
    assert known.status_code == unknown.status_code == 303
    assert known.headers["Location"] == f"/password/reset?email={user.email}"
    assert unknown.headers["Location"] == "/password/reset?email=ghost@example.com"
    assert mailbox.to("ghost@example.com") == [] and len(mailbox.to(user.email)) == 1
    again = forgot(client, user.email)  # inside the resend window: still the same answer
    assert again.status_code == 303 and len(mailbox.to(user.email)) == 1


def test_reset_sets_the_password_ends_sessions_and_notifies(app, user, mailbox):
    signed_in = app.test_client()
    AuthActions(signed_in).login(user.email, user.password)
    client = app.test_client()
    forgot(client, user.email)
    code = mailbox.last_code(user.email)
    weak = reset(client, user.email, code, "password")
    assert weak.status_code == 400 and "top-10 common password" in weak.text
    done = reset(client, user.email, code, "a fresh and lengthy passphrase")
    assert done.status_code == 303 and done.headers["Location"].startswith("/login")
    assert signed_in.get("/currentuser").status_code == 401
    assert AuthActions(app.test_client()).login(user.email, user.password).status_code == 400
    assert AuthActions(app.test_client()).login(user.email, "a fresh and lengthy passphrase").status_code == 303
    assert mailbox.to(user.email)[-1]["Subject"] == "Your password was changed"
    assert reset(client, user.email, code, "yet another long passphrase").status_code == 400


def second_factor_login(client, email, password):
    response = AuthActions(client).login(email, password)
    assert response.status_code == 303 and response.headers["Location"] == "/login/2fa"
    return response


def submit_second_factor(client, code):
    page = client.get("/login/2fa")
    return client.post("/login/2fa", data={"csrf_token": csrf_token(page.text), "code": code})


def test_required_2fa_asks_for_the_mailed_code(make_app, make_user, mailbox):
    app = make_app(EMAIL_2FA_REQUIRED=True)
    user = make_user()
    client = app.test_client()
    second_factor_login(client, user.email, user.password)
    assert client.get("/currentuser").status_code == 401  # no session before the code
    assert mailbox.to(user.email)[-1]["Subject"] == "Your sign-in code"
    done = submit_second_factor(client, mailbox.last_code(user.email))
    assert done.status_code == 303 and done.headers["Location"] == "/account"
    assert client.get("/currentuser").status_code == 200
    with app.app_context():
        outcomes = [row.outcome for row in db.session.scalars(select(LoginAttempt).order_by(LoginAttempt.time))]
    assert outcomes == ["2fa_required", "success"]


def test_optional_2fa_applies_only_to_users_who_turned_it_on(app, make_user, mailbox):
    plain, careful = make_user(), make_user()
    with app.app_context():
        db.session.get(User, careful.id).two_factor_enabled = True
        db.session.commit()
    assert AuthActions(app.test_client()).login(plain.email, plain.password).headers["Location"] == "/account"
    second_factor_login(app.test_client(), careful.email, careful.password)


def test_wrong_2fa_codes_are_recorded_and_limited(make_app, make_user, mailbox, caplog):
    app = make_app(EMAIL_2FA_REQUIRED=True, LOGIN_RATE_LIMIT_ACCOUNT="3 per 15 minutes")
    user = make_user()
    client = app.test_client()
    second_factor_login(client, user.email, user.password)
    caplog.set_level(logging.INFO, logger="security")
    for _ in range(3):
        assert submit_second_factor(client, "999999x"[:6]).status_code == 400
    assert submit_second_factor(client, mailbox.last_code(user.email)).status_code == 429
    with app.app_context():
        outcomes = [row.outcome for row in db.session.scalars(select(LoginAttempt).order_by(LoginAttempt.time))]
    assert outcomes.count("2fa_failed") == 3 and outcomes[-1] == "locked"
    assert any("login.2fa_failed" in record.message for record in caplog.records)


def test_2fa_page_without_a_pending_sign_in_goes_back_to_login(client):
    assert client.get("/login/2fa").headers["Location"] == "/login"


def test_mail_is_logged_when_no_mail_server_is_set(make_app, make_user, caplog):
    app = make_app(MAIL_SERVER=None)
    caplog.set_level(logging.INFO, logger="mail")
    register(app.test_client(), "devloop@example.com")
    assert mailer.wait_until_idle(app)  # written by the background sender
    [record] = [record for record in caplog.records if record.name == "mail"]
    assert "devloop@example.com" in record.getMessage() and re.search(r"\n\s+\d{6}\n", record.getMessage())


def test_delivery_failure_leaves_the_answer_alone_and_a_resend_works_at_once(make_app, mailbox, caplog):
    """SMTP down: the answer a registration gets cannot depend on delivery (a taken address gets a
    notice, not a code); the account exists, the failure is logged by id, and the code and the
    address's resend window are released, so a resend works as soon as mail is back."""
    broken = make_app(MAIL_PORT=1)
    client = broken.test_client()
    response = register(client, "outage@example.com")
    assert response.status_code == 303
    page = client.get(response.headers["Location"]).text
    assert "We sent a code to your email address" in page and "could not send" not in page
    assert mailbox.messages == []  # waits for the failed delivery and its clean-up
    assert account(broken, "outage@example.com") is not None
    [failure] = [record.getMessage() for record in caplog.records if record.getMessage().startswith("mail.failed")]
    assert failure.startswith("mail.failed template=verify_email user_id=") and "outage@" not in failure
    working = make_app()
    retry = working.test_client()
    page = retry.get("/verify-email?email=outage@example.com")
    retry.post("/verify-email/resend", data={"csrf_token": csrf_token(page.text), "email": "outage@example.com"})
    code = mailbox.last_code("outage@example.com")
    assert submit_code(retry, "/verify-email", "outage@example.com", code).status_code == 303
