"""A code issued just before a sign-out, a new password or a withdrawn grant dies with them: its
exchange is invalid_grant (RFC 6749 §5.2), like the tokens those events revoke. Codes of another
session, user or application are left alone."""

import logging

import pytest
from sqlalchemy import select

from app.clock import now
from app.extensions import db
from oauth.models import AuthorizationCode

from ..helpers import CONSENT_ACTION
from ..helpers import AuthActions
from ..helpers import AuthorizationRequest
from ..helpers import change_on_the_account_page
from ..helpers import change_through_the_api
from ..helpers import csrf_token
from ..helpers import exchange
from ..helpers import get_code
from ..helpers import reset_by_code
from ..helpers import set_on_the_command_line


def sign_out_on_the_page(app, client, user, mailbox):
    return client.post("/logout", data={"csrf_token": csrf_token(client.get("/logout").text)})


def sign_out_through_the_api(app, client, user, mailbox):
    return client.post("/api/v1/auth/logout", json={}, headers={"X-CSRFToken": csrf_token(client.get("/logout").text)})


def end_from_another_browser(app, client, user, mailbox):
    """The user, signed in elsewhere, ends ``client``'s session through the account API."""
    session_id = client.get("/currentuser").get_json()["session"]["id"]
    other = signed_in_as(app, user)
    return other.delete(f"/api/v1/me/sessions/{session_id}",
                        headers={"X-CSRFToken": csrf_token(other.get("/logout").text)})


SESSION_ENDS = [sign_out_on_the_page, sign_out_through_the_api, end_from_another_browser]
PASSWORD_CHANGES = [change_on_the_account_page, change_through_the_api, reset_by_code, set_on_the_command_line]
EVENTS = SESSION_ENDS + PASSWORD_CHANGES
EVENT_IDS = ["logout-page", "logout-api", "session-ended", "password-page", "password-api", "reset", "cli"]


def signed_in_as(app, user):
    http = app.test_client()
    assert AuthActions(http).login(user.email, user.password).status_code == 303
    return http


def succeeded(result) -> bool:
    return getattr(result, "status_code", None) in (200, 204, 303) or getattr(result, "exit_code", None) == 0


def assert_invalid_grant(response):
    assert response.status_code == 400, response.get_json()
    assert response.get_json()["error"] == "invalid_grant"


def code_after_consent(signed_in, application, scope="openid offline_access"):
    """A code for an application that asks for consent (so the user holds a grant to withdraw)."""
    request = AuthorizationRequest(application, scope=scope)
    page = signed_in.get(request.url)
    assert page.status_code == 200, page.text
    response = signed_in.post(CONSENT_ACTION.search(page.text).group(1),
                              data={"csrf_token": csrf_token(page.text), "decision": "allow"})
    assert response.status_code == 303, response.text
    return request, request.callback(response.headers["Location"])["code"]


@pytest.mark.parametrize("event", EVENTS, ids=EVENT_IDS)
def test_an_outstanding_code_dies_with_the_event(app, signed_in, user, make_client, mailbox, caplog, event):
    """invalid_grant afterwards; the code was expired, not consumed, so no reuse is reported."""
    application = make_client(public=True, skip_consent=True)
    request, code = get_code(signed_in, application, scope="openid offline_access")
    assert succeeded(event(app, signed_in, user, mailbox))
    with caplog.at_level(logging.WARNING, logger="security"):
        assert_invalid_grant(exchange(app.test_client(), application, request, code))
    assert "authorization_code.reused" not in caplog.text
    with app.app_context():
        record = db.session.scalar(select(AuthorizationCode))
        assert record.consumed_at is None and record.expires_at <= now()


@pytest.mark.parametrize("event", EVENTS, ids=EVENT_IDS)
def test_another_users_code_is_unaffected(app, signed_in, user, make_user, make_client, mailbox, event):
    application = make_client(public=True, skip_consent=True)
    request, code = get_code(signed_in, application)
    other = signed_in_as(app, make_user())
    other_request, other_code = get_code(other, application)
    assert succeeded(event(app, signed_in, user, mailbox))
    assert_invalid_grant(exchange(app.test_client(), application, request, code))
    assert exchange(app.test_client(), application, other_request, other_code).status_code == 200


def test_ending_one_session_leaves_the_codes_of_the_others(app, signed_in, user, make_client):
    """The browser that ends another session keeps its own code; the ended session's code dies."""
    application = make_client(public=True, skip_consent=True)
    ended_request, ended_code = get_code(signed_in, application)
    other = signed_in_as(app, user)
    kept_request, kept_code = get_code(other, application)
    session_id = signed_in.get("/currentuser").get_json()["session"]["id"]
    response = other.delete(f"/api/v1/me/sessions/{session_id}",
                            headers={"X-CSRFToken": csrf_token(other.get("/logout").text)})
    assert response.status_code == 204
    assert_invalid_grant(exchange(app.test_client(), application, ended_request, ended_code))
    assert exchange(app.test_client(), application, kept_request, kept_code).status_code == 200


def withdraw_through_the_api(signed_in, application):
    return signed_in.delete(f"/api/v1/me/applications/{application.client_id}",
                            headers={"X-CSRFToken": csrf_token(signed_in.get("/logout").text)})


def withdraw_on_the_account_page(signed_in, application):
    page = signed_in.get("/account/applications")
    return signed_in.post(f"/account/applications/{application.client_id}/revoke",
                          data={"csrf_token": csrf_token(page.text)})


@pytest.mark.parametrize("withdraw", [withdraw_through_the_api, withdraw_on_the_account_page], ids=["api", "page"])
def test_withdrawing_a_grant_kills_that_applications_code_only(app, signed_in, make_client, withdraw):
    """Application A's outstanding code is invalid_grant; B's, from the same session, still redeems."""
    withdrawn = make_client(public=True, name="Withdrawn App")
    kept = make_client(public=True, name="Kept App")
    withdrawn_request, withdrawn_code = code_after_consent(signed_in, withdrawn)
    kept_request, kept_code = code_after_consent(signed_in, kept)
    assert withdraw(signed_in, withdrawn).status_code in (204, 303)
    assert_invalid_grant(exchange(app.test_client(), withdrawn, withdrawn_request, withdrawn_code))
    response = exchange(app.test_client(), kept, kept_request, kept_code)
    assert response.status_code == 200 and "refresh_token" in response.get_json()


def test_a_code_outliving_its_session_is_refused(clock, make_app, make_user, make_client):
    """The exchange itself checks the sign-in session: one past its absolute limit within the
    code's 60 s leaves the code unredeemable, though no event expired it."""
    app = make_app(SESSION_IDLE_TTL=60, SESSION_MAX_TTL=60)
    user = make_user()
    application = make_client(public=True, skip_consent=True)
    signed_in = signed_in_as(app, user)
    clock.shift(30)
    request, code = get_code(signed_in, application)
    clock.shift(31)  # the session ended at 60 s; the code would live until 90 s
    assert_invalid_grant(exchange(app.test_client(), application, request, code))
