"""The API described: /openapi.json, assembled once per application from the routes' declared
models (app/api/spec.py), this server's settings (its URL, the session cookie's name), and what
other packages contribute (the OAuth server describes its own endpoints and scopes).

From that one document: /getPostmanCollection (app/api/postman.py) and /swagger, Swagger UI
served from the swagger-ui-bundle package's files by this server (no CDN).
"""

import copy
import threading
from collections.abc import Callable

from flask import Blueprint
from flask import Flask
from flask import abort
from flask import current_app
from flask import jsonify
from flask import render_template
from flask import send_from_directory
from swagger_ui_bundle import swagger_ui_path

from . import postman
from .spec import PROBLEM_TITLES
from .spec import api

bp = Blueprint("docs", __name__)
# Swagger UI is a page: its errors are the HTML error page.
swagger = Blueprint("swagger", __name__, url_prefix="/swagger")
# The packaged files Swagger UI needs, and nothing else of the package.
SWAGGER_ASSETS = frozenset({"swagger-ui.css", "swagger-ui-bundle.js", "oauth2-redirect.html", "oauth2-redirect.js",
                            "favicon-32x32.png", "favicon-16x16.png"})
ASSET_MAX_AGE = 86400
_building = threading.Lock()


@bp.get("/openapi.json")
def openapi_document():
    """The OpenAPI 3.1 document of every JSON endpoint."""
    return jsonify(document(current_app))


@bp.get("/getPostmanCollection")
def postman_collection():
    """The document as a Postman v2.1 collection, to download."""
    response = jsonify(postman.collection(document(current_app), current_app.config["ISSUER"]))
    response.headers["Content-Disposition"] = 'attachment; filename="identity-provider.postman_collection.json"'
    return response


@swagger.get("")
def swagger_ui():
    """Swagger UI on /openapi.json; its start-up script is a file (the Content-Security-Policy allows no inline
    script)."""
    return render_template("docs/swagger.html")


@swagger.get("/<name>")
def swagger_asset(name: str):
    """A file of the packaged Swagger UI (the version pinned in setup.cfg), cacheable."""
    if name not in SWAGGER_ASSETS:
        abort(404)
    response = send_from_directory(swagger_ui_path, name, max_age=ASSET_MAX_AGE)
    response.headers["Cache-Control"] = f"public, max-age={ASSET_MAX_AGE}"
    return response


def contribute(app: Flask, add: Callable[[Flask, dict], None]) -> None:
    """Let a package add to the document: ``add(app, document)`` changes it in place."""
    app.extensions.setdefault("openapi_contributions", []).append(add)


def document(app: Flask) -> dict:
    """This application's OpenAPI document, built on first use."""
    built = app.extensions.get("openapi_document")
    if built is None:
        built = app.extensions["openapi_document"] = _build(app)
    return built


def _build(app: Flask) -> dict:
    with _building:
        api.app = app  # SpecTree walks this application's URL map
        api.describe_models()
        # SpecTree lifts the nested models ($defs) out of its registry while it writes a document, so a
        # second application's document would lack them: it writes from a copy, the registry stays whole.
        registry = api.models
        api.models = copy.deepcopy(registry)
        try:
            spec = copy.deepcopy(api._generate_spec())
        finally:
            api.models = registry
    spec["servers"] = [{"url": app.config["ISSUER"], "description": "This server"}]
    cookie = "__Host-idp_session" if app.config["ISSUER_IS_HTTPS"] else "idp_session"
    spec.setdefault("components", {})["securitySchemes"] = {
        "sessionCookie": {
            "type": "apiKey", "in": "cookie", "name": cookie,
            "description": "The browser session, set by signing in. A request that changes something also "
                           "sends the CSRF token in the X-CSRFToken header."},
        "bearerToken": {
            "type": "http", "scheme": "bearer", "bearerFormat": "JWT",
            "description": "An access token from /oauth/token. The account API needs the `account` scope, "
                           "the admin API the `admin` scope."},
    }
    _problems_as_problem_json(spec)
    _refusals_every_route_can_give(spec)
    _describe_the_descriptions(spec)
    for add in app.extensions.get("openapi_contributions", ()):
        add(app, spec)
    return spec


def _describe_the_descriptions(spec: dict) -> None:
    """This document and the Postman collection are JSON endpoints too."""
    def json_document(description: str) -> dict:
        return {"200": {"description": description, "content": {"application/json": {"schema": {"type": "object"}}}}}

    spec["paths"]["/openapi.json"] = {"get": {
        "tags": ["docs"], "operationId": "openapi_document", "summary": "This OpenAPI 3.1 document",
        "responses": json_document("The document.")}}
    spec["paths"]["/getPostmanCollection"] = {"get": {
        "tags": ["docs"], "operationId": "postman_collection",
        "summary": "A Postman v2.1 collection of every operation, with the variables baseUrl and accessToken",
        "responses": json_document("The collection (an attachment).")}}
    spec.setdefault("tags", []).append({"name": "docs", "description": "The API described."})


def _refusals_every_route_can_give(spec: dict) -> None:
    """What ``validate`` and the guards answer whatever a route declares: a JSON body can be refused as
    not JSON (415), not an object (400) or not valid (422); a secured route without credentials is 401."""
    def problem(status: int, model: str) -> dict:
        return {"description": PROBLEM_TITLES[status], "content": {
            "application/problem+json": {"schema": {"$ref": f"#/components/schemas/{model}"}}}}

    for operations in spec["paths"].values():
        for operation in operations.values():
            responses = operation.setdefault("responses", {})
            if "application/json" in operation.get("requestBody", {}).get("content", {}):
                for status, model in ((400, "FieldProblem"), (415, "Problem"), (422, "FieldProblem")):
                    responses.setdefault(str(status), problem(status, model))
            if operation.get("security"):
                responses.setdefault("401", problem(401, "Problem"))


def _problems_as_problem_json(spec: dict) -> None:
    """Error responses are sent as application/problem+json (SpecTree names every body JSON)."""
    for operations in spec["paths"].values():
        for operation in operations.values():
            for status, response in operation.get("responses", {}).items():
                content = response.get("content", {})
                if int(status) >= 400 and "application/json" in content:
                    content["application/problem+json"] = content.pop("application/json")
