"""OAuth 2.0 Form Post Response Mode: the authorization response as a page that posts it to the client.

The page carries the response's parameters as hidden fields of a form whose action is the redirect
URI; a tiny script submits it at once, and a visible button does it without JavaScript. Its own
Content-Security-Policy lets that one script run (by nonce) and the form go to the redirect URI's
origin only.
"""

import secrets
from urllib.parse import parse_qsl
from urllib.parse import urlsplit

from flask import current_app
from flask import render_template


def possible(redirect_uri: str) -> bool:
    """A form can be posted to an http(s) URI only (not to a custom scheme, nor to javascript:)."""
    return urlsplit(redirect_uri).scheme in ("http", "https")


def added_parameters(location: str, redirect_uri: str) -> list[tuple[str, str]]:
    """The parameters a redirect added to the redirect URI (which may have a query of its own)."""
    return parse_qsl(location[len(redirect_uri):].lstrip("?&"), keep_blank_values=True)


def _origin(uri: str) -> str:
    parts = urlsplit(uri)
    host = parts.hostname or ""
    host = f"[{host}]" if ":" in host else host
    try:
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        port = ""
    return f"{parts.scheme}://{host}{port}"


def page(redirect_uri: str, params: list[tuple[str, str]]):
    """The auto-submitting page (values HTML-escaped by the template), never cached."""
    nonce = secrets.token_urlsafe(18)
    response = current_app.make_response(
        render_template("oauth/form_post.html", action=redirect_uri, params=params, nonce=nonce))
    response.headers["Content-Security-Policy"] = "; ".join([
        "default-src 'none'",
        f"script-src 'nonce-{nonce}'",
        "style-src 'self'",
        "img-src 'self'",
        # The form goes to the client, and nowhere else.
        f"form-action {_origin(redirect_uri)}",
        "base-uri 'none'",
        "frame-ancestors 'none'",
    ])
    response.headers["Cache-Control"] = "no-store"
    return response
