"""A person authorizes applications in Chromium: consent Allow and Deny, and single sign-on."""

import re
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Page
from playwright.sync_api import expect

from tests.helpers import AuthorizationRequest

from .conftest import exchange

pytestmark = pytest.mark.browser


def at_callback(page: Page, application, request: AuthorizationRequest) -> dict:
    """Wait for the browser to land on the application's redirect URI; the query it was sent."""
    expect(page).to_have_url(re.compile("^" + re.escape(application.redirect_uris[0] + "?")))
    expect(page.get_by_role("heading", level=1)).to_have_text(application.name)
    assert application.received == [urlsplit(page.url).query]
    return request.callback(page.url)


def sign_in(page: Page, server, user) -> None:
    """The login page the authorization request led to, filled in and submitted."""
    expect(page).to_have_url(re.compile("^" + re.escape(f"{server.url}/login?next=/oauth/authorize/") + r"[\w-]+$"))
    page.get_by_label("Email address").fill(user.email)
    page.get_by_label("Password").fill(user.password)
    page.get_by_role("button", name="Sign in").click()


def test_consent_allow_sends_a_code_to_the_application(page: Page, server, make_application, user):
    """Allow on the consent page returns code, state and iss to the application's redirect URI."""
    app_one = make_application(server, "App One")
    request = AuthorizationRequest(app_one, issuer=server.url)
    page.goto(server.url + request.url)
    sign_in(page, server, user)
    expect(page.get_by_role("heading", level=1)).to_have_text("Allow App One?")
    expect(page.locator("li[data-scope]")).to_have_count(3)
    page.get_by_role("button", name="Allow").click()

    query = at_callback(page, app_one, request)
    assert set(query) == {"code", "state", "iss"}
    claims = exchange(server, app_one, request, query["code"])
    assert claims["sub"] == str(user.id) and claims["nonce"] == request.nonce


def test_consent_deny_sends_access_denied_to_the_application(page: Page, server, make_application, user):
    """Deny returns error=access_denied with state and iss, and is not remembered as consent."""
    app_one = make_application(server, "App One")
    request = AuthorizationRequest(app_one, issuer=server.url)
    page.goto(server.url + request.url)
    sign_in(page, server, user)
    expect(page.get_by_role("heading", level=1)).to_have_text("Allow App One?")
    page.get_by_role("button", name="Deny").click()

    query = at_callback(page, app_one, request)
    assert query["error"] == "access_denied"
    assert set(query) == {"error", "error_description", "state", "iss"}

    again = AuthorizationRequest(app_one, issuer=server.url)
    page.goto(server.url + again.url)
    expect(page.get_by_role("heading", level=1)).to_have_text("Allow App One?")
    assert len(app_one.received) == 1


def test_single_sign_on_into_a_second_application(page: Page, server, make_application, user):
    """Signed in once for app 1, the person gets a code for app 2 without seeing the login form."""
    app_one = make_application(server, "App One")
    app_two = make_application(server, "App Two", skip_consent=True)

    first = AuthorizationRequest(app_one, issuer=server.url)
    page.goto(server.url + first.url)
    sign_in(page, server, user)
    page.get_by_role("button", name="Allow").click()
    first_query = at_callback(page, app_one, first)
    assert set(first_query) == {"code", "state", "iss"}

    visited = []
    page.on("framenavigated", lambda frame: visited.append(frame.url) if frame == page.main_frame else None)
    second = AuthorizationRequest(app_two, issuer=server.url)
    page.goto(server.url + second.url)
    second_query = at_callback(page, app_two, second)
    assert set(second_query) == {"code", "state", "iss"}
    assert visited == [page.url]  # straight back to app 2: no login page, no consent page

    one = exchange(server, app_one, first, first_query["code"])
    two = exchange(server, app_two, second, second_query["code"])
    assert one["sub"] == two["sub"] == str(user.id)
    assert one["sid"] == two["sid"]  # one sign-in session serves both applications
    assert one["auth_time"] == two["auth_time"]
