"""Redirects answering a POST are 303 See Other, whoever built them."""

from flask import Response
from flask import request


def see_other_after_post(response: Response) -> Response:
    """RFC 9700 §4.12: a redirect answering a POST (credentials, a consent decision) must not let the
    browser repeat the request at the new location; 303 makes it a GET, whoever built the response
    (our views, Authlib's authorization and logout responses). Flask's 308 to a path's canonical
    slash is left alone: it leads to the same view."""
    if request.method not in ("GET", "HEAD") and response.status_code in (301, 302, 307):
        response.status_code = 303
    return response
