"""The API described: /openapi.json is a valid OpenAPI 3.1 document holding every JSON route of the
application with its methods and refusals; its examples fit their schemas; the Postman collection
made from it has the v2.1 shape and one of its requests works against a live server; the start page."""

import json
import re

import jsonschema
import pytest
import requests
from openapi_spec_validator import validate

from ..helpers import ACCOUNT_CLIENT_SCOPE
from ..helpers import ACCOUNT_SCOPES
from ..helpers import grant_tokens

METHODS = {"GET", "POST", "PUT", "PATCH", "DELETE"}
# Browser pages (HTML forms, redirects) and the page-like routes of the OAuth package: everything else in
# the URL map answers JSON and must be described, whichever blueprint adds it.
PAGE_BLUEPRINTS = {"auth", "onboarding", "account", "oauth_account", "home", "swagger", "console", "keys_console",
                   "applications_console"}
PAGE_ENDPOINTS = {"static", "favicon", "oauth.resume", "oauth.decide", "oauth.authorize_posted", "oauth.choose_account"}
POSTMAN_SCHEMA = "https://schema.getpostman.com/json/collection/v2.1.0/collection.json"


@pytest.fixture
def document(client):
    response = client.get("/openapi.json")
    assert response.status_code == 200 and response.mimetype == "application/json"
    return response.get_json()


def operations(document):
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method.upper() in METHODS:
                yield path, method.upper(), operation


def json_routes(app):
    """(OpenAPI path, method) of every JSON route in the URL map."""
    for rule in app.url_map.iter_rules():
        blueprint = rule.endpoint.rpartition(".")[0]
        if rule.endpoint in PAGE_ENDPOINTS or blueprint in PAGE_BLUEPRINTS:
            continue
        path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule)
        for method in rule.methods & METHODS:
            yield path, method


def test_the_document_is_valid_openapi_3_1(document):
    """openapi-spec-validator accepts it; it names this server and its security schemes."""
    validate(document)
    assert document["openapi"].startswith("3.1")
    assert document["servers"] == [{"url": "http://localhost:5000", "description": "This server"}]
    schemes = document["components"]["securitySchemes"]
    assert set(schemes) >= {"sessionCookie", "bearerToken", "oauth2", "clientBasic"}
    flows = schemes["oauth2"]["flows"]
    assert flows["authorizationCode"]["authorizationUrl"] == "http://localhost:5000/oauth/authorize"
    assert flows["authorizationCode"]["tokenUrl"] == flows["clientCredentials"]["tokenUrl"] == \
        "http://localhost:5000/oauth/token"
    assert {"openid", "account", "admin", "offline_access"} <= set(flows["authorizationCode"]["scopes"])


def test_every_json_route_is_described_with_its_methods(app, document):
    """Walks the URL map (routes other helpers or packages add are covered too)."""
    described = {(path, method) for path, method, _ in operations(document)}
    routes = set(json_routes(app))
    assert ("/api/v1/me", "PATCH") in routes and ("/oauth/token", "POST") in routes
    assert routes - described == set()


@pytest.mark.parametrize("path", ["/oauth/token", "/oauth/revoke", "/oauth/introspect", "/oauth/userinfo",
                                  "/oauth/authorize", "/oauth/logout", "/.well-known/openid-configuration",
                                  "/.well-known/oauth-authorization-server", "/.well-known/jwks.json", "/publickey"])
def test_the_oauth_endpoints_are_described(document, path):
    assert path in document["paths"]


def test_the_token_endpoint_takes_every_grants_parameters_and_answers_oauth_errors(document):
    token = document["paths"]["/oauth/token"]["post"]
    form = token["requestBody"]["content"]["application/x-www-form-urlencoded"]["schema"]
    assert form == {"$ref": "#/components/schemas/TokenRequest"}
    request = document["components"]["schemas"]["TokenRequest"]
    assert {"grant_type", "code", "redirect_uri", "code_verifier", "refresh_token", "scope", "client_id",
            "client_secret"} <= set(request["properties"])
    grants = set(request["properties"]["grant_type"]["enum"])
    assert grants == {"authorization_code", "refresh_token", "client_credentials"}
    for status in ("400", "401"):
        assert token["responses"][status]["content"]["application/json"]["schema"] == \
            {"$ref": "#/components/schemas/OAuthError"}


def test_every_operation_documents_its_refusals(document):
    """Some 4xx for each operation that takes input; 401 where credentials are needed; 400, 415 and 422
    where a JSON body is read; the JSON API's refusals are problem JSON."""
    for path, method, operation in operations(document):
        where = f"{method} {path}"
        statuses = {int(status) for status in operation["responses"]}
        takes_input = operation.get("parameters") or operation.get("requestBody") or operation.get("security")
        assert any(400 <= status < 500 for status in statuses) or not takes_input, where
        if operation.get("security") and {} not in operation["security"]:
            assert 401 in statuses, where
        if "application/json" in operation.get("requestBody", {}).get("content", {}):
            assert {400, 415, 422} <= statuses, where
        if path.startswith("/api/") or path == "/currentuser":
            for status in statuses - {200, 201, 202, 204}:
                assert set(operation["responses"][str(status)]["content"]) == {"application/problem+json"}, where


def test_camel_case_everywhere_in_the_json_api(document):
    """Every member of the JSON API's models is camelCase (the OAuth models and the OIDC address keep
    the RFCs' names)."""
    protocol = {"TokenRequest", "TokenResponse", "TokenParameter", "Introspection", "UserInfo", "OAuthError",
                "JsonWebKeySet", "ServerMetadata", "Address"}
    for name, schema in document["components"]["schemas"].items():
        if name not in protocol:
            assert [member for member in schema.get("properties", {}) if "_" in member] == [], name


def test_examples_validate_against_their_schemas(document):
    """Each example of a model, and of a member of a model, fits the schema it illustrates."""
    checked = 0
    for name, schema in document["components"]["schemas"].items():
        for where, part in [(name, schema)] + [(f"{name}.{member}", sub)
                                               for member, sub in schema.get("properties", {}).items()]:
            for example in part.get("examples", []):
                root = {**part, "components": document["components"]}
                jsonschema.Draft202012Validator(root).validate(example)
                checked += 1
    assert checked >= 30


def test_the_main_models_have_examples(document):
    schemas = document["components"]["schemas"]
    for name in ("TokenRequest", "TokenResponse", "Introspection", "OAuthError", "ProfileIn", "Address"):
        assert schemas[name].get("examples"), name
    for name in ("LoginIn", "RegisterIn", "CurrentUser", "AccountOut"):
        assert any("examples" in member for member in schemas[name]["properties"].values()), name


# --- the Postman collection ---------------------------------------------------------------------------

def assert_postman_item(item):
    """The v2.1 shape of a folder or a request (the members the format requires)."""
    assert isinstance(item.get("name"), str) and item["name"]
    if "item" in item:
        assert isinstance(item["item"], list) and item["item"]
        for child in item["item"]:
            assert_postman_item(child)
        return
    request = item["request"]
    assert request["method"] in METHODS
    url = request["url"]
    assert url["raw"].startswith("{{baseUrl}}/") and url["host"] == ["{{baseUrl}}"]
    assert "/".join(url["path"]) == url["raw"].removeprefix("{{baseUrl}}/").split("?")[0]
    for variable in url.get("variable", []):
        assert ":" + variable["key"] in url["path"]
    for parameter in url.get("query", []):
        assert isinstance(parameter["key"], str) and isinstance(parameter["disabled"], bool)
    assert request["auth"]["type"] in {"bearer", "noauth"}
    if request["auth"]["type"] == "bearer":
        assert request["auth"]["bearer"] == [{"key": "token", "value": "{{accessToken}}", "type": "string"}]
    if "body" in request:
        assert request["body"]["mode"] in {"raw", "urlencoded"}
        if request["body"]["mode"] == "raw":
            json.loads(request["body"]["raw"])


def requests_of(collection):
    return [request for folder in collection["item"] for request in folder["item"]]


def test_the_postman_collection_has_the_v2_1_shape(client, document):
    response = client.get("/getPostmanCollection")
    assert response.status_code == 200 and response.mimetype == "application/json"
    assert response.headers["Content-Disposition"].startswith("attachment; filename=")
    collection = response.get_json()
    assert collection["info"]["schema"] == POSTMAN_SCHEMA and collection["info"]["name"] == "Identity provider"
    assert re.fullmatch(r"[0-9a-f-]{36}", collection["info"]["_postman_id"])
    assert {variable["key"]: variable["value"] for variable in collection["variable"]} == \
        {"baseUrl": "http://localhost:5000", "accessToken": ""}
    for folder in collection["item"]:
        assert_postman_item(folder)
    tags = {operation.get("tags", ["other"])[0] for _, _, operation in operations(document)}
    assert {folder["name"] for folder in collection["item"]} == tags
    assert len(requests_of(collection)) == len(list(operations(document)))
    by_url = {(item["request"]["method"], item["request"]["url"]["raw"].split("?")[0]): item["request"]
              for item in requests_of(collection)}
    assert by_url[("GET", "{{baseUrl}}/currentuser")]["auth"]["type"] == "bearer"
    assert by_url[("GET", "{{baseUrl}}/health")]["auth"]["type"] == "noauth"
    login = by_url[("POST", "{{baseUrl}}/api/v1/auth/login")]
    assert set(json.loads(login["body"]["raw"])) == {"email", "password"}
    assert by_url[("DELETE", "{{baseUrl}}/api/v1/me/sessions/:session_id")]["url"]["variable"][0]["key"] == \
        "session_id"
    token = by_url[("POST", "{{baseUrl}}/oauth/token")]
    assert token["body"]["mode"] == "urlencoded"
    assert {field["key"] for field in token["body"]["urlencoded"]} >= {"grant_type", "code", "code_verifier"}


def test_a_request_of_the_collection_replays_against_a_live_server(live_server, signed_in, make_client):
    """GET /currentuser from the collection, its variables set to the server and a real access token."""
    application = make_client(skip_consent=True, scope=ACCOUNT_CLIENT_SCOPE)
    token = grant_tokens(signed_in, application, scope=ACCOUNT_SCOPES)["access_token"]
    collection = requests.get(f"{live_server.url}/getPostmanCollection", timeout=10).json()
    [request] = [item["request"] for item in requests_of(collection)
                 if item["request"]["url"]["raw"] == "{{baseUrl}}/currentuser"]
    values = {"baseUrl": live_server.url, "accessToken": token}

    def substitute(text):
        return re.sub(r"\{\{(\w+)\}\}", lambda match: values[match.group(1)], text)

    assert request["auth"]["type"] == "bearer"
    authorization = "Bearer " + substitute(request["auth"]["bearer"][0]["value"])
    response = requests.request(request["method"], substitute(request["url"]["raw"]), timeout=10,
                                headers={"Authorization": authorization})
    assert response.status_code == 200, response.text
    assert response.json()["email"] == signed_in.get("/currentuser").get_json()["email"]
    unauthenticated = requests.get(substitute(request["url"]["raw"]), timeout=10)
    assert unauthenticated.status_code == 401


# --- the start page -----------------------------------------------------------------------------------

LINKS = {"signIn": "/login", "account": "/account", "swagger": "/swagger", "openapi": "/openapi.json",
         "postman": "/getPostmanCollection", "discovery": "/.well-known/openid-configuration",
         "jwks": "/.well-known/jwks.json", "health": "/health"}


def test_the_start_page_links_the_api_and_the_pages(client):
    """HTML without JavaScript: name, version, every link; each link answers."""
    response = client.get("/")
    assert response.status_code == 200 and response.mimetype == "text/html"
    assert "Accept" in response.headers["Vary"]
    assert "<h1>Identity provider</h1>" in response.text and "Version 0.1.0" in response.text
    assert "<script" not in response.text
    for rel, path in LINKS.items():
        assert f'href="http://localhost:5000{path}" rel="{rel}"' in response.text
        assert client.get(path).status_code in (200, 302), path


@pytest.mark.parametrize("accept, kind", [
    ("application/json", "application/json"), ("text/html", "text/html"), ("*/*", "text/html"),
    ("text/html;q=0.5, application/json", "application/json"), ("application/json;q=0.1, text/html", "text/html"),
])
def test_the_start_page_negotiates_json(client, accept, kind):
    response = client.get("/", headers={"Accept": accept})
    assert response.mimetype == kind
    if kind == "application/json":
        body = response.get_json()
        assert (body["name"], body["version"], body["issuer"]) == ("Identity provider", "0.1.0",
                                                                   "http://localhost:5000")
        assert {link["rel"]: link["href"] for link in body["links"]} == \
            {rel: "http://localhost:5000" + path for rel, path in LINKS.items()}


def test_swagger_serves_only_its_own_files(client):
    """The page and the packaged assets, cacheable; nothing else of the package (no traversal)."""
    page = client.get("/swagger")
    assert page.status_code == 200 and 'src="/swagger/swagger-ui-bundle.js"' in page.text
    assert "<script>" not in page.text  # the Content-Security-Policy allows no inline script
    assert 'src="/static/docs/swagger-initializer.js"' in page.text
    with client.get("/swagger/swagger-ui-bundle.js") as asset:
        assert asset.status_code == 200 and asset.headers["Cache-Control"] == "public, max-age=86400"
    with client.get("/swagger/oauth2-redirect.html") as redirect_page:
        assert redirect_page.status_code == 200
    for name in ("index.html", "swagger-initializer.js", "..%2F__init__.py", "../__init__.py"):
        with client.get(f"/swagger/{name}") as refused:
            assert refused.status_code == 404, name
