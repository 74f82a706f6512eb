"""The start page: what this server is and where its API, its documentation and its pages are.

The same facts as JSON for ``Accept: application/json``."""

from flask import Blueprint
from flask import current_app
from flask import jsonify
from flask import render_template
from flask import request
from flask import url_for

from ..api.spec import TITLE
from ..api.spec import VERSION

bp = Blueprint("home", __name__)


def links() -> list[dict]:
    """Where things are, in the order the page lists them."""
    issuer = current_app.config["ISSUER"]
    places = [
        ("signIn", "Sign in", url_for("auth.login")),
        ("account", "Your account", url_for("account.overview")),
        ("swagger", "API explorer (Swagger UI)", url_for("swagger.swagger_ui")),
        ("openapi", "OpenAPI document", url_for("docs.openapi_document")),
        ("postman", "Postman collection", url_for("docs.postman_collection")),
        ("discovery", "OpenID Connect discovery", "/.well-known/openid-configuration"),
        ("jwks", "Public signing keys", "/.well-known/jwks.json"),
        ("health", "Health", url_for("api.liveness")),
    ]
    return [{"rel": rel, "title": title, "href": issuer + path} for rel, title, path in places]


@bp.get("/")
def index():
    """HTML for people, JSON for programs (content negotiation on Accept)."""
    about = {"name": TITLE, "version": VERSION, "issuer": current_app.config["ISSUER"], "links": links()}
    best = request.accept_mimetypes.best_match(["text/html", "application/json"], default="text/html")
    if best == "application/json" and request.accept_mimetypes[best] > request.accept_mimetypes["text/html"]:
        response = jsonify(about)
    else:
        response = current_app.make_response(render_template("home/index.html", **about))
    response.vary.add("Accept")
    return response
