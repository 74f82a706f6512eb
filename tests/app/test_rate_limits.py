"""Brute-force limits on the login POST: per IP and per account, 429 with Retry-After."""

import time

from sqlalchemy import select

from app.extensions import db
from app.models import LoginAttempt
from app.web import limits

from ..helpers import AuthActions


def outcomes(app):
    with app.app_context():
        return [row.outcome for row in db.session.scalars(select(LoginAttempt).order_by(LoginAttempt.created_at))]


def test_failures_per_account_are_limited(make_app, make_user):
    """After the allowed failures on one account, even the right password waits."""
    app = make_app(LOGIN_RATE_LIMIT_ACCOUNT="3 per 15 minutes", LOGIN_RATE_LIMIT_IP="100 per minute")
    user = make_user()
    auth = AuthActions(app.test_client())
    for _ in range(3):
        assert auth.login(user.email, "wrong password number one").status_code == 400
    blocked = auth.login(user.email, user.password)
    assert blocked.status_code == 429
    assert int(blocked.headers["Retry-After"]) > 0
    assert "Too many attempts" in blocked.text and "minutes" in blocked.text
    assert blocked.headers["Content-Type"].startswith("text/html")
    assert outcomes(app) == ["bad_password"] * 3 + ["locked"]


def test_account_limit_ignores_case_and_spacing(make_app, make_user):
    app = make_app(LOGIN_RATE_LIMIT_ACCOUNT="2 per 15 minutes", LOGIN_RATE_LIMIT_IP="100 per minute")
    user = make_user()
    auth = AuthActions(app.test_client())
    auth.login(user.email.upper(), "wrong password number one")
    auth.login(f"  {user.email} ", "wrong password number one")
    assert auth.login(user.email, user.password).status_code == 429


def test_successful_logins_do_not_count_against_the_account(make_app, make_user):
    app = make_app(LOGIN_RATE_LIMIT_ACCOUNT="2 per 15 minutes", LOGIN_RATE_LIMIT_IP="100 per minute")
    user = make_user()
    for _ in range(4):
        assert AuthActions(app.test_client()).login(user.email, user.password).status_code == 303


def test_attempts_per_ip_are_limited_across_accounts(make_app, make_user):
    """Credential stuffing from one address hits the per-IP limit."""
    app = make_app(LOGIN_RATE_LIMIT_IP="4 per minute", LOGIN_RATE_LIMIT_ACCOUNT="100 per minute")
    auth = AuthActions(app.test_client())
    for number in range(4):
        assert auth.login(f"victim{number}@example.com", "guess password one").status_code == 400
    assert auth.login("victim9@example.com", "guess password one").status_code == 429


def test_limit_window_passes(make_app, make_user):
    """The account opens again when the window is over (a real wait: Redis keeps its own clock)."""
    app = make_app(LOGIN_RATE_LIMIT_ACCOUNT="2 per 2 seconds", LOGIN_RATE_LIMIT_IP="100 per minute")
    user = make_user()
    auth = AuthActions(app.test_client())
    for _ in range(2):
        auth.login(user.email, "wrong password number one")
    blocked = auth.login(user.email, user.password)
    assert blocked.status_code == 429
    time.sleep(int(blocked.headers["Retry-After"]) + 1)
    assert auth.login(user.email, user.password).status_code == 303


def test_other_pages_are_not_limited_by_login_failures(make_app, make_user):
    app = make_app(LOGIN_RATE_LIMIT_IP="2 per minute")
    client = app.test_client()
    auth = AuthActions(client)
    for _ in range(3):
        auth.login("someone@example.com", "guess password one")
    assert client.get("/login").status_code == 200
    assert client.get("/health").status_code == 200


def test_a_busy_account_is_answered_429_for_a_second_and_checks_nothing(app, user):
    """While another request checks a credential of the account (here: holds it), a sign-in for it
    answers 429 with Retry-After: 1, as the error page and as problem JSON, and counts nothing."""
    with app.test_request_context():
        limits._hold_account(user.email)
        try:
            page = AuthActions(app.test_client()).login(user.email, user.password)
            api = app.test_client().post("/api/v1/auth/login", json={"email": user.email, "password": user.password})
        finally:
            limits.release_account_hold()
    assert page.status_code == 429 and page.headers["Retry-After"] == "1" and "wait 1 second " in page.text
    assert api.status_code == 429 and api.headers["Retry-After"] == "1"
    assert api.headers["Content-Type"] == "application/problem+json"
    assert outcomes(app) == []
    assert AuthActions(app.test_client()).login(user.email, user.password).status_code == 303
