"""A Host header that is no host name is a 400, in the area's format.

Werkzeug's router encodes the request's host name with IDNA; a name it cannot encode (an empty
label as in ``a..b``, a label over 63 characters, non-ASCII) raised UnicodeError before Flask's
error handling could answer, so the client got a bare 500. ``HostCheck`` sits in front of the
application (inside ProxyFix, so a forwarded host is checked too): it puts the issuer's host in
place of an unreadable one and marks the request, and ``refuse_unreadable_host`` answers it with
a 400 through the usual error handlers. The request reaches no view.
"""

import ipaddress
import re
from urllib.parse import urlsplit

from flask import request
from werkzeug.exceptions import BadRequest

MARK = "idp.unreadable_host"
# Dot-separated labels of letters, digits and inner hyphens, 1 to 63 each (IPv4 addresses match too).
HOST_NAME = re.compile(r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)(\.(?!-)[A-Za-z0-9-]{1,63}(?<!-))*\.?", re.ASCII)


def readable(host: str) -> bool:
    """Whether ``host`` is a host name (RFC 1123 labels) or an IP literal, with an optional port."""
    name, port = host, ""
    if not host.endswith("]") and ":" in host:  # a port follows the last colon ("[::1]:5000")
        name, _, port = host.rpartition(":")
        if not port.isdigit() or not port.isascii() or int(port) > 65535:
            return False
    if name.startswith("[") and name.endswith("]"):
        try:
            return ipaddress.ip_address(name[1:-1]).version == 6
        except ValueError:
            return False
    return HOST_NAME.fullmatch(name) is not None and len(name) <= 253


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
