"""Swagger UI in Chromium: every file from this server, under its Content-Security-Policy, and a person
can sign in with the login endpoint and then call the API, changes included (the CSRF header)."""

import json

import pytest
from playwright.sync_api import Page
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


def execute(page: Page, operation_id: str, body: dict | None = None) -> dict:
    """Open one operation, Try it out (with ``body``), Execute; the response's status and JSON body."""
    operation = page.locator(f"#operations-{operation_id}")
    operation.locator(".opblock-summary").click()
    operation.get_by_role("button", name="Try it out").click()
    if body is not None:
        operation.locator("textarea.body-param__text").fill(json.dumps(body))
    with page.expect_response(lambda response: response.request.method != "GET" or "/csrf" not in response.url) \
            as answered:
        operation.get_by_role("button", name="Execute").click()
    response = answered.value
    return {"status": response.status, "json": response.json() if response.body() else None}


def test_swagger_ui_loads_from_this_server_signs_in_and_calls_the_api(page: Page, server, user):
    """No request leaves the server; no CSP violation; login -> /currentuser -> a cookie change with CSRF."""
    requested, refused = [], []
    page.on("request", lambda request: requested.append(request.url))
    page.on("console", lambda message: refused.append(message.text)
            if "Content Security Policy" in message.text or message.type == "error" else None)

    page.goto(f"{server.url}/swagger")
    expect(page.locator(".information-container .title")).to_contain_text("Identity provider")
    expect(page.locator("#operations-auth-post__api_v1_auth_login")).to_be_visible()

    signed_in = execute(page, "auth-post__api_v1_auth_login", {"email": user.email, "password": user.password})
    assert signed_in["status"] == 200 and signed_in["json"]["user"]["email"] == user.email

    me = execute(page, "me-get__currentuser")
    assert me["status"] == 200
    assert me["json"]["email"] == user.email and me["json"]["session"]["id"] == signed_in["json"]["session"]["id"]

    ended = execute(page, "me-delete__api_v1_me_sessions")  # a change: needs X-CSRFToken with the cookie
    assert ended == {"status": 200, "json": {"sessionsEnded": 0}}

    assert requested and all(url.startswith(server.url + "/") for url in requested), requested
    assert f"{server.url}/swagger/swagger-ui-bundle.js" in requested
    assert refused == []
