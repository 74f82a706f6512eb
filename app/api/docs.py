"""The API described: /openapi.json, assembled once per application from the routes' declared
models (app/api/spec.py), this server's settings (its URL, the session cookie's name), and what
other packages contribute (the OAuth server describes its own endpoints and scopes)."""

import copy
from collections.abc import Callable

from flask import Blueprint
from flask import Flask
from flask import current_app
from flask import jsonify

from .spec import api

bp = Blueprint("docs", __name__)


@bp.get("/openapi.json")
def openapi_document():
    """The OpenAPI 3.1 document of every JSON endpoint."""
    return jsonify(document(current_app))


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
    api.app = app  # SpecTree walks this application's URL map
    spec = copy.deepcopy(api._generate_spec())
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
    for add in app.extensions.get("openapi_contributions", ()):
        add(app, spec)
    return spec


def _problems_as_problem_json(spec: dict) -> None:
    """Error responses are sent as application/problem+json (SpecTree names every body JSON)."""
    for operations in spec["paths"].values():
        for operation in operations.values():
            for status, response in operation.get("responses", {}).items():
                content = response.get("content", {})
                if int(status) >= 400 and "application/json" in content:
                    content["application/problem+json"] = content.pop("application/json")
