"""Security headers on every response, pages and API alike."""

from flask import Response
from flask import current_app
from flask import request

CONTENT_SECURITY_POLICY = "; ".join([
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    # Any https picture: an avatar may be a URL the user chose.
    "img-src 'self' https: data:",
    "object-src 'none'",
    "base-uri 'none'",
    # RFC 9700 §4.16: the authorization server's pages must not be framed (clickjacking).
    "frame-ancestors 'none'",
])


def add_security_headers(response: Response) -> Response:
    """Headers every response carries, pages and API alike."""
    headers = response.headers
    headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("X-Content-Type-Options", "nosniff")
    # Other sites learn nothing of our URLs (they carry authorization requests and handles), while
    # our own form posts carry a Referer and a real Origin: the CSRF check over https wants them.
    headers.setdefault("Referrer-Policy", "same-origin")
    headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    if current_app.config["ISSUER_IS_HTTPS"]:
        headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
    if request.endpoint != "static":
        # Pages and API answers are per user: never kept by a shared or browser cache.
        headers.setdefault("Cache-Control", "no-store")
    return response
