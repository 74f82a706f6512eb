"""The server behind a TLS-terminating proxy (TRUSTED_PROXY_HOPS=1, X-Forwarded-Proto: https): forms
work when posted from the server's own pages and are refused from another origin, token or not."""

from types import SimpleNamespace

import pytest

from ..helpers import csrf_token

ISSUER = "https://idp.example"
OWN_PAGE = {"Origin": ISSUER, "Referer": f"{ISSUER}/login"}


@pytest.fixture
def front(make_app):
    """Requests reaching the app the way the TLS front forwards a browser's: plain HTTP to the app,
    the browser's Host, and X-Forwarded-Proto: https."""
    client = make_app(ISSUER=ISSUER, TRUSTED_PROXY_HOPS=1).test_client()

    def forwarded(method):
        def send(path, headers=None, **kwargs):
            return client.open(path, method=method, base_url="http://idp.example",
                               headers={"X-Forwarded-Proto": "https", **(headers or {})}, **kwargs)
        return send

    return SimpleNamespace(get=forwarded("GET"), post=forwarded("POST"))


def post_login(front, user, **headers):
    page = front.get("/login")
    assert page.status_code == 200
    form = {"csrf_token": csrf_token(page.text), "email": user.email, "password": user.password, "next": ""}
    return front.post("/login", data=form, headers=headers)


def test_pages_send_referrers_to_the_same_origin_only(front):
    """Our own form posts carry a Referer and Origin; other sites get no Referer from our pages."""
    page = front.get("/login")
    assert page.headers["Referrer-Policy"] == "same-origin"
    assert page.headers["Strict-Transport-Security"].startswith("max-age=")


def test_sign_in_posted_from_the_servers_own_page(front, user):
    """The browser's headers for a same-origin form post pass the https CSRF check; 303 to the account."""
    response = post_login(front, user, **OWN_PAGE)
    assert response.status_code == 303 and response.headers["Location"] == "/account"
    assert any(cookie.startswith("__Host-idp_session=") and "Secure" in cookie
               for cookie in response.headers.getlist("Set-Cookie"))


@pytest.mark.parametrize("headers", [
    {"Origin": "https://evil.example", "Referer": "https://evil.example/page"},
    {"Origin": "null"},
    {"Origin": "https://evil.example"},
    {"Origin": "http://idp.example", "Referer": "http://idp.example/login"},
    {},
], ids=["other-site", "opaque-origin", "other-site-no-referrer", "plain-http-page", "no-referrer"])
def test_sign_in_from_another_origin_is_refused_despite_a_valid_token(front, user, headers):
    """A cross-origin post (what another site's form sends) is refused even with a valid CSRF token."""
    response = post_login(front, user, **headers)
    assert response.status_code == 400
    assert "The referrer" in response.text
    assert not any(cookie.startswith("__Host-idp_session=") for cookie in response.headers.getlist("Set-Cookie"))
