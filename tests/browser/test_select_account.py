"""Two accounts in one Chromium, behind https as in production: "Use another account", the account
chooser of prompt=select_account, and an authorization request POSTed from the application's page."""

import re
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Page
from playwright.sync_api import expect

from tests.helpers import AuthorizationRequest

from .conftest import exchange

pytestmark = [pytest.mark.browser, pytest.mark.browser_context_args(ignore_https_errors=True)]


def at_callback(page: Page, application, request: AuthorizationRequest) -> dict:
    expect(page).to_have_url(re.compile("^" + re.escape(application.redirect_uris[0] + "?")))
    assert application.received[-1] == urlsplit(page.url).query
    return request.callback(page.url)


def fill_login(page: Page, user) -> None:
    expect(page.get_by_role("heading", level=1)).to_have_text("Sign in")
    page.get_by_label("Email address").fill(user.email)
    page.get_by_label("Password").fill(user.password)
    page.get_by_role("button", name="Sign in").click()


def subject(server, application, request, query) -> str:
    return exchange(server, application, request, query["code"])["sub"]


def test_two_accounts_and_the_account_chooser(page: Page, https_server, make_application, make_user):
    server = https_server
    ada, bob = make_user(fullname="Ada Lovelace"), make_user(fullname="Bob Babbage")
    application = make_application(server, "Photo Album", skip_consent=True)

    # No account in the browser yet: select_account shows the login form.
    first = AuthorizationRequest(application, issuer=server.url, prompt="select_account")
    page.goto(server.url + first.url)
    fill_login(page, ada)
    assert subject(server, application, first, at_callback(page, application, first)) == str(ada.id)

    # One account: the chooser still asks; "Use another account" signs Bob in beside Ada.
    second = AuthorizationRequest(application, issuer=server.url, prompt="select_account")
    page.goto(server.url + second.url)
    expect(page.get_by_role("heading", level=1)).to_have_text("Choose an account")
    expect(page.get_by_role("button")).to_have_text([ada.email])
    page.get_by_role("link", name="Use another account").click()
    fill_login(page, bob)
    assert subject(server, application, second, at_callback(page, application, second)) == str(bob.id)

    cookies = {cookie["name"]: cookie for cookie in page.context.cookies()}
    for name in ("__Host-idp_session", "__Host-idp_accounts"):
        assert cookies[name]["httpOnly"] and cookies[name]["secure"] and cookies[name]["path"] == "/"
    assert cookies["__Host-idp_accounts"]["sameSite"] == "Lax"

    # Two accounts: both listed, the active one first; picking Ada gives Ada's code.
    third = AuthorizationRequest(application, issuer=server.url, prompt="select_account")
    page.goto(server.url + third.url)
    expect(page.get_by_role("button")).to_have_text([bob.email, ada.email])
    page.get_by_role("button", name=ada.email).click()
    assert subject(server, application, third, at_callback(page, application, third)) == str(ada.id)

    # Signing out signs Ada out only: Bob is the account in use afterwards.
    page.goto(f"{server.url}/logout")
    page.get_by_role("button", name="Sign out").click()
    silent = AuthorizationRequest(application, issuer=server.url, prompt="none")
    page.goto(server.url + silent.url)
    assert subject(server, application, silent, at_callback(page, application, silent)) == str(bob.id)


# OIDF: oidcc-ensure-post-request-succeeds
def test_authorization_request_posted_from_the_application(page: Page, https_server, make_application, user):
    """The application's page POSTs the request (a form, cross-site): the signed-in person gets a code
    without signing in again, although that POST carried none of the server's cookies."""
    server = https_server
    application = make_application(server, "Photo Album", skip_consent=True)
    first = AuthorizationRequest(application, issuer=server.url)
    page.goto(server.url + first.url)
    fill_login(page, user)
    at_callback(page, application, first)

    # A long parameter too: the request does not travel in a URL after the POST.
    posted = AuthorizationRequest(application, issuer=server.url, prompt="none", padding="x" * 9000)
    page.goto(application.origin + "/start")
    page.evaluate("""([action, params]) => {
        const form = document.createElement("form");
        form.method = "post";
        form.action = action;
        for (const [name, value] of Object.entries(params)) {
            const input = document.createElement("input");
            input.type = "hidden"; input.name = name; input.value = value;
            form.appendChild(input);
        }
        document.body.appendChild(form);
        form.submit();
    }""", [f"{server.url}/oauth/authorize", posted.params])
    assert subject(server, application, posted, at_callback(page, application, posted)) == str(user.id)
