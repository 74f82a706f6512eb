"""Every form works in production's shape: an https issuer behind a TLS front, where the CSRF check
also wants the request to come from the server's own origin (Referer and Origin)."""

import re
from urllib.parse import urlencode
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Page
from playwright.sync_api import expect

from tests.helpers import AuthorizationRequest

from .conftest import exchange

pytestmark = [pytest.mark.browser, pytest.mark.browser_context_args(ignore_https_errors=True)]


def sign_in(page: Page, user) -> None:
    page.get_by_label("Email address").fill(user.email)
    page.get_by_label("Password").fill(user.password)
    page.get_by_role("button", name="Sign in").click()


def test_sign_in_and_save_the_profile_over_https(page: Page, https_server, user):
    """Sign-in and an account form are accepted from the server's own https pages."""
    page.goto(f"{https_server.url}/login")
    sign_in(page, user)
    expect(page).to_have_url(f"{https_server.url}/account")
    assert {cookie["name"] for cookie in page.context.cookies()} >= {"__Host-idp_session", "__Host-state"}

    page.goto(f"{https_server.url}/account/profile")
    page.get_by_label("Full name").fill("Ada King")
    page.get_by_role("button", name="Save").click()
    expect(page).to_have_url(f"{https_server.url}/account")
    expect(page.get_by_role("status")).to_have_text("Your profile was saved.")


def test_consent_allow_over_https(page: Page, https_server, make_application, user):
    """Sign-in and Allow through an authorization request: the application gets a code that works."""
    application = make_application(https_server, "Photo Album")
    request = AuthorizationRequest(application, issuer=https_server.url)
    page.goto(https_server.url + request.url)
    sign_in(page, user)
    expect(page.get_by_role("heading", level=1)).to_have_text("Allow Photo Album?")
    page.get_by_role("button", name="Allow").click()

    expect(page).to_have_url(re.compile("^" + re.escape(application.redirect_uris[0] + "?")))
    assert application.received == [urlsplit(page.url).query]
    assert application.referrers == [None]  # our URLs never reach another site
    query = request.callback(page.url)
    assert set(query) == {"code", "state", "iss"}
    claims = exchange(https_server, application, request, query["code"])
    assert claims["sub"] == str(user.id) and claims["iss"] == https_server.url


def test_rp_initiated_logout_confirmation_over_https(page: Page, https_server, make_application, user):
    """An application's logout request, confirmed on the server's page, ends the session and returns
    the browser to the application's registered post-logout URI."""
    application = make_application(https_server, "Photo Album", skip_consent=True,
                                   post_logout_redirect_uris=["/signed-out"])
    request = AuthorizationRequest(application, issuer=https_server.url)
    page.goto(https_server.url + request.url)
    sign_in(page, user)
    expect(page).to_have_url(re.compile("^" + re.escape(application.redirect_uris[0] + "?")))
    claims = exchange(https_server, application, request, request.callback(page.url)["code"])

    page.goto(f"{https_server.url}/oauth/logout?" + urlencode({
        "client_id": application.client_id, "post_logout_redirect_uri": f"{application.origin}/signed-out",
        "state": "bye"}))
    expect(page.get_by_role("heading", level=1)).to_have_text("Sign out")
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(f"{application.origin}/signed-out?state=bye")
    assert claims["sub"] == str(user.id)

    page.goto(f"{https_server.url}/account")
    expect(page).to_have_url(re.compile("^" + re.escape(f"{https_server.url}/login")))


def test_sign_out_over_https(page: Page, https_server, user):
    """The server's own sign-out form ends the session."""
    page.goto(f"{https_server.url}/login")
    sign_in(page, user)
    expect(page).to_have_url(f"{https_server.url}/account")
    page.goto(f"{https_server.url}/logout")
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile("^" + re.escape(f"{https_server.url}/login")))
    assert "__Host-idp_session" not in {cookie["name"] for cookie in page.context.cookies()}
