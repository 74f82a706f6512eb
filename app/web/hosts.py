"""A Host header the router cannot read is a 400, in the area's format.

Werkzeug's router encodes the request's host name with IDNA; a name it cannot encode (an empty
label as in ``a..b``, a label over 63 characters, non-ASCII) raised UnicodeError before Flask's
error handling could answer, so the client got a bare 500. ``HostCheck`` sits in front of the
application (inside ProxyFix, so a forwarded host is checked too): it puts the issuer's host in
place of an unreadable one and marks the request, and ``refuse_unreadable_host`` answers it with
a 400 through the usual error handlers. The request reaches no view.
"""

from urllib.parse import urlsplit

from flask import request
from werkzeug.exceptions import BadRequest

MARK = "idp.unreadable_host"


def readable(host: str) -> bool:
    """Whether the router can use ``host`` (a name or address, an optional numeric port)."""
    if not host or not host.isascii() or not host.isprintable():
        return False
    name, port = host, ""
    if ":" in host and not host.endswith("]"):  # a port follows the last colon ("[::1]:5000")
        name, _, port = host.rpartition(":")
        if not port.isdigit():
            return False
    if name.startswith("["):  # an IPv6 literal
        return name.endswith("]")
    try:
        name.encode("idna")
    except UnicodeError:
        return False
    return bool(name)


class HostCheck:
    """WSGI middleware: an unreadable Host is replaced by the issuer's and the request marked."""

    def __init__(self, wsgi_app, issuer: str):
        self.wsgi_app = wsgi_app
        self.issuer_host = urlsplit(issuer).netloc

    def __call__(self, environ, start_response):
        host = environ.get("HTTP_HOST")
        if host is not None and not readable(host):  # no Host at all (HTTP/1.0): SERVER_NAME serves
            environ[MARK] = host
            environ["HTTP_HOST"] = self.issuer_host
        return self.wsgi_app(environ, start_response)


def refuse_unreadable_host() -> None:
    """Before every request: the one HostCheck marked is refused."""
    if MARK in request.environ:
        raise BadRequest("The Host header is not a valid host name.")
