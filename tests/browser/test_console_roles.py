"""A superAdmin creates a custom role in the console and gives it a permission, in Chromium; a user
without permissions gets the 403 page at /admin/roles."""

import re

import pytest
from playwright.sync_api import Browser
from playwright.sync_api import Page
from playwright.sync_api import expect

from app.extensions import db
from app.models import Role
from app.services import rbac

pytestmark = pytest.mark.browser


def sign_in(page: Page, url: str, email: str, password: str) -> None:
    page.goto(f"{url}/login?next=/admin/roles")
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Sign in").click()


def test_a_superadmin_creates_a_role_and_a_user_is_refused(page: Page, browser: Browser, live_server, make_user,
                                                           tmp_path):
    admin = make_user(roles=("superAdmin",))
    plain = make_user()

    sign_in(page, live_server.url, admin.email, admin.password)
    expect(page).to_have_url(f"{live_server.url}/admin/roles")
    expect(page.get_by_role("heading", level=1)).to_have_text("Roles and permissions")
    expect(page.get_by_role("navigation", name="Console").get_by_role("link", name="Roles and permissions")) \
        .to_have_attribute("aria-current", "page")
    page.get_by_label("Name").fill("support")
    page.get_by_label("Description").fill("Answers customers")
    page.get_by_role("button", name="Create role").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Role support")
    expect(page.get_by_role("status")).to_have_text("The role support was created. Choose what it grants below.")
    users_read = page.get_by_label(re.compile(r"^users:read: "))
    expect(users_read).not_to_be_checked()
    users_read.check()
    page.get_by_role("button", name="Save permissions").click()
    expect(page.get_by_role("status")).to_have_text("The permissions of support were saved.")
    expect(page.get_by_label(re.compile(r"^users:read: "))).to_be_checked()
    expect(page.get_by_label(re.compile(r"^users:write: "))).not_to_be_checked()
    page.screenshot(path=tmp_path / "console-role.png", full_page=True)

    page.get_by_role("link", name="All roles").click()
    row = page.get_by_role("row").filter(has=page.get_by_role("rowheader", name="support"))
    expect(row.get_by_role("cell")).to_have_text(["Answers customers", "Custom", "1"])
    page.screenshot(path=tmp_path / "console-roles.png", full_page=True)
    with live_server.app.app_context():
        role = db.session.scalar(db.select(Role).where(Role.name == "support"))
        assert rbac.permission_names(role) == ["users:read"]

    other = browser.new_context()
    try:
        refused = other.new_page()
        sign_in(refused, live_server.url, plain.email, plain.password)
        expect(refused.get_by_role("heading", level=1)).to_have_text("Access Denied")
        response = refused.goto(f"{live_server.url}/admin/roles")
        assert response.status == 403
        expect(refused.get_by_text("You need the roles:read permission.")).to_be_visible()
        expect(refused.get_by_role("button", name="Create role")).to_have_count(0)
        expect(refused.get_by_text("support")).to_have_count(0)
        refused.screenshot(path=tmp_path / "console-roles-403.png", full_page=True)
    finally:
        other.close()
