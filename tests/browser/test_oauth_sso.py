"""A person authorizes applications in Chromium: consent Allow and Deny, and single sign-on."""

import re
import socket
import threading
from types import SimpleNamespace

import jwt
import pytest
import requests
from playwright.sync_api import Page
from playwright.sync_api import expect
from werkzeug.serving import make_server

from oauth import clients
from tests.helpers import AuthorizationRequest

pytestmark = pytest.mark.browser

APP_ONE = "https://app-one.example.com/callback"
APP_TWO = "https://app-two.example.com/callback"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def server(make_app):
    """The app on a free port in a thread, its ISSUER the URL the browser reaches it at."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    app = make_app(ISSUER=url)
    http = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=http.serve_forever, daemon=True)
    thread.start()
    yield SimpleNamespace(url=url, app=app)
    http.shutdown()
    thread.join()


@pytest.fixture
def register(server):
    """Register an application; returns its id, secret, redirect URIs and name."""

    def factory(name, redirect_uri, skip_consent=False):
        with server.app.app_context():
            application, secret = clients.register(name, [redirect_uri], skip_consent=skip_consent)
            return SimpleNamespace(client_id=application.client_id, client_secret=secret,
                                   redirect_uris=list(application.redirect_uris), name=name)

    return factory


@pytest.fixture
def applications(page: Page):
    """The applications' redirect URIs, answered here: the browser never leaves this machine."""
    for uri, title in ((APP_ONE, "App One"), (APP_TWO, "App Two")):
        page.route(callback_url(uri), lambda route, title=title: route.fulfill(
            status=200, content_type="text/html", body=f"<!doctype html><title>{title}</title><h1>{title}</h1>"))
    return page


def callback_url(uri: str) -> re.Pattern:
    return re.compile("^" + re.escape(uri + "?"))


def sign_in(page: Page, server, user) -> None:
    """The login page the authorization request led to, filled in and submitted."""
    expect(page).to_have_url(re.compile("^" + re.escape(f"{server.url}/login?next=/oauth/authorize/") + r"[\w-]+$"))
    page.get_by_label("Email address").fill(user.email)
    page.get_by_label("Password").fill(user.password)
    page.get_by_role("button", name="Sign in").click()


def exchange(server, client, request: AuthorizationRequest, code: str) -> dict:
    """The application's back channel: the code for tokens, the ID token verified against the JWKS."""
    response = requests.post(f"{server.url}/oauth/token", auth=(client.client_id, client.client_secret), timeout=10,
                             data={"grant_type": "authorization_code", "code": code,
                                   "redirect_uri": request.redirect_uri, "code_verifier": request.verifier})
    assert response.status_code == 200, response.text
    id_token = response.json()["id_token"]
    key = jwt.PyJWKClient(f"{server.url}/.well-known/jwks.json").get_signing_key_from_jwt(id_token)
    return jwt.decode(id_token, key.key, algorithms=["RS256"], audience=client.client_id, issuer=server.url)


def test_consent_allow_sends_a_code_to_the_application(applications: Page, server, register, user):
    """Allow on the consent page returns code, state and iss to the application's redirect URI."""
    page = applications
    app_one = register("App One", APP_ONE)
    request = AuthorizationRequest(app_one, issuer=server.url)
    page.goto(server.url + request.url)
    sign_in(page, server, user)
    expect(page.get_by_role("heading", level=1)).to_have_text("Allow App One?")
    expect(page.locator("li[data-scope]")).to_have_count(3)
    page.get_by_role("button", name="Allow").click()

    expect(page).to_have_url(callback_url(APP_ONE))
    expect(page.get_by_role("heading", level=1)).to_have_text("App One")
    query = request.callback(page.url)
    assert set(query) == {"code", "state", "iss"}
    claims = exchange(server, app_one, request, query["code"])
    assert claims["sub"] == str(user.id) and claims["nonce"] == request.nonce


def test_consent_deny_sends_access_denied_to_the_application(applications: Page, server, register, user):
    """Deny returns error=access_denied with state and iss, and is not remembered as consent."""
    page = applications
    app_one = register("App One", APP_ONE)
    request = AuthorizationRequest(app_one, issuer=server.url)
    page.goto(server.url + request.url)
    sign_in(page, server, user)
    expect(page.get_by_role("heading", level=1)).to_have_text("Allow App One?")
    page.get_by_role("button", name="Deny").click()

    expect(page).to_have_url(callback_url(APP_ONE))
    query = request.callback(page.url)
    assert query["error"] == "access_denied"
    assert "code" not in query
    assert set(query) <= {"error", "error_description", "state", "iss"}

    again = AuthorizationRequest(app_one, issuer=server.url)
    page.goto(server.url + again.url)
    expect(page.get_by_role("heading", level=1)).to_have_text("Allow App One?")


def test_single_sign_on_into_a_second_application(applications: Page, server, register, user):
    """Signed in once for app 1, the person gets a code for app 2 without seeing the login form."""
    page = applications
    app_one = register("App One", APP_ONE)
    app_two = register("App Two", APP_TWO, skip_consent=True)

    first = AuthorizationRequest(app_one, issuer=server.url)
    page.goto(server.url + first.url)
    sign_in(page, server, user)
    page.get_by_role("button", name="Allow").click()
    expect(page).to_have_url(callback_url(APP_ONE))
    first_query = first.callback(page.url)
    assert set(first_query) == {"code", "state", "iss"}

    visited = []
    page.on("framenavigated", lambda frame: visited.append(frame.url) if frame == page.main_frame else None)
    second = AuthorizationRequest(app_two, issuer=server.url)
    page.goto(server.url + second.url)
    expect(page).to_have_url(callback_url(APP_TWO))
    expect(page.get_by_role("heading", level=1)).to_have_text("App Two")
    second_query = second.callback(page.url)
    assert set(second_query) == {"code", "state", "iss"}
    assert visited == [page.url]  # straight back to app 2: no login page, no consent page

    one = exchange(server, app_one, first, first_query["code"])
    two = exchange(server, app_two, second, second_query["code"])
    assert one["sub"] == two["sub"] == str(user.id)
    assert one["sid"] == two["sid"]  # one sign-in session serves both applications
    assert one["auth_time"] == two["auth_time"]
