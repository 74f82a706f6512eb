"""A person asked for a second factor by an application (acr_values), in Chromium: the code page,
the mailed code, and back to the application with the stronger sign-in."""

import re

import pytest
from playwright.sync_api import Page
from playwright.sync_api import expect

from tests.helpers import AuthorizationRequest

from .conftest import exchange
from .test_oauth_sso import at_callback
from .test_oauth_sso import sign_in

pytestmark = pytest.mark.browser

MFA = "urn:idp:acr:mfa"


def test_step_up_through_the_code_page(page: Page, server, make_application, user, mailbox):
    application = make_application(server, "App One")
    first = AuthorizationRequest(application, issuer=server.url)
    page.goto(server.url + first.url)
    sign_in(page, server, user)
    page.get_by_role("button", name="Allow").click()
    before = exchange(server, application, first, at_callback(page, application, first)["code"])
    assert before["acr"] == "urn:idp:acr:pwd" and before["amr"] == ["pwd"]

    mailbox.clear()
    stronger = AuthorizationRequest(application, issuer=server.url, acr_values=MFA)
    page.goto(server.url + stronger.url)
    expect(page).to_have_url(f"{server.url}/login/2fa")
    expect(page.get_by_role("heading", level=1)).to_have_text("Enter your sign-in code")
    expect(page.locator("p.step-up")).to_contain_text("asks for a second step")
    page.get_by_label("Code").fill("000000")  # a wrong code first: refused, still on the page
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_label("Code")).to_be_visible()
    page.get_by_label("Code").fill(mailbox.last_code(user.email))
    page.get_by_role("button", name="Sign in").click()

    application.received.clear()
    expect(page).to_have_url(re.compile("^" + re.escape(application.redirect_uris[0] + "?")))
    query = stronger.callback(page.url)
    after = exchange(server, application, stronger, query["code"])
    assert after["acr"] == MFA and after["amr"] == ["pwd", "otp", "mfa"]
    assert after["sid"] == before["sid"] and after["auth_time"] >= before["auth_time"]
