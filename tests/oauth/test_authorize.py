"""/oauth/authorize: validation, sign-in and consent hand-offs, prompts, and error routing."""

import re
from urllib.parse import parse_qs
from urllib.parse import urlsplit

import pytest

from ..helpers import AuthActions
from ..helpers import AuthorizationRequest
from ..helpers import csrf_token


def consent_action(page) -> str:
    return re.search(r'<form method="post" action="(/oauth/authorize/[^"]+)"', page.text).group(1)


def decide(signed_in, page, decision="allow"):
    return signed_in.post(consent_action(page), data={"csrf_token": csrf_token(page.text), "decision": decision})


def test_signed_in_user_consents_and_the_client_gets_a_code(signed_in, make_client):
    """Consent page names the app and scopes; Allow sends code, state and iss back."""
    application = make_client()
    request = AuthorizationRequest(application, scope="openid profile email")
    page = signed_in.get(request.url)
    assert page.status_code == 200
    assert "Allow Example App?" in page.text
    assert [scope for scope in re.findall(r'data-scope="([^"]+)"', page.text)] == ["openid", "profile", "email"]
    response = decide(signed_in, page)
    assert response.status_code == 303
    assert set(request.callback(response.headers["Location"])) == {"code", "state", "iss"}


def test_deny_sends_access_denied(signed_in, make_client):
    application = make_client()
    request = AuthorizationRequest(application)
    response = decide(signed_in, signed_in.get(request.url), "deny")
    assert response.status_code == 303
    query = request.callback(response.headers["Location"])
    assert query["error"] == "access_denied" and "code" not in query


def test_consent_is_remembered_and_asked_again_for_a_new_scope(signed_in, make_client):
    application = make_client()
    decide(signed_in, signed_in.get(AuthorizationRequest(application, scope="openid email").url))
    again = AuthorizationRequest(application, scope="openid email")
    response = signed_in.get(again.url)
    assert response.status_code == 302 and "code" in again.callback(response.headers["Location"])
    wider = signed_in.get(AuthorizationRequest(application, scope="openid email profile").url)
    assert wider.status_code == 200 and 'data-scope="profile"' in wider.text


def test_first_party_application_skips_consent(signed_in, make_client):
    application = make_client(skip_consent=True)
    request = AuthorizationRequest(application)
    response = signed_in.get(request.url)
    assert response.status_code == 302 and "code" in request.callback(response.headers["Location"])


def test_not_signed_in_goes_through_login_and_resumes(client, user, make_client):
    """The pending request is kept server-side; after sign-in the same request continues."""
    application = make_client(skip_consent=True)
    request = AuthorizationRequest(application, login_hint=user.email)
    response = client.get(request.url)
    assert response.status_code == 302
    login = urlsplit(response.headers["Location"])
    query = parse_qs(login.query)
    assert login.path == "/login" and query["login_hint"] == [user.email]
    resume = query["next"][0]
    assert re.fullmatch(r"/oauth/authorize/[A-Za-z0-9_-]{32}", resume)
    assert f'value="{user.email}"' in client.get(response.headers["Location"]).text
    signed_in = AuthActions(client).login(user.email, user.password, next_path=resume)
    assert signed_in.headers["Location"] == resume
    final = client.get(resume)
    assert final.status_code == 302 and "code" in request.callback(final.headers["Location"])
    assert client.get(resume).status_code == 400  # answered: the handle is spent


def test_pending_request_belongs_to_the_browser_that_started_it(app, client, user, make_client):
    """Another signed_in holding the handle cannot resume (or alter) the request."""
    application = make_client(skip_consent=True)
    response = client.get(AuthorizationRequest(application).url)
    resume = parse_qs(urlsplit(response.headers["Location"]).query)["next"][0]
    other = app.test_client()
    AuthActions(other).login(user.email, user.password)
    refused = other.get(resume)
    assert refused.status_code == 400 and "Location" not in refused.headers


def test_single_sign_on_into_a_second_application(signed_in, make_client):
    """Signed in once, a second application's request needs no login."""
    first, second = make_client(name="First"), make_client(name="Second", skip_consent=True)
    decide(signed_in, signed_in.get(AuthorizationRequest(first).url))
    request = AuthorizationRequest(second)
    response = signed_in.get(request.url)
    assert response.status_code == 302 and "code" in request.callback(response.headers["Location"])


@pytest.mark.parametrize("change, detail", [
    ({"client_id": "no-such-client"}, "client"),
    ({"redirect_uri": "https://evil.example/callback"}, "redirect"),
    ({"redirect_uri": "https://app.example.com/callback/../other"}, "redirect"),
    ({"redirect_uri": "https://app.example.com/callback?x=1"}, "redirect"),
    ({"redirect_uri": "https://APP.example.com/callback"}, "redirect"),
], ids=["unknown-client", "unregistered-uri", "path-traversal", "extra-query", "case-changed"])
def test_bad_client_or_redirect_uri_shows_a_page_and_never_redirects(signed_in, make_client, change, detail):
    """RFC 6749 §4.1.2.1: without a verified client and redirect URI there is no redirect."""
    request = AuthorizationRequest(make_client())
    request.params.update(change)
    response = signed_in.get(request.url)
    assert response.status_code == 400
    assert "Location" not in response.headers
    assert response.headers["Content-Type"].startswith("text/html")
    assert "cannot be completed" in response.text


def test_missing_redirect_uri_with_several_registered_is_refused(signed_in, make_client):
    application = make_client(redirect_uris=["https://app.example.com/a", "https://app.example.com/b"])
    request = AuthorizationRequest(application)
    del request.params["redirect_uri"]
    response = signed_in.get(request.url)
    assert response.status_code == 400 and "Location" not in response.headers


@pytest.mark.parametrize("change, error", [
    ({"response_type": "token"}, "unsupported_response_type"),
    ({"response_type": "code id_token"}, "unsupported_response_type"),
    ({"code_challenge": None, "code_challenge_method": None}, "invalid_request"),
    ({"code_challenge_method": "plain"}, "invalid_request"),
    ({"code_challenge_method": None}, "invalid_request"),
    ({"code_challenge_method": "S512"}, "invalid_request"),
    ({"code_challenge": "too-short"}, "invalid_request"),
], ids=["implicit", "hybrid", "no-pkce", "plain-pkce", "pkce-without-method", "unknown-method", "bad-challenge"])
def test_invalid_requests_go_back_to_the_client_with_state_and_iss(signed_in, make_client, change, error):
    request = AuthorizationRequest(make_client())
    for name, value in change.items():
        if value is None:
            request.params.pop(name, None)
        else:
            request.params[name] = value
    response = signed_in.get(request.url)
    assert response.status_code == 302
    assert request.callback(response.headers["Location"])["error"] == error


def test_confidential_client_may_skip_pkce_when_configured(make_app, make_user, make_client):
    app = make_app(PKCE_REQUIRED_FOR_CONFIDENTIAL=False)
    user = make_user()
    signed_in = app.test_client()
    AuthActions(signed_in).login(user.email, user.password)
    confidential = make_client(skip_consent=True)
    request = AuthorizationRequest(confidential)
    request.params.pop("code_challenge")
    request.params.pop("code_challenge_method")
    response = signed_in.get(request.url)
    assert "code" in request.callback(response.headers["Location"])
    public = make_client(public=True, skip_consent=True)
    request = AuthorizationRequest(public)
    request.params.pop("code_challenge")
    request.params.pop("code_challenge_method")
    assert request.callback(signed_in.get(request.url).headers["Location"])["error"] == "invalid_request"


def test_prompt_none_without_session_is_login_required(client, make_client):
    request = AuthorizationRequest(make_client(), prompt="none")
    response = client.get(request.url)
    assert request.callback(response.headers["Location"])["error"] == "login_required"


def test_prompt_none_without_consent_is_consent_required(signed_in, make_client):
    request = AuthorizationRequest(make_client(), prompt="none")
    response = signed_in.get(request.url)
    assert request.callback(response.headers["Location"])["error"] == "consent_required"


def test_prompt_none_with_session_and_consent_answers_silently(signed_in, make_client):
    request = AuthorizationRequest(make_client(skip_consent=True), prompt="none")
    assert "code" in request.callback(signed_in.get(request.url).headers["Location"])


def test_prompt_login_asks_to_sign_in_again(clock, signed_in, user, make_client):
    """prompt=login shows the form to a signed-in user; the new sign-in replaces the old session."""
    request = AuthorizationRequest(make_client(skip_consent=True), prompt="login")
    response = signed_in.get(request.url)
    login = urlsplit(response.headers["Location"])
    assert login.path == "/login" and parse_qs(login.query)["prompt"] == ["login"]
    resume = parse_qs(login.query)["next"][0]
    assert signed_in.get(resume).headers["Location"].startswith("/login")  # not re-authenticated yet
    page = signed_in.get(response.headers["Location"])
    assert page.status_code == 200 and 'name="password"' in page.text
    old_cookie = signed_in.get_cookie("idp_session").value
    clock.shift(5)
    form = {"csrf_token": csrf_token(page.text), "email": user.email, "password": user.password, "next": resume}
    assert signed_in.post("/login", data=form).headers["Location"] == resume
    final = signed_in.get(resume)
    assert "code" in request.callback(final.headers["Location"])
    assert signed_in.get_cookie("idp_session").value != old_cookie  # a new token for the session
    stale = signed_in.application.test_client()
    stale.set_cookie("idp_session", old_cookie)
    assert stale.get("/currentuser").status_code == 401


def test_prompt_consent_asks_again(signed_in, make_client):
    application = make_client()
    decide(signed_in, signed_in.get(AuthorizationRequest(application).url))
    page = signed_in.get(AuthorizationRequest(application, prompt="consent").url)
    assert page.status_code == 200 and "Allow Example App?" in page.text


@pytest.mark.parametrize("age, login", [(3600, False), (10, True), (0, True)], ids=["fresh", "too-old", "zero"])
def test_max_age_requires_a_recent_sign_in(clock, signed_in, make_client, age, login):
    clock.shift(60)
    request = AuthorizationRequest(make_client(skip_consent=True), max_age=str(age))
    response = signed_in.get(request.url)
    assert urlsplit(response.headers["Location"]).path == ("/login" if login else "/callback")


def test_scopes_the_client_may_not_ask_for_are_dropped(signed_in, make_client):
    application = make_client(scope="openid email")
    page = signed_in.get(AuthorizationRequest(application, scope="openid email phone").url)
    assert re.findall(r'data-scope="([^"]+)"', page.text) == ["openid", "email"]


def test_consent_decision_needs_csrf(signed_in, make_client):
    page = signed_in.get(AuthorizationRequest(make_client()).url)
    response = signed_in.post(consent_action(page), data={"decision": "allow"})
    assert response.status_code == 400 and "Location" not in response.headers


def test_discovery_says_iss_is_sent(client):
    assert client.get("/.well-known/openid-configuration").get_json()[
        "authorization_response_iss_parameter_supported"] is True
