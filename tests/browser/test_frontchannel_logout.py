"""Front-channel logout in Chromium: the logged-out page frames each application's logout URI, the
page's policy lets exactly those frames load, and the browser then continues to the application."""

import re
from urllib.parse import urlencode

import pytest
import requests
from playwright.sync_api import Page
from playwright.sync_api import expect
from sqlalchemy import select

from app.extensions import db
from oauth.models import Application
from tests.helpers import AuthorizationRequest
from tests.helpers import claims_of
from tests.relying_party import RelyingParty

from .test_oauth_sso import sign_in

pytestmark = pytest.mark.browser


@pytest.fixture
def relying_party(server):
    rp = RelyingParty(f"{server.url}/.well-known/jwks.json", issuer=server.url)
    yield rp
    rp.close()


def sign_in_to(page: Page, server, application, user) -> str:
    """The code flow in the browser, the code exchanged by the application; its ID token."""
    request = AuthorizationRequest(application, issuer=server.url)
    page.goto(server.url + request.url)
    sign_in(page, server, user)
    expect(page).to_have_url(re.compile("^" + re.escape(application.redirect_uris[0] + "?")))
    code = request.callback(page.url)["code"]
    response = requests.post(f"{server.url}/oauth/token", timeout=10, auth=(application.client_id,
                                                                            application.client_secret),
                             data={"grant_type": "authorization_code", "code": code,
                                   "redirect_uri": request.redirect_uri, "code_verifier": request.verifier})
    assert response.status_code == 200, response.text
    return response.json()["id_token"]


def policy_violations(page: Page) -> list:
    """Chromium reports each Content-Security-Policy violation on the console; collect them."""
    found = []
    page.on("console", lambda message: found.append(message.text)
            if "Content Security Policy" in message.text else None)
    return found


# OIDF: oidcc-frontchannel-rp-initiated-logout
@pytest.mark.parametrize("javascript", [True, False], ids=["script", "no-script"])
def test_frontchannel_logout_frames_load_then_the_browser_returns(browser, server, make_application, user,
                                                                  relying_party, javascript):
    """RP-initiated logout with a hint: the application's front-channel URI is requested from a frame with
    iss and sid, no policy violation, and the browser lands on the post_logout_redirect_uri with state
    (by itself once the frames loaded; by the Continue link without JavaScript)."""
    application = make_application(server, "App One", skip_consent=True, post_logout_redirect_uris=["/signed-out"])
    with server.app.app_context():
        row = db.session.scalar(select(Application).where(Application.client_id == application.client_id))
        row.frontchannel_logout_uri = relying_party.frontchannel_uri(application.client_id)
        row.frontchannel_logout_session_required = True
        db.session.commit()
    context = browser.new_context(java_script_enabled=javascript)
    try:
        page = context.new_page()
        violations = policy_violations(page)
        id_token = sign_in_to(page, server, application, user)
        signed_out = f"{application.origin}/signed-out"
        page.goto(f"{server.url}/oauth/logout?" + urlencode({
            "id_token_hint": id_token, "post_logout_redirect_uri": signed_out, "state": "st-1"}))
        if not javascript:
            expect(page.get_by_role("heading", level=1)).to_have_text("You are signed out")
            page.get_by_role("link", name="Continue").click()
        expect(page).to_have_url(signed_out + "?state=st-1")
        # The frame was requested before the page moved on (the window's load waits for its frames).
        [request] = relying_party.frontchannel
        assert request.client_id == application.client_id
        assert request.query == {"iss": server.url, "sid": claims_of(id_token)[1]["sid"]}
        assert violations == []
        # Signed out: the next authorization request asks for the password again.
        again = AuthorizationRequest(application, issuer=server.url)
        page.goto(server.url + again.url)
        expect(page).to_have_url(re.compile("^" + re.escape(f"{server.url}/login?")))
    finally:
        context.close()
