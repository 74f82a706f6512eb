"""A superAdmin finds a user in the console, gives them the admin role and ends one of their
sessions, in Chromium against the server on a real port."""

import re

import pytest
from playwright.sync_api import Browser
from playwright.sync_api import Page
from playwright.sync_api import expect

from app.services import accounts

pytestmark = pytest.mark.browser


def sign_in(page: Page, email: str, password: str) -> None:
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Sign in").click()


def test_an_admin_finds_a_user_gives_a_role_and_ends_a_session(
        page: Page, browser: Browser, live_server, make_user, tmp_path):
    url = live_server.url
    target = make_user(email="target@example.com", fullname="Target Person")
    make_user(email="someone.else@example.com", fullname="Someone Else")
    admin = make_user(email="root@example.com", fullname="Root Admin", roles=("superAdmin",))

    # The target signs in from two browsers of their own: two live sessions.
    contexts = [browser.new_context() for _ in range(2)]
    for context in contexts:
        theirs = context.new_page()
        theirs.goto(f"{url}/account")
        sign_in(theirs, target.email, target.password)
        expect(theirs).to_have_url(f"{url}/account")

    page.goto(f"{url}/admin/users")
    expect(page).to_have_url(f"{url}/login?next=/admin/users")
    sign_in(page, admin.email, admin.password)
    expect(page).to_have_url(f"{url}/admin/users")
    expect(page.get_by_role("heading", level=1)).to_have_text("Users")
    rows = page.locator("table.users tbody tr")
    expect(rows).to_have_count(3)

    page.get_by_label("Email address (exact)").fill("TARGET@example.com")
    page.get_by_role("button", name="Search").click()
    expect(page).to_have_url(re.compile(r"/admin/users\?.*email=TARGET%40example\.com"))
    expect(rows).to_have_count(1)
    page.screenshot(path=str(tmp_path / "console-users.png"), full_page=True)
    assert (tmp_path / "console-users.png").stat().st_size > 0

    page.get_by_role("link", name=target.email).click()
    expect(page).to_have_url(f"{url}/admin/users/{target.id}")
    expect(page.get_by_role("heading", level=1)).to_have_text("Target Person")

    page.get_by_label("Role to add").select_option(label="admin")
    page.get_by_role("button", name="Add the role").click()
    expect(page).to_have_url(f"{url}/admin/users/{target.id}")
    expect(page.get_by_role("status")).to_have_text("The role was added.")
    expect(page.get_by_role("button", name="Remove the admin role")).to_be_visible()
    with live_server.app.app_context():
        assert sorted(accounts.find_by_email(target.email).role_names) == ["admin", "user"]

    sessions = page.locator("table.sessions tbody tr")
    expect(sessions).to_have_count(2)
    sessions.first.get_by_role("button", name="End this session").click()
    expect(page.get_by_role("status")).to_have_text("The session was ended.")
    expect(sessions).to_have_count(1)

    # Exactly one of the target's browsers is signed out.
    landed = []
    for context in contexts:
        theirs = context.pages[0]
        theirs.goto(f"{url}/account")
        landed.append(theirs.url)
        context.close()
    assert sorted(landed) == [f"{url}/account", f"{url}/login?next=/account"]
