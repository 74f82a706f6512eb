"""/currentuser, /health, /admin/health and the security headers every response carries."""

import pytest

from keys import ring


def test_currentuser_describes_the_signed_in_user(app, client, auth, user):
    auth.login(user.email, user.password)
    response = client.get("/currentuser")
    assert response.status_code == 200
    body = response.get_json()
    assert set(body) == {"id", "email", "fullname", "avatar", "roleId", "roles", "emailVerified", "phone", "address",
                         "isActive", "createdAt", "updatedAt", "session"}
    assert body["id"] == str(user.id) and body["email"] == user.email and body["fullname"] == "Ada Lovelace"
    [role] = body["roles"]
    assert role["name"] == "user" and body["roleId"] == role["id"]
    assert body["emailVerified"] is True and body["isActive"] is True
    assert body["phone"] is None and body["address"] is None
    assert body["createdAt"].endswith("Z") and body["updatedAt"].endswith("Z")
    assert body["avatar"].startswith("https://gravatar.com/avatar/") and "s=200&d=identicon" in body["avatar"]
    assert set(body["session"]) == {"id", "expiresAt", "idleExpiresAt"}
    assert body["session"]["expiresAt"].endswith("Z")
    assert body["session"]["idleExpiresAt"] < body["session"]["expiresAt"]


def test_currentuser_without_session_is_problem_json(client):
    response = client.get("/currentuser")
    assert response.status_code == 401
    assert response.headers["Content-Type"] == "application/problem+json"
    assert response.get_json() == {"type": "about:blank", "title": "Unauthorized", "status": 401,
                                   "detail": "No valid session or access token."}
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="http://localhost:5000"'


def test_health_is_liveness_only(client):
    response = client.get("/health")
    assert response.status_code == 200 and response.get_json() == {"status": "ok"}


def test_admin_health_reports_each_component(backend, make_app):
    app = make_app()
    with app.app_context():
        ring.ensure_ready()
    response = app.test_client().get("/admin/health")
    assert response.status_code == 200
    expected = {"database": "ok", "keys": "ok"}
    if backend.redis_url:
        expected["redis"] = "ok"
    assert response.get_json() == {"status": "ok", "components": expected}


def test_admin_health_fails_when_keys_do_not_open(make_app):
    """A wrong KEY_ENCRYPTION_SECRET makes the key ring unusable, and readiness says so."""
    with make_app().app_context():
        ring.ensure_ready()
    other = make_app(KEY_ENCRYPTION_SECRET="another secret entirely, not the one that sealed")
    assert other.test_client().get("/admin/health").get_json()["components"]["keys"] == "unavailable"


@pytest.mark.parametrize("path", ["/login", "/currentuser", "/health", "/no-such-page", "/static/style.css"])
def test_security_headers_on_every_response(client, path):
    """RFC 9700 §4.16 clickjacking protection and the other headers, on pages and API alike."""
    with client.get(path) as response:
        headers = response.headers
    assert headers["X-Frame-Options"] == "DENY"
    csp = headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in csp
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert headers["Referrer-Policy"] == "same-origin"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert "Strict-Transport-Security" not in headers  # only when the issuer is https


def test_pages_have_no_inline_script_or_style(client, auth, user):
    for page in (client.get("/login"), auth.login(user.email, "wrong password for this"),
                 client.get("/no-such-page")):
        assert "<script" not in page.text and "style=" not in page.text


def test_unknown_page_is_an_html_error_page(client):
    response = client.get("/no-such-page")
    assert response.status_code == 404
    assert response.headers["Content-Type"].startswith("text/html")
    assert "Not Found" in response.text


def test_wrong_method_keeps_allow_header(client):
    response = client.put("/currentuser")
    assert response.status_code == 405
    assert response.headers["Content-Type"] == "application/problem+json"
    assert "GET" in response.headers["Allow"]
