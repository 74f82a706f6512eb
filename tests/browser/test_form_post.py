"""response_mode=form_post in Chromium: the page posts the response to the application by itself,
or with its button when JavaScript is off, and its Content-Security-Policy lets only that happen."""

import re
from types import SimpleNamespace

import pytest
from playwright.sync_api import Page
from playwright.sync_api import expect
from werkzeug.wrappers import Request
from werkzeug.wrappers import Response

from oauth import clients
from tests.helpers import AuthorizationRequest

from .conftest import exchange
from .conftest import serve

pytestmark = pytest.mark.browser


@pytest.fixture
def form_post_application(server):
    """An application whose callback takes POSTs (form_post) and records each form it receives."""
    received = []

    @Request.application
    def callback(request):
        if request.path == "/callback":
            received.append((request.method, request.form.to_dict(), request.query_string.decode()))
        return Response("<!doctype html><title>Post App</title><h1>Post App</h1>", mimetype="text/html")

    http, thread = serve(callback)
    origin = f"http://127.0.0.1:{http.server_port}"
    with server.app.app_context():
        application, secret = clients.register("Post App", [f"{origin}/callback"], skip_consent=True)
        registered = SimpleNamespace(client_id=application.client_id, client_secret=secret, name="Post App",
                                     public=False, redirect_uris=list(application.redirect_uris), origin=origin,
                                     received=received)
    yield registered
    http.shutdown()
    thread.join()


def watch_console(page: Page) -> list[str]:
    """Every console message, CSP violations included (Chromium reports them there)."""
    messages = []
    page.on("console", lambda message: messages.append(f"{message.type}: {message.text}"))
    return messages


def sign_in(page: Page, server, user) -> None:
    expect(page).to_have_url(re.compile("^" + re.escape(f"{server.url}/login?next=/oauth/authorize/") + r"[\w-]+$"))
    page.get_by_label("Email address").fill(user.email)
    page.get_by_label("Password").fill(user.password)
    page.get_by_role("button", name="Sign in").click()


def check_received(server, application, request, user) -> None:
    """One POST to the callback with code, state and iss in the body (nothing in the URL); the code works."""
    assert len(application.received) == 1, application.received
    method, form, query = application.received[0]
    assert method == "POST" and query == ""
    assert set(form) == {"code", "state", "iss"}
    assert form["state"] == request.state and form["iss"] == server.url
    claims = exchange(server, application, request, form["code"])
    assert claims["sub"] == str(user.id) and claims["nonce"] == request.nonce


# OIDF: oidcc-server (response_mode=form_post)
def test_form_post_submits_itself_with_javascript(page: Page, server, form_post_application, user):
    console = watch_console(page)
    request = AuthorizationRequest(form_post_application, issuer=server.url, response_mode="form_post")
    page.goto(server.url + request.url)
    sign_in(page, server, user)
    expect(page).to_have_url(form_post_application.redirect_uris[0])
    expect(page.get_by_role("heading", level=1)).to_have_text("Post App")
    check_received(server, form_post_application, request, user)
    assert not [message for message in console if "Content Security Policy" in message], console


# OIDF: oidcc-server (response_mode=form_post)
def test_form_post_works_without_javascript_with_the_button(browser, server, form_post_application, user):
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    console = watch_console(page)
    request = AuthorizationRequest(form_post_application, issuer=server.url, response_mode="form_post")
    page.goto(server.url + request.url)
    sign_in(page, server, user)
    expect(page.get_by_role("heading", level=1)).to_have_text("Returning to the application")
    assert page.url.startswith(server.url) and form_post_application.received == []
    page.get_by_role("button", name="Continue").click()
    expect(page).to_have_url(form_post_application.redirect_uris[0])
    expect(page.get_by_role("heading", level=1)).to_have_text("Post App")
    check_received(server, form_post_application, request, user)
    assert not [message for message in console if "Content Security Policy" in message], console
    context.close()


def test_form_post_error_is_posted_too(page: Page, server, form_post_application):
    """prompt=none without a session: login_required goes back by POST as well."""
    console = watch_console(page)
    request = AuthorizationRequest(form_post_application, issuer=server.url, response_mode="form_post",
                                   prompt="none")
    page.goto(server.url + request.url)
    expect(page).to_have_url(form_post_application.redirect_uris[0])
    method, form, _ = form_post_application.received[0]
    assert method == "POST" and form["error"] == "login_required" and form["state"] == request.state
    assert not [message for message in console if "Content Security Policy" in message], console
