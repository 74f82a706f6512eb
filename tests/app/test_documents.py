"""The JWKS and the server metadata as prebuilt bytes (app/web/documents.py): a plain GET answers
exactly what the Flask routes answer, revalidates by ETag, and follows the key ring."""

import pytest

from keys import ring
from keys import rotation

from ..helpers import wait_until

PATHS = ["/.well-known/jwks.json", "/.well-known/openid-configuration", "/.well-known/oauth-authorization-server"]


@pytest.fixture(params=["http://localhost:5000", "https://idp.example"], ids=["http", "https"])
def documents_app(request, make_app):
    app = make_app(ISSUER=request.param)
    with app.app_context():
        ring.ensure_ready()
    app.base_url = request.param
    return app


def headers_of(response) -> dict:
    return {name: value for name, value in response.headers.items() if name != "Date"}


@pytest.mark.parametrize("path", PATHS)
def test_a_plain_get_answers_what_the_route_answers(documents_app, path):
    """The prebuilt answer and the route's (a query string goes to Flask) carry the same body and
    headers: content type, ETag, Cache-Control, CORS and every security header."""
    client = documents_app.test_client()
    prebuilt = client.get(path, base_url=documents_app.base_url)
    routed = client.get(path + "?via=flask", base_url=documents_app.base_url)
    assert prebuilt.status_code == routed.status_code == 200
    assert prebuilt.data == routed.data and prebuilt.get_json()
    assert headers_of(prebuilt) == headers_of(routed)
    headers = prebuilt.headers
    assert headers["Content-Type"] == "application/json" and headers["Access-Control-Allow-Origin"] == "*"
    assert headers["Cache-Control"].startswith("public, max-age=") and headers["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in headers["Content-Security-Policy"] and "Date" in headers
    assert ("Strict-Transport-Security" in headers) == documents_app.base_url.startswith("https")
    assert client.head(path, base_url=documents_app.base_url).headers["ETag"] == headers["ETag"]


@pytest.mark.parametrize("path", PATHS)
def test_a_matching_etag_is_a_304_without_a_body(documents_app, path):
    client = documents_app.test_client()
    etag = client.get(path).headers["ETag"]
    assert etag.startswith('"') and not etag.startswith("W/")  # strong
    for matching in (etag, f'"other", {etag}', f"W/{etag}", "*"):
        again = client.get(path, headers={"If-None-Match": matching})
        assert again.status_code == 304 and again.data == b"", matching
        assert again.headers["ETag"] == etag and again.headers["X-Content-Type-Options"] == "nosniff"
        assert "Content-Type" not in again.headers
    assert client.get(path, headers={"If-None-Match": '"stale"'}).status_code == 200


def test_the_jwks_follows_a_rotation_made_by_another_process(make_app):
    """The ring hears of a rotation through the change notices: the next plain GET has the new key
    and a new ETag (interval checks off: only the notice can tell)."""
    app = make_app(KEY_RING_CHECK_INTERVAL=3600)
    other = make_app(KEY_RING_CHECK_INTERVAL=3600)
    with app.app_context():
        ring.ensure_ready()
    client = app.test_client()
    before = client.get("/.well-known/jwks.json")
    with other.app_context():
        rotation.rotate_now(other.config["KEY_ENCRYPTION_SECRET"])
    # Redis delivers the notice from its listener thread: soon, not at once.
    wait_until(lambda: client.get("/.well-known/jwks.json", headers={"If-None-Match": before.headers["ETag"]})
               .status_code == 200)
    after = client.get("/.well-known/jwks.json")
    assert after.headers["ETag"] != before.headers["ETag"]
    assert len(after.get_json()["keys"]) == len(before.get_json()["keys"]) + 1


@pytest.mark.parametrize("path", PATHS)
def test_an_unreadable_host_is_still_refused(documents_app, path):
    response = documents_app.test_client().get(path, environ_overrides={"HTTP_HOST": "a..b"})
    assert response.status_code == 400
