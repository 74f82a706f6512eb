"""Password sign-in through the /login page."""

import hashlib
import logging

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import LoginAttempt
from app.models import User
from app.models import UserSession
from app.services import accounts

from ..helpers import AuthActions
from ..helpers import csrf_token

BAD_CREDENTIALS = "Incorrect email address or password."


def history(app):
    with app.app_context():
        rows = db.session.scalars(select(LoginAttempt).order_by(LoginAttempt.time, LoginAttempt.created_at))
        return [(row.user_id, row.outcome, row.method, row.ip_address, row.device_info) for row in rows]


def test_login_success_sets_opaque_session_cookie(app, client, auth, user, caplog):
    """A right password opens a session: opaque HttpOnly SameSite=Lax cookie, redirect home."""
    caplog.set_level(logging.INFO, logger="security")
    response = auth.login(user.email, user.password, **{"User-Agent": "pytest-browser/1.0"})
    assert response.status_code == 303
    assert response.headers["Location"] == "/account"
    cookie = next(value for value in response.headers.getlist("Set-Cookie") if value.startswith("idp_session="))
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/" in cookie
    assert "Secure" not in cookie  # the issuer is http://localhost here
    token = cookie.split(";")[0].split("=", 1)[1]
    assert len(token) >= 43
    with app.app_context():
        session = db.session.scalar(select(UserSession))
        assert session.token_hash == hashlib.sha256(token.encode()).hexdigest()
        assert (session.user_agent, session.ip_address) == ("pytest-browser/1.0", "127.0.0.1")
        assert db.session.get(User, user.id).last_login_at == session.created_at
    assert history(app) == [(user.id, "success", "password", "127.0.0.1", "pytest-browser/1.0")]
    assert any("login.succeeded" in record.message and str(user.id) in record.message
               for record in caplog.records)
    assert all(user.password not in record.getMessage() and token not in record.getMessage()
               for record in caplog.records)


def test_wrong_password_and_unknown_email_get_the_same_answer(app, client, auth, user):
    """No enumeration: same status, same message, same page for both."""
    wrong = auth.login(user.email, "not the right password at all")
    unknown = auth.login("nobody-here@example.com", "not the right password at all")
    assert wrong.status_code == unknown.status_code == 400
    assert BAD_CREDENTIALS in wrong.text and BAD_CREDENTIALS in unknown.text

    def neutral(page, email):  # the pages differ only by the CSRF token and the address typed in
        return page.text.replace(csrf_token(page.text), "").replace(email, "EMAIL")

    assert neutral(wrong, user.email) == neutral(unknown, "nobody-here@example.com")
    assert "idp_session=" not in str(wrong.headers) + str(unknown.headers)
    outcomes = [(row[0], row[1]) for row in history(app)]
    assert outcomes == [(user.id, "bad_password"), (None, "unknown_user")]


def test_login_page_without_csrf_token_is_refused(app, client, user):
    """A POST without the CSRF token never checks the password."""
    client.get("/login")
    response = client.post("/login", data={"email": user.email, "password": user.password})
    assert response.status_code == 400
    assert "CSRF" in response.text
    assert "idp_session=" not in str(response.headers)
    assert history(app) == []


def test_login_from_another_browser_state_cookie_is_refused(app, user):
    """A CSRF token is bound to the browser that received it."""
    first, second = app.test_client(), app.test_client()
    token = csrf_token(first.get("/login").text)
    second.get("/login")
    response = second.post("/login", data={"csrf_token": token, "email": user.email,
                                           "password": user.password})
    assert response.status_code == 400


def test_deactivated_user_cannot_sign_in(app, auth, user):
    """A soft-deleted account looks like a wrong password, even with the right one."""
    with app.app_context():
        accounts.deactivate(user.email)
    response = auth.login(user.email, user.password)
    assert response.status_code == 400
    assert BAD_CREDENTIALS in response.text
    assert [row[1] for row in history(app)] == ["inactive"]


def test_unverified_user_is_sent_a_code_and_asked_for_it(app, client, auth, make_user, mailbox):
    """With EMAIL_VERIFICATION_REQUIRED, a right password on an unverified account opens nothing;
    a code is mailed and the verification page asks for it."""
    unverified = make_user(verified=False)
    response = auth.login(unverified.email, unverified.password, next_path="/account")
    assert response.status_code == 303
    assert response.headers["Location"] == f"/verify-email?email={unverified.email}&next=/account"
    assert "idp_session=" not in str(response.headers)
    assert [row[1] for row in history(app)] == ["unverified"]
    assert len(mailbox.last_code(unverified.email)) == 6
    page = client.get(response.headers["Location"])
    assert "not verified yet" in page.text and f'value="{unverified.email}"' in page.text


def test_unverified_user_signs_in_when_verification_is_not_required(make_app, make_user):
    app = make_app(EMAIL_VERIFICATION_REQUIRED=False)
    unverified = make_user(verified=False)
    assert AuthActions(app.test_client()).login(unverified.email, unverified.password).status_code == 303


def test_email_is_matched_case_insensitively(auth, user):
    assert auth.login(user.email.upper(), user.password).status_code == 303


@pytest.mark.parametrize("target, expected", [
    ("/account?tab=sessions", "/account?tab=sessions"),
    ("https://evil.example/", "/account"),
    ("//evil.example/path", "/account"),
    ("/\\evil.example", "/account"),
    ("javascript:alert(1)", "/account"),
    ("/ok\r\nSet-Cookie: x=1", "/account"),
], ids=["local", "absolute", "scheme-relative", "backslash", "javascript", "header-injection"])
def test_next_accepts_only_local_paths(auth, user, target, expected):
    """No open redirect through ``next``."""
    response = auth.login(user.email, user.password, next_path=target)
    assert response.status_code == 303
    assert response.headers["Location"] == expected


def test_login_page_keeps_next_and_prefills_hint(client):
    page = client.get("/login?next=/account&login_hint=ada@example.com")
    assert 'name="next" type="hidden" value="/account"' in page.text
    assert 'value="ada@example.com"' in page.text


def test_signed_in_user_visiting_login_is_sent_on(auth, client, user):
    auth.login(user.email, user.password)
    response = client.get("/login?next=/account")
    assert response.status_code == 302 and response.headers["Location"] == "/account"


def test_login_form_errors_are_shown_next_to_fields(client):
    page = client.get("/login")
    response = client.post("/login", data={"csrf_token": csrf_token(page.text), "email": "", "password": ""})
    assert response.status_code == 400
    assert 'aria-invalid="true"' in response.text
    assert "This field is required." in response.text


def test_outdated_hash_is_replaced_by_argon2id_at_login(app, auth, user):
    """A pbkdf2_sha256 hash still verifies and is rehashed to argon2id on success."""
    from passlib.hash import pbkdf2_sha256
    with app.app_context():
        account = db.session.get(User, user.id)
        account.password_hash = pbkdf2_sha256.hash(user.password)
        db.session.commit()
    assert auth.login(user.email, user.password).status_code == 303
    with app.app_context():
        assert db.session.get(User, user.id).password_hash.startswith("$argon2id$")


def test_outdated_hash_is_kept_after_a_wrong_password(app, auth, user):
    from passlib.hash import pbkdf2_sha256
    legacy = pbkdf2_sha256.hash(user.password)
    with app.app_context():
        db.session.get(User, user.id).password_hash = legacy
        db.session.commit()
    assert auth.login(user.email, "a wrong password for this user").status_code == 400
    with app.app_context():
        assert db.session.get(User, user.id).password_hash == legacy
