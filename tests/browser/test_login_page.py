"""A person signs in through the real page in Chromium."""

import pytest
from playwright.sync_api import Page
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


def test_sign_in_and_out_in_chromium(page: Page, live_server, user):
    page.goto(f"{live_server.url}/account")
    expect(page).to_have_url(f"{live_server.url}/login?next=/account")
    page.get_by_label("Email address").fill(user.email)
    page.get_by_label("Password").fill("not my password at all")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_have_text("Incorrect email address or password.")

    page.get_by_label("Password").fill(user.password)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(f"{live_server.url}/account")
    expect(page.locator("#account-email")).to_have_text(user.email)

    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(f"{live_server.url}/login")
    expect(page.get_by_role("status")).to_have_text("You have been signed out.")
    page.goto(f"{live_server.url}/account")
    expect(page).to_have_url(f"{live_server.url}/login?next=/account")
