"""Request handling shared by every area (app/web/): the one sign-in guard, credential and mail limits,
body limits."""

import flask
import pytest
from werkzeug.test import EnvironBuilder

from app.services.errors import MessageNotSent
from app.web.bodies import FormRequest

from ..helpers import AuthActions
from ..helpers import csrf_token

CHALLENGE = 'Bearer realm="http://localhost:5000"'
SIGN_IN_REQUIRED = {"type": "about:blank", "title": "Unauthorized", "status": 401,
                    "detail": "No valid session or access token."}
NESTED = "[" * 100000


@pytest.mark.parametrize("method, path", [
    ("GET", "/currentuser"),
    ("GET", "/api/v1/me"),
    ("POST", "/api/v1/me/password"),
    ("POST", "/api/v1/me/phone"),
    ("POST", "/api/v1/auth/session/renew"),
    ("GET", "/api/v1/me/applications"),
    ("DELETE", "/api/v1/me/applications/some-client"),
], ids=["currentuser", "me", "me-password", "me-phone", "session-renew", "me-applications", "revoke-application"])
def test_every_json_endpoint_that_needs_a_session_answers_alike(make_app, method, path):
    """One guard: the same 401 problem JSON and the same RFC 6750 Bearer challenge everywhere."""
    client = make_app(MOBILE_ENABLED=True).test_client()
    response = client.open(path, method=method, json={})
    assert response.status_code == 401
    assert response.headers["Content-Type"] == "application/problem+json"
    assert response.get_json() == SIGN_IN_REQUIRED
    assert response.headers.getlist("WWW-Authenticate") == [CHALLENGE]


@pytest.mark.parametrize("path", ["/account", "/account/password", "/account/applications"])
def test_every_page_that_needs_a_session_sends_the_browser_to_sign_in(client, path):
    response = client.get(path)
    assert response.status_code == 302
    assert response.headers["Location"] == f"/login?next={path}"


# --- bodies ------------------------------------------------------------------------------------

def test_deeply_nested_json_cannot_switch_off_the_account_limit(make_app, make_user):
    """A body of 100000 '[' between password guesses: each is a 400, and the guesses still lock."""
    app = make_app(LOGIN_RATE_LIMIT_ACCOUNT="10 per 15 minutes", LOGIN_RATE_LIMIT_IP="1000 per minute")
    user = make_user()
    client = app.test_client()
    statuses = []
    for _ in range(40):
        nested = client.post("/api/v1/auth/login", data=NESTED, content_type="application/json")
        assert nested.status_code == 400
        assert nested.headers["Content-Type"] == "application/problem+json"
        statuses.append(client.post("/api/v1/auth/login",
                                    json={"email": user.email, "password": "wrong password guess"}).status_code)
    assert statuses == [401] * 10 + [429] * 30
    assert client.post("/api/v1/auth/login", json={"email": user.email, "password": user.password}).status_code == 429


def test_deeply_nested_json_is_a_400_on_the_account_api(app, user):
    client = app.test_client()
    AuthActions(client).login(user.email, user.password)
    token = csrf_token(client.get("/account/profile").text)
    response = client.patch("/api/v1/me", data=NESTED, content_type="application/json",
                            headers={"X-CSRFToken": token})
    assert response.status_code == 400
    assert response.headers["Content-Type"] == "application/problem+json"


BIG = b"x" * (2 * 1024 * 1024)


def assert_area_error(response, status: int, shape: str) -> None:
    """``status`` in the family of the request's area: problem JSON, the HTML page, or OAuth JSON."""
    assert response.status_code == status, response.text
    if shape == "problem":
        assert response.headers["Content-Type"] == "application/problem+json"
        assert response.get_json()["status"] == status
    elif shape == "page":
        assert response.headers["Content-Type"].startswith("text/html")
    else:
        assert response.get_json()["error"] == "invalid_request"


@pytest.mark.parametrize("path, content_type, shape", [
    ("/api/v1/auth/login", "application/json", "problem"),
    ("/api/v1/auth/register", "application/json", "problem"),
    ("/login", "application/x-www-form-urlencoded", "page"),
    ("/oauth/token", "application/x-www-form-urlencoded", "oauth"),
], ids=["api-login", "api-register", "login-page", "token"])
def test_a_body_over_the_size_limit_is_413_in_the_area_format(client, path, content_type, shape):
    """MAX_CONTENT_LENGTH (1 MiB): a 2 MB body is refused before it is read."""
    assert_area_error(client.post(path, data=BIG, content_type=content_type), 413, shape)


@pytest.mark.parametrize("method, path, kwargs, shape", [
    ("GET", "/oauth/logout", {"query_string": {"id_token_hint": "a\x00b"}}, "page"),
    ("POST", "/oauth/revoke", {"data": {"token": "a\x00b"}}, "oauth"),
    ("POST", "/oauth/token", {"data": {"grant_type": "authorization_code", "code": "\x00"}}, "oauth"),
    ("GET", "/oauth/authorize/%00", {}, "page"),
    ("POST", "/api/v1/auth/login", {"json": {"email": "a\x00@example.com", "password": "x"}}, "problem"),
    ("POST", "/api/v1/auth/password/forgot", {"json": {"email\x00": "a@example.com"}}, "problem"),
    ("POST", "/login", {"data": {"email": "a\x00@example.com", "password": "x"}}, "page"),
], ids=["logout-query", "revoke-form", "token-form", "handle-path", "api-json", "api-json-key", "login-form"])
def test_a_nul_character_is_a_400_in_the_area_format(client, method, path, kwargs, shape):
    """PostgreSQL refuses NUL in text (a 500 once): refused at the edge, in the area's error format."""
    assert_area_error(client.open(path, method=method, **kwargs), 400, shape)


@pytest.mark.parametrize("path, field", [("/account/profile", "fullname"), ("/admin/roles", "description")])
def test_a_nul_character_in_a_page_form_with_its_csrf_token_is_a_400(browser_as, path, field):
    """The CSRF check parses a page's form before the NUL check runs (it reads the body's stream):
    the parsed values are checked then. The page's own form, with a valid token, is refused too
    (a NUL once reached a role's description and an application's name: 500 on PostgreSQL)."""
    browser = browser_as("superAdmin")
    response = browser.http.post(path, data={"csrf_token": browser.token, "name": "nul-role", "fullname": "x",
                                             field: "a\x00b"})
    assert_area_error(response, 400, "page")


@pytest.mark.parametrize("path, body", [
    ("/api/v1/auth/login", '{"email": "nobody@example.com", "password": "\\udfff"}'),
    ("/api/v1/auth/login", '{"email": "\\ud800@example.com", "password": "x"}'),
    ("/api/v1/auth/password/forgot", '{"email": "\\udfff"}'),
    ("/api/v1/auth/password/reset", '{"email": "nobody@example.com", "code": "\\ud800", "password": "x"}'),
    ("/api/v1/auth/verify/resend", '{"email": "\\udc00"}'),
], ids=["login-password", "login-email", "forgot", "reset-code", "resend"])
def test_a_lone_surrogate_in_json_is_a_400(client, path, body):
    """JSON may escape half a UTF-16 pair (\\ud800): no Unicode text, and it once broke hashing
    and keys into 500s for unknown accounts only (an enumeration oracle). Refused as malformed."""
    response = client.post(path, data=body, content_type="application/json")
    assert_area_error(response, 400, "problem")


@pytest.mark.parametrize("body", [
    b"grant_type=client_credentials&scope=a+b&scope=c", b"a=&b&=c&&d=%ZZ", b"name=Z%C3%BCrich%20%E2%98%83",
    b"not-utf-8=\xff\xfe", b"latin=%FF", b"", b"token=" + b"x" * 5000,
], ids=["repeated", "blanks-and-bad-escape", "utf-8", "raw-non-utf-8", "escaped-non-utf-8", "empty", "long"])
def test_an_urlencoded_body_read_before_parses_as_werkzeug_parses_it(body):
    """app.web.bodies.FormRequest parses the body refuse_nul_parameters read, to the same form."""
    forms = []
    for request_class, read_first in ((flask.Request, False), (FormRequest, True)):
        environ = EnvironBuilder(method="POST", path="/oauth/token", data=body,
                                 content_type="application/x-www-form-urlencoded").get_environ()
        request = request_class(environ)
        if read_first:
            assert request.get_data(cache=True) == body
        forms.append((list(request.form.lists()), request.files, request.stream.read(), request.get_data()))
    assert forms[0][:3] == forms[1][:3] and forms[1][3] == body


@pytest.mark.parametrize("host", ["a..b", "a" * 64 + ".com", "h\u00e9.example", "localhost:port", "localhost:99999",
                                  "a b", "[zz]:80", "localhost:5000:1", "-a.com", "%2e.com"],
                         ids=["empty-label", "long-label", "non-ascii", "bad-port", "port-out-of-range", "space",
                              "bad-ipv6", "two-ports", "leading-hyphen", "percent"])
@pytest.mark.parametrize("path, shape", [
    ("/login", "page"), ("/api/v1/me", "problem"), ("/oauth/token", "oauth"), ("/oauth/authorize", "page"),
], ids=["page", "api", "token", "authorize"])
def test_an_unreadable_host_is_a_400_in_the_area_format(client, host, path, shape):
    """A Host that is no host name is a 400 (one the router cannot encode raised before any error
    handler: a bare 500)."""
    method = "POST" if path == "/oauth/token" else "GET"
    assert_area_error(client.open(path, method=method, environ_overrides={"HTTP_HOST": host}), 400, shape)


# --- mail-sending views ----------------------------------------------------------------------------

def test_registration_is_limited_per_ip_across_page_and_api(make_app, mailbox):
    """MAIL_RATE_LIMIT_IP counts every mail-sending request of an address, pages and API together."""
    app = make_app(MAIL_RATE_LIMIT_IP="3 per minute")
    client = app.test_client()
    for number in range(2):
        sent = client.post("/api/v1/auth/register", json={
            "email": f"new{number}@example.com", "fullname": "Grace Hopper", "password": "violet tractor moonlight"})
        assert sent.status_code == 202
    page = client.get("/register")
    form = {"csrf_token": csrf_token(page.text), "email": "new2@example.com", "fullname": "Grace Hopper",
            "password": "violet tractor moonlight", "next": ""}
    assert client.post("/register", data=form).status_code == 303
    refused = client.post("/api/v1/auth/register", json={
        "email": "new3@example.com", "fullname": "Grace Hopper", "password": "violet tractor moonlight"})
    assert refused.status_code == 429
    assert refused.headers["Content-Type"] == "application/problem+json"
    assert int(refused.headers["Retry-After"]) > 0
    assert client.post("/register", data=form).status_code == 429
    assert sorted(message["To"] for message in mailbox.messages) == [
        "new0@example.com", "new1@example.com", "new2@example.com"]


@pytest.mark.parametrize("path", ["/api/v1/auth/verify/resend", "/api/v1/auth/password/forgot"],
                         ids=["verify-resend", "password-forgot"])
def test_mail_requests_are_limited_per_ip(make_app, path):
    """The per-IP ceiling, whatever the addresses (each has its own resend window besides)."""
    app = make_app(MAIL_RATE_LIMIT_IP="2 per minute")
    client = app.test_client()
    answers = [client.post(path, json={"email": f"someone{n}@example.com"}).status_code for n in range(3)]
    assert answers == [202, 202, 429]


# --- one problem table ---------------------------------------------------------------------------

def test_every_refusal_of_the_services_has_its_status_and_title():
    """app/api/errors.py is the one table: no refusal falls through to a generic answer."""
    import importlib
    import pkgutil

    import app.services
    from app.api.errors import PROBLEMS
    from app.services.errors import DomainError
    for module in pkgutil.iter_modules(app.services.__path__):
        importlib.import_module(f"app.services.{module.name}")
    refusals = set()
    pending = [DomainError]
    while pending:
        kind = pending.pop()
        refusals.add(kind)
        pending.extend(kind.__subclasses__())
    # SecondFactorRequired is not a refusal the API shows: the sign-in answers 202.
    missing = {kind.__name__ for kind in refusals if kind not in PROBLEMS} - {"SecondFactorRequired"}
    assert missing == set()


def test_a_mail_outage_changes_no_anonymous_answer_and_only_the_sign_in_code_says_so(make_app, make_user):
    """Mail down: a reset for a registered address answers exactly as for an unknown one (the mail
    goes out after the request); the sign-in code, sent inside the request after a right password,
    says that it could not be sent."""
    import socket
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    app = make_app(MAIL_PORT=closed_port, EMAIL_2FA_REQUIRED=True)
    client, user = app.test_client(), make_user()
    known = client.post("/api/v1/auth/password/forgot", json={"email": user.email})
    unknown = client.post("/api/v1/auth/password/forgot", json={"email": "nobody@example.com"})
    assert (known.status_code, known.get_json()) == (unknown.status_code, unknown.get_json())
    assert (known.status_code, known.get_json()) == (202, {"status": "sent_if_registered"})
    login = client.post("/api/v1/auth/login", json={"email": user.email, "password": user.password})
    assert login.status_code == 202
    assert login.get_json() == {"status": "second_factor_required", "detail": MessageNotSent.public_message}
