"""Security headers on every response, pages and API alike."""

from collections.abc import Callable

from flask import Flask
from flask import Response
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


def security_headers(config) -> list[tuple[str, str]]:
    """The headers every response carries, pages and API alike; built once per application."""
    ready = [
        ("Content-Security-Policy", CONTENT_SECURITY_POLICY),
        ("X-Frame-Options", "DENY"),
        ("X-Content-Type-Options", "nosniff"),
        # Other sites learn nothing of our URLs (they carry authorization requests and handles), while
        # our own form posts carry a Referer and a real Origin: the CSRF check over https wants them.
        ("Referrer-Policy", "same-origin"),
        ("Cross-Origin-Opener-Policy", "same-origin"),
    ]
    if config["ISSUER_IS_HTTPS"]:
        ready.append(("Strict-Transport-Security", "max-age=31536000; includeSubDomains"))
    return ready


def security_headers_hook(app: Flask) -> Callable[[Response], Response]:
    """The after-request hook adding ``security_headers`` to each response that does not set its own."""
    ready = [(name.lower(), name, value) for name, value in security_headers(app.config)]
    # Pages and API answers are per user: never kept by a shared or browser cache.
    everywhere = [*ready, ("cache-control", "Cache-Control", "no-store")]

    def add_security_headers(response: Response) -> Response:
        headers = response.headers
        present = {name.lower() for name, _ in headers.items()}
        wanted = ready if request.endpoint == "static" else everywhere
        headers.extend([(name, value) for lower, name, value in wanted if lower not in present])
        return response

    return add_security_headers
