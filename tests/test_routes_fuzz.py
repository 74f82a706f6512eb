"""Every route, attacked: hostile paths, queries, bodies and headers never reach a 5xx.

Two passes over the application's own URL map (so a new route is covered the day it is added):
a fixed sweep of inputs that broke the server before (deep JSON, undecodable Basic credentials,
control and non-ASCII characters, a foreign Host over http, repeated parameters), then
hypothesis drawing requests at random. Requests go anonymous, with a live session cookie, or with
a registered client's credentials, so handlers are reached past their first check. Errors must
also come in their family's format: RFC 9457 problem JSON under /api, RFC 6749 error JSON at the
token, revocation and introspection endpoints.
"""

import base64
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st
from werkzeug.datastructures import MultiDict

from oauth import clients

from .helpers import AuthActions

# Parameter names the handlers read, so drawn values reach them; hypothesis adds others.
KNOWN_NAMES = [
    "grant_type", "code", "redirect_uri", "client_id", "client_secret", "code_verifier", "refresh_token",
    "scope", "token", "token_type_hint", "response_type", "state", "nonce", "code_challenge",
    "code_challenge_method", "prompt", "max_age", "login_hint", "id_token_hint", "post_logout_redirect_uri",
    "email", "password", "new_password", "current_password", "fullname", "given_name", "family_name",
    "phone", "phone_number", "address", "birthdate", "enabled", "keyId", "next", "decision", "csrf_token",
    "access_token", "ui_locales", "username", "avatar", "logout_hint", "client_assertion", "client_assertion_type",
]
PROTOCOL_JSON = ("/oauth/token", "/oauth/revoke", "/oauth/introspect")
DEEP_JSON = b"[" * 100_000
# JSON may escape half a UTF-16 pair; hypothesis's text never draws one.
LONE_SURROGATES = (b'{"email": "\\udfff@example.com", "password": "\\ud800", "code": "\\udc00", '
                   b'"token": "\\udfff", "\\ud800": 1}')
NASTY_TEXT = ["\t", '"', "\\", "\x00", "\x1f\x7f", "é", "\u202e", "%", "%zz", "a" * 5000, "../..", "\ud7ff",
              "javascript:alert(1)", "https://evil.example/cb", "-1", "1e309", "null", "[]", "{}"]
UNREADABLE_HOSTS = ["a..b", "a" * 64 + ".com", "h\u00e9.example", "localhost:port", "localhost:99999", "[zz]:80"]
NASTY_HEADERS = [
    {"Authorization": "Basic " + base64.b64encode(b"\xff\xfe:\xc3(").decode()},
    {"Authorization": "Basic !!!not-base64"},
    {"Authorization": "Basic " + base64.b64encode(b"no-colon").decode()},
    {"Authorization": "Basic " + base64.b64encode(b"a\x00:b").decode()},
    {"Authorization": "Basic " + base64.b64encode(b"%00:x").decode()},
    {"Authorization": "Bearer a.b.c"},
    {"Authorization": "Bearer " + "é"},
    {"Authorization": "Digest x"},
    {"Content-Type": "application/json; charset=utf-7"},
    {"Origin": "null"},
]


def _routes(app):
    found = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            found.append((rule.rule, tuple(rule.arguments), method))
    return sorted(found)


def _path(rule: str, arguments, values) -> str:
    path = rule
    for name in arguments:
        start = path.index("<")
        end = path.index(">", start)
        path = path[:start] + quote(values.get(name, "x"), safe="") + path[end + 1:]
    return path


@pytest.fixture
def targets(app, make_user):
    """The server with a signed-in browser and a registered confidential client."""
    app.config.update(LOGIN_RATE_LIMIT_IP="100000 per minute", LOGIN_RATE_LIMIT_ACCOUNT="100000 per minute")
    user = make_user()
    browser = app.test_client()
    assert AuthActions(browser).login(user.email, user.password).status_code in (302, 303)
    with app.app_context():
        application, secret = clients.register("Fuzzed", ["https://app.example.com/cb"],
                                               grant_types=["authorization_code", "refresh_token",
                                                            "client_credentials"])
        client_id = application.client_id
    basic = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    return {
        "app": app,
        "routes": _routes(app),
        "anonymous": app.test_client(use_cookies=False),
        "browser": browser,
        "client_auth": {"Authorization": "Basic " + basic},
        "client_id": client_id,
    }


def _send(targets, who: str, method: str, path: str, *, query=None, data=None, json_body=None, raw=None,
          headers=None, base_url="http://localhost", environ=None):
    client = targets["browser"] if who == "browser" else targets["anonymous"]
    headers = dict(headers or {})
    if who == "client":
        headers = {**targets["client_auth"], **headers}
    kwargs = {"method": method, "headers": headers, "base_url": base_url, "query_string": query,
              "environ_overrides": environ or {}}
    if raw is not None:
        kwargs["data"] = raw
        kwargs["content_type"] = headers.pop("Content-Type", "application/json")
    elif json_body is not None:
        kwargs["json"] = json_body
    elif data is not None:
        kwargs["data"] = data
    response = client.open(path, **kwargs)
    describe = (f"{who} {method} {path} query={query!r} data={data!r} json={json_body!r} "
                f"raw={(raw or b'')[:80]!r} headers={headers!r} environ={environ!r}")
    try:
        _check(method, path, response, describe)
    finally:
        response.close()  # a static file's answer holds the file open until closed


def _check(method, path, response, describe):
    assert response.status_code < 500, f"{response.status_code} for {describe}\n{response.get_data()[:500]!r}"
    if response.status_code < 400:
        return
    if path.startswith("/api/"):
        assert response.mimetype == "application/problem+json", f"{response.mimetype} for {describe}"
        assert response.json["status"] == response.status_code, describe
    elif path in PROTOCOL_JSON:
        assert response.mimetype == "application/json", f"{response.mimetype} for {describe}"
        assert isinstance(response.json.get("error"), str), describe


def test_every_route_survives_known_attacks(targets):
    """The inputs that once gave 500s, on every route and method, answer a 4xx in the right format."""
    for rule, arguments, method in targets["routes"]:
        for text in NASTY_TEXT:
            path = _path(rule, arguments, {name: text for name in arguments})
            params = MultiDict([(name, text) for name in ("redirect_uri", "response_type", "client_id", "scope",
                                                          "email", "token", "code", "next")])
            for who in ("anonymous", "browser", "client"):
                _send(targets, who, method, path, query=params if method == "GET" else None,
                      data=params if method != "GET" else None)
        path = _path(rule, arguments, {name: "x" for name in arguments})
        for who in ("anonymous", "browser", "client"):
            if method != "GET":
                _send(targets, who, method, path, raw=DEEP_JSON)
                _send(targets, who, method, path, raw=b'{"email": ' * 5000)
                _send(targets, who, method, path, raw=b"\xff\xfe\x00garbage")
                _send(targets, who, method, path, raw=LONE_SURROGATES)
                _send(targets, who, method, path, data=MultiDict([("grant_type", "client_credentials"),
                                                                  ("grant_type", "client_credentials")]))
            for headers in NASTY_HEADERS:
                _send(targets, who, method, path, headers=headers)
            # Plain http under a foreign name: Authlib's transport check must not become a 500.
            _send(targets, who, method, path, base_url="http://idp.example.com",
                  data={"grant_type": "client_credentials"} if method == "POST" else None)
            # Host names the router cannot encode.
            for host in UNREADABLE_HOSTS:
                _send(targets, who, method, path, environ={"HTTP_HOST": host})


_text = st.text(max_size=40) | st.sampled_from(NASTY_TEXT)
_names = st.sampled_from(KNOWN_NAMES) | st.text(min_size=1, max_size=12)
_pairs = st.lists(st.tuples(_names, _text), max_size=6)
_json = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | _text,
                     lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_names, inner, max_size=4),
                     max_leaves=12)
_latin1 = st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=255), max_size=60)
_headers = st.fixed_dictionaries({}, optional={
    "Authorization": st.sampled_from(["Basic ", "Bearer ", ""]).flatmap(lambda scheme: _latin1.map(scheme.__add__))
    | st.binary(max_size=40).map(lambda raw: "Basic " + base64.b64encode(raw).decode()),
    "Origin": _latin1, "Referer": _latin1, "Accept": _latin1, "X-Forwarded-For": _latin1,
})
_request = st.fixed_dictionaries({
    "route": st.integers(min_value=0),
    "who": st.sampled_from(["anonymous", "browser", "client"]),
    "path_values": st.dictionaries(st.sampled_from(["client_id", "handle", "session_id"]), _text),
    "query": _pairs,
    "body": st.one_of(st.none(), _pairs.map(lambda pairs: ("form", pairs)), _json.map(lambda doc: ("json", doc)),
                      st.binary(max_size=200).map(lambda raw: ("raw", raw))),
    "headers": _headers,
})


def test_random_requests_never_reach_a_server_error(targets):
    """Hypothesis draws requests to every route: no 5xx, and errors in their family's format."""
    routes = targets["routes"]

    @settings(max_examples=400, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(_request)
    def attack(drawn):
        rule, arguments, method = routes[drawn["route"] % len(routes)]
        path = _path(rule, arguments, drawn["path_values"])
        kind, content = drawn["body"] or (None, None)
        _send(targets, drawn["who"], method, path, query=MultiDict(drawn["query"]), headers=drawn["headers"],
              data=MultiDict(content) if kind == "form" else None,
              json_body=content if kind == "json" else None,
              raw=content if kind == "raw" else None)

    attack()
