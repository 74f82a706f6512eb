"""Public documents served as prebuilt bytes, in front of Flask: the JWKS and the server metadata.

Verifiers and clients fetch these often and every answer is the same bytes, so a plain ``GET`` of
one of these exact paths (no query string) is answered here without a request context, a route or
a hook. The answer is the one the Flask route gives (the routes stay, for ``HEAD`` and for a query
string): the document, its strong ETag and a 304 for a matching If-None-Match, its Cache-Control,
``Access-Control-Allow-Origin: *``, and the security headers of every response. A Host header that
``HostCheck`` marked unreadable goes on to Flask, which answers it 400, and so does a request whose
document cannot be had (the route then gives the usual error answer, 503 for an outage).

A package publishes a document with ``publish(app, path, provider)``: the provider, called inside
the application context, returns the current bytes, their quoted ETag and the Cache-Control value
(the key ring checks its freshness there, as a request would).
"""

from collections.abc import Callable

from flask import Flask
from werkzeug.http import http_date
from werkzeug.http import is_resource_modified
from werkzeug.http import unquote_etag

from .headers import security_headers
from .hosts import MARK

Provider = Callable[[], tuple[bytes, str, str]]


def publish(app: Flask, path: str, provider: Provider) -> None:
    """Serve ``provider``'s document at ``path`` in front of the application."""
    app.extensions["prebuilt_documents"][path] = provider


class PrebuiltDocuments:
    """WSGI middleware answering a plain GET of a published path from the document's bytes."""

    def __init__(self, app: Flask, wsgi_app):
        self.app = app
        self.wsgi_app = wsgi_app
        self.documents: dict[str, Provider] = app.extensions.setdefault("prebuilt_documents", {})
        self.security_headers = security_headers(app.config)

    def __call__(self, environ, start_response):
        provider = self.documents.get(environ.get("PATH_INFO", ""))
        if provider is None or environ["REQUEST_METHOD"] != "GET" or environ.get("QUERY_STRING") \
                or MARK in environ:
            return self.wsgi_app(environ, start_response)
        try:
            with self.app.app_context():
                body, etag, cache_control = provider()
        except Exception:  # e.g. the database is away before the key ring was ever read
            return self.wsgi_app(environ, start_response)  # the route meets it again: the usual error answer
        headers = [("ETag", etag), ("Cache-Control", cache_control), ("Access-Control-Allow-Origin", "*"),
                   ("Date", http_date()), *self.security_headers]
        # RFC 9110 §13.1.2: If-None-Match compares weakly; a match on GET answers 304 without the body.
        if not is_resource_modified(environ, etag=unquote_etag(etag)[0]):
            start_response("304 NOT MODIFIED", headers)
            return []
        start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body))),
                                  *headers])
        return [body]
