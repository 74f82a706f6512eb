"""response_mode=form_post (OAuth 2.0 Form Post Response Mode) and the response_mode values refused."""

import html
import re
from urllib.parse import parse_qs
from urllib.parse import urlsplit

import pytest

from ..helpers import AuthorizationRequest
from ..helpers import claims_of
from ..helpers import csrf_token
from ..helpers import exchange

ISSUER = "http://localhost:5000"
FORM = re.compile(r'<form method="post" action="([^"]*)" id="form-post">(.*?)</form>', re.S)
FIELD = re.compile(r'<input type="hidden" name="([^"]*)" value="([^"]*)">')
SCRIPT = re.compile(r'<script nonce="([^"]+)">([^<]*)</script>')


def posted(response) -> tuple[str, dict]:
    """The form_post page's action and fields (unescaped), after checking how it is served."""
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"].startswith("text/html")
    assert response.headers["Cache-Control"] == "no-store"
    assert "Location" not in response.headers
    form = FORM.search(response.text)
    assert form, response.text
    fields = {html.unescape(name): html.unescape(value) for name, value in FIELD.findall(form.group(2))}
    assert len(fields) == len(FIELD.findall(form.group(2)))
    assert '<button type="submit">Continue</button>' in form.group(2)  # works without JavaScript
    return html.unescape(form.group(1)), fields


def policy(response) -> dict[str, str]:
    return {directive.split()[0]: directive.partition(" ")[2]
            for directive in response.headers["Content-Security-Policy"].split("; ")}


# OIDF: oidcc-server (response_mode=form_post)
def test_code_is_posted_to_the_redirect_uri(signed_in, make_client):
    application = make_client(skip_consent=True)
    request = AuthorizationRequest(application, response_mode="form_post")
    response = signed_in.get(request.url)
    action, fields = posted(response)
    assert action == request.redirect_uri
    assert set(fields) == {"code", "state", "iss"}
    assert fields["state"] == request.state and fields["iss"] == ISSUER
    tokens = exchange(signed_in, application, request, fields["code"])
    assert tokens.status_code == 200, tokens.get_json()
    assert claims_of(tokens.get_json()["id_token"])[1]["nonce"] == request.nonce


# OIDF: oidcc-server (response_mode=form_post)
def test_form_post_page_policy_allows_its_script_and_the_client_origin_only(signed_in, make_client):
    application = make_client(skip_consent=True, redirect_uris=["https://app.example.com:8443/cb?tenant=a"])
    request = AuthorizationRequest(application, response_mode="form_post")
    response = signed_in.get(request.url)
    action, fields = posted(response)
    assert action == "https://app.example.com:8443/cb?tenant=a" and "tenant" not in fields
    nonce, script = SCRIPT.search(response.text).groups()
    assert script == 'document.getElementById("form-post").submit();'
    csp = policy(response)
    assert csp["script-src"] == f"'nonce-{nonce}'" and len(nonce) >= 22
    assert csp["form-action"] == "https://app.example.com:8443"
    assert csp["default-src"] == "'none'" and csp["frame-ancestors"] == "'none'" and csp["base-uri"] == "'none'"
    again = signed_in.get(AuthorizationRequest(application, response_mode="form_post").url)
    assert SCRIPT.search(again.text).group(1) != nonce  # a nonce per response


def test_values_are_html_escaped(signed_in, make_client):
    application = make_client(skip_consent=True)
    request = AuthorizationRequest(application, response_mode="form_post")
    request.state = request.params["state"] = '"><script>alert(1)</script>&amp;'
    response = signed_in.get(request.url)
    _, fields = posted(response)
    assert fields["state"] == request.state
    assert "<script>alert(1)" not in response.text
    assert len(SCRIPT.findall(response.text)) == 1


def test_consent_answer_is_posted(signed_in, make_client):
    """Allow on the consent page: the code goes by form_post too; Deny: access_denied by form_post."""
    application = make_client()
    for decision, expected in (("deny", {"error", "error_description", "state", "iss"}),
                               ("allow", {"code", "state", "iss"})):
        request = AuthorizationRequest(application, response_mode="form_post")
        page = signed_in.get(request.url)
        action = re.search(r'<form method="post" action="(/oauth/authorize/[^"]+)"', page.text).group(1)
        answer = signed_in.post(action, data={"csrf_token": csrf_token(page.text), "decision": decision})
        target, fields = posted(answer)
        assert target == request.redirect_uri and set(fields) == expected and fields["state"] == request.state


# OIDF: oidcc-server (response_mode=form_post)
def test_error_for_a_verified_redirect_uri_is_posted(client, make_client):
    """prompt=none without a session: login_required, posted to the client."""
    application = make_client()
    request = AuthorizationRequest(application, response_mode="form_post", prompt="none")
    action, fields = posted(client.get(request.url))
    assert action == request.redirect_uri
    assert fields["error"] == "login_required" and fields["state"] == request.state and fields["iss"] == ISSUER


# OIDF: oidcc-ensure-registered-redirect-uri
def test_unregistered_redirect_uri_with_form_post_shows_an_error_page(signed_in, make_client):
    application = make_client()
    request = AuthorizationRequest(application, response_mode="form_post",
                                   redirect_uri="https://evil.example/callback")
    response = signed_in.get(request.url)
    assert response.status_code == 400 and "Location" not in response.headers
    assert "form-post" not in response.text and "evil.example" not in response.text


# OIDF: oidcc-response-type-missing
def test_response_type_missing_with_form_post_is_refused(signed_in, make_client):
    application = make_client(skip_consent=True)
    request = AuthorizationRequest(application, response_mode="form_post", response_type=None)
    response = signed_in.get(request.url)
    if response.status_code == 200:
        _, fields = posted(response)
        assert fields["error"] in ("invalid_request", "unsupported_response_type") and "code" not in fields
    else:
        assert response.status_code in (302, 400) and "code=" not in response.headers.get("Location", "")


@pytest.mark.parametrize("mode", ["fragment", "jwt", "query.jwt", "form_post.jwt", "FORM_POST", ""])
def test_other_response_modes_are_invalid_request_by_query(signed_in, make_client, mode):
    application = make_client(skip_consent=True)
    request = AuthorizationRequest(application, response_mode=mode)
    response = signed_in.get(request.url)
    assert response.status_code == 302, response.text
    query = request.callback(response.headers["Location"])
    assert query["error"] == "invalid_request" and "code" not in query


def test_query_mode_is_the_default_spelled_out(signed_in, make_client):
    application = make_client(skip_consent=True)
    request = AuthorizationRequest(application, response_mode="query")
    response = signed_in.get(request.url)
    assert response.status_code == 302 and "code" in request.callback(response.headers["Location"])


def test_form_post_to_a_custom_scheme_is_refused(signed_in, make_client):
    """A form cannot be posted to com.example.app:/cb (nor to javascript:): invalid_request by query."""
    application = make_client(skip_consent=True, public=True, redirect_uris=["com.example.app:/callback"])
    request = AuthorizationRequest(application, response_mode="form_post")
    response = signed_in.get(request.url)
    assert response.status_code == 302
    location = response.headers["Location"]
    assert location.startswith("com.example.app:/callback?")
    query = parse_qs(urlsplit(location).query)
    assert query["error"] == ["invalid_request"] and "code" not in query


def test_form_post_asked_inside_a_request_object(signed_in, make_client, app):
    from sqlalchemy import select

    from app.extensions import db
    from oauth import clients
    from oauth.models import Application

    from .test_request_objects import by_value
    from .test_request_objects import object_claims
    from .test_request_objects import unsigned

    application = make_client(skip_consent=True)
    with app.app_context():
        db.session.scalar(select(Application).where(Application.client_id == application.client_id)) \
            .request_object_signing_alg = "none"
        db.session.commit()
        clients.invalidate()
    request = AuthorizationRequest(application)
    token = unsigned(object_claims(request, response_mode="form_post"))
    action, fields = posted(signed_in.get(by_value(request, token)))
    assert action == request.redirect_uri and fields["state"] == request.state and "code" in fields


def test_discovery_lists_the_response_modes_and_request_objects(client):
    metadata = client.get("/.well-known/openid-configuration").get_json()
    assert metadata["response_modes_supported"] == ["query", "form_post"]
    assert metadata["request_parameter_supported"] is True
    assert metadata["request_uri_parameter_supported"] is True
    assert metadata["require_request_uri_registration"] is True
    algs = metadata["request_object_signing_alg_values_supported"]
    assert "RS256" in algs and "none" in algs and not any(alg.startswith("HS") for alg in algs)
