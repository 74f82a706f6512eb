"""A person creates an account while authorizing an application, resets a password, and signs in with
an emailed second factor, in Chromium, with codes read from the SMTP server the app mails to."""

import re
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Page
from playwright.sync_api import expect

from app.extensions import db
from app.models import User
from app.services import accounts
from app.services import second_factor
from tests.helpers import AuthorizationRequest

from .conftest import exchange

pytestmark = pytest.mark.browser

NEW_PASSWORD = "violet tractor moonlight sandwich"
WRONG_CODE = "That code is not right. Check the latest message and try again."
# Verification names the account by an address: one refusal for every way a code fails.
BY_ADDRESS_REFUSAL = "That code is not right or has expired. Check the latest message, or ask for a new code."


def sign_in(page: Page, email: str, password: str) -> None:
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Sign in").click()


def test_new_person_registers_while_authorizing_an_application(page: Page, idp_server, make_application, mailbox):
    """Authorization request -> login -> Create an account -> mailed code -> Allow -> the app gets its code."""
    server = idp_server()
    application = make_application(server, "Photo Album")
    request = AuthorizationRequest(application, issuer=server.url)
    email = "new.person@example.com"

    page.goto(server.url + request.url)
    resume = re.compile("^" + re.escape(f"{server.url}/login?next=/oauth/authorize/") + r"([\w-]+)$")
    expect(page).to_have_url(resume)
    next_path = urlsplit(page.url).query.removeprefix("next=")
    page.get_by_role("link", name="Create an account").click()

    expect(page).to_have_url(f"{server.url}/register?next={next_path}")
    expect(page.get_by_role("heading", level=1)).to_have_text("Create an account")
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Full name").fill("New Person")
    page.get_by_label("Password", exact=True).fill(NEW_PASSWORD)
    page.get_by_role("button", name="Create account").click()

    expect(page).to_have_url(f"{server.url}/verify-email?email={email}&next={next_path}")
    expect(page.get_by_role("status")).to_have_text(
        "We sent a code to your email address. Enter it below to confirm the address.")
    expect(page.get_by_label("Email address")).to_have_value(email)
    assert [message["Subject"] for message in mailbox.to(email)] == ["Confirm your email address"]
    code = mailbox.last_code(email)
    page.get_by_label("Code").fill(f"{(int(code) + 1) % 10 ** 6:06d}")
    page.get_by_role("button", name="Confirm").click()
    expect(page.locator(".field-errors")).to_have_text(BY_ADDRESS_REFUSAL)
    page.get_by_label("Code").fill(code)
    page.get_by_role("button", name="Confirm").click()

    expect(page).to_have_url(f"{server.url}{next_path}")
    expect(page.get_by_role("heading", level=1)).to_have_text("Allow Photo Album?")
    expect(page.get_by_role("status")).to_have_text("Your email address is confirmed. Welcome!")
    page.get_by_role("button", name="Allow").click()

    expect(page).to_have_url(re.compile("^" + re.escape(application.redirect_uris[0] + "?")))
    expect(page.get_by_role("heading", level=1)).to_have_text("Photo Album")
    assert application.received == [urlsplit(page.url).query]
    query = request.callback(page.url)
    assert set(query) == {"code", "state", "iss"}
    claims = exchange(server, application, request, query["code"])
    with server.app.app_context():
        created = accounts.find_by_email(email)
        assert (created.email_verified, created.role_names) == (True, ["user"])
        assert claims["sub"] == str(created.id)
    assert claims["nonce"] == request.nonce


def test_forgotten_password_is_reset_with_the_mailed_code(page: Page, idp_server, user, mailbox):
    """Forgot password -> code by mail -> new password; the old one is refused, the new one signs in."""
    server = idp_server()
    page.goto(f"{server.url}/login")
    page.get_by_role("link", name="Forgot your password?").click()
    expect(page).to_have_url(f"{server.url}/password/forgot")
    page.get_by_label("Email address").fill(user.email)
    page.get_by_role("button", name="Send a code").click()

    expect(page).to_have_url(f"{server.url}/password/reset?email={user.email}")
    expect(page.get_by_role("status")).to_have_text(
        "If that address has an account, we sent it a code to reset the password.")
    expect(page.get_by_label("Email address")).to_have_value(user.email)
    assert [message["Subject"] for message in mailbox.to(user.email)] == ["Reset your password"]
    page.get_by_label("Code").fill(mailbox.last_code(user.email))
    page.get_by_label("New password").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Change password").click()

    expect(page).to_have_url(f"{server.url}/login?login_hint={user.email}")
    expect(page.get_by_role("status")).to_have_text(
        "Your password was changed and every session was signed out. Sign in with the new password.")
    expect(page.get_by_label("Email address")).to_have_value(user.email)
    assert [message["Subject"] for message in mailbox.to(user.email)] == [
        "Reset your password", "Your password was changed"]

    sign_in(page, user.email, user.password)
    expect(page.get_by_role("alert")).to_have_text("Incorrect email address or password.")
    sign_in(page, user.email, NEW_PASSWORD)
    expect(page).to_have_url(f"{server.url}/account")
    expect(page.locator("#account-email")).to_have_text(user.email)


@pytest.mark.parametrize("setting", ["server", "user"], ids=["EMAIL_2FA_REQUIRED", "two_factor_enabled"])
def test_sign_in_with_the_emailed_code(page: Page, idp_server, user, mailbox, setting):
    """Password, then the code mailed for /login/2fa: a wrong code is refused, the right one signs in."""
    server = idp_server(EMAIL_2FA_REQUIRED=setting == "server")
    if setting == "user":
        with server.app.app_context():
            second_factor.set_enabled(db.session.get(User, user.id), True)

    page.goto(f"{server.url}/account")
    expect(page).to_have_url(f"{server.url}/login?next=/account")
    sign_in(page, user.email, user.password)

    expect(page).to_have_url(f"{server.url}/login/2fa")
    expect(page.get_by_role("heading", level=1)).to_have_text("Enter your sign-in code")
    assert [message["Subject"] for message in mailbox.to(user.email)] == ["Your sign-in code"]
    code = mailbox.last_code(user.email)
    page.get_by_label("Code").fill(f"{(int(code) + 1) % 10 ** 6:06d}")
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator(".field-errors")).to_have_text(WRONG_CODE)
    assert page.request.get(f"{server.url}/currentuser").status == 401  # the browser has no session yet

    page.get_by_label("Code").fill(code)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(f"{server.url}/account")
    expect(page.locator("#account-email")).to_have_text(user.email)
