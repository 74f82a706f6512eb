"""A superAdmin, in Chromium, registers an application in the console and sees its secret once, then
rotates the signing key."""

import pytest
from playwright.sync_api import Page
from playwright.sync_api import expect

from .test_account_flows import sign_in

pytestmark = pytest.mark.browser


def test_a_superadmin_registers_an_application_then_rotates_the_signing_key(page: Page, server, make_user,
                                                                            tmp_path):
    admin = make_user(roles=("superAdmin",))
    page.goto(server.url + "/admin")
    sign_in(page, admin.email, admin.password)
    expect(page).to_have_url(server.url + "/admin")
    expect(page.locator(".figure", has_text="Applications")).to_contain_text("0")

    page.get_by_role("navigation", name="Console").get_by_role("link", name="Applications").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Applications")
    page.get_by_role("link", name="Register an application").click()
    page.get_by_label("Name", exact=True).fill("Billing")
    page.get_by_label("Redirect URIs (one a line)", exact=True).fill("https://billing.example.com/callback")
    page.get_by_role("button", name="Register").click()

    expect(page.get_by_role("status").first).to_have_text("The application was registered.")
    secret = page.locator("#client-secret").inner_text()
    assert len(secret) >= 40
    expect(page.get_by_text("it is shown this once")).to_be_visible()
    expect(page.get_by_role("button", name="Copy")).to_be_visible()  # the script found the clipboard
    page.screenshot(path=str(tmp_path / "console-application-secret.png"), full_page=True)

    page.get_by_role("link", name="Back to the application").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Billing")
    expect(page.get_by_role("button", name="Rotate secret")).to_be_visible()
    assert secret not in page.content()
    page.reload()
    assert secret not in page.content()
    page.screenshot(path=str(tmp_path / "console-application.png"), full_page=True)

    page.get_by_role("navigation", name="Console").get_by_role("link", name="Signing keys").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Signing keys")
    current = page.locator("tbody tr", has_text="current")
    expect(current).to_have_count(1)
    old_kid = current.get_attribute("data-kid")
    page.get_by_role("button", name="Rotate now").click()
    expect(page.get_by_role("status")).to_contain_text("signs from now on")
    expect(page.locator(f'tr[data-kid="{old_kid}"] td').first).to_have_text("retired")
    new_row = page.locator("tbody tr", has_text="current")
    expect(new_row).to_have_count(1)
    assert new_row.get_attribute("data-kid") != old_kid
    page.screenshot(path=str(tmp_path / "console-signing-keys.png"), full_page=True)
