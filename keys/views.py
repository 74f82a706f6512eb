"""Publication: the JWKS and, for services built to the specification, one key as PEM."""

from flask import Blueprint
from flask import abort
from flask import current_app
from flask import request

from . import ring

bp = Blueprint("keys", __name__)


def jwks_document() -> tuple[bytes, str, str]:
    """Public members only; cacheable for JWKS_MAX_AGE, revalidated by ETag: the bytes, their
    ETag and Cache-Control. Served in front of Flask (``app/web/documents.py``) for a plain GET."""
    document, etag = ring.jwks()
    return document, etag, f"public, max-age={current_app.config['JWKS_MAX_AGE']}"


@bp.get("/.well-known/jwks.json")
def jwks():
    """The JWKS for what the prebuilt answer leaves to Flask (HEAD, a query string)."""
    document, etag, cache_control = jwks_document()
    response = current_app.response_class(document, mimetype="application/json")
    response.headers["ETag"] = etag
    response.headers["Cache-Control"] = cache_control
    response.headers["Access-Control-Allow-Origin"] = "*"  # public keys; browser clients verify too
    return response.make_conditional(request)


@bp.get("/publickey")
def public_key():
    """``?keyId=KID``: that published key as PEM; 404 when unknown or removed."""
    kid = request.args.get("keyId", "").strip()
    if not kid:
        abort(400, "The keyId query parameter is required.")
    pem = ring.public_pem(kid) if len(kid) <= 64 else None
    if pem is None:
        abort(404, "No published key has this keyId.")
    response = current_app.response_class(pem, mimetype="application/x-pem-file")
    response.headers["Cache-Control"] = f"public, max-age={current_app.config['JWKS_MAX_AGE']}"
    return response
