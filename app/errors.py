"""Application-level error handlers: problem JSON for the API, an HTML page elsewhere.

Outages of the database or Redis answer 503 with Retry-After, never a 500 with a stack
trace; the pool's pre-ping and the Redis client's reconnects bring the service back by
themselves once the dependency returns.
"""

import logging
import time

import redis
from flask import Flask
from flask import Response
from flask import current_app
from flask import make_response
from flask import render_template
from flask import request
from limits.errors import StorageError
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.exc import OperationalError
from werkzeug.exceptions import BadRequest
from werkzeug.exceptions import HTTPException
from werkzeug.exceptions import InternalServerError
from werkzeug.exceptions import ServiceUnavailable

from .api.errors import domain_problem
from .api.errors import problem
from .api.spec import InvalidRequest
from .extensions import db
from .extensions import get_limiter
from .services.errors import DomainError
from .web.areas import wants_problem_json

log = logging.getLogger(__name__)

OUTAGES = (OperationalError, DisconnectionError, redis.ConnectionError, redis.TimeoutError, StorageError)
RETRY_AFTER_OUTAGE = "5"


def register_shape(app: Flask, path_prefix: str, render, when=None) -> None:
    """Let a package shape the errors under a path its own way (OAuth endpoints: RFC 6749 JSON);
    ``when``, if given, must also hold for the request."""
    app.extensions.setdefault("error_shapes", []).append((path_prefix, render, when))


def render_error(error: HTTPException) -> Response:
    """The error as problem JSON or as the shared error page, keeping its headers (Allow...)."""
    status = error.code or 500
    for prefix, render, when in current_app.extensions.get("error_shapes", ()):
        if request.path.startswith(prefix) and (when is None or when()):
            return render(error)
    # A busy account's 429 carries its own short wait; a breached limit's lasts until its window resets.
    wait = (getattr(error, "retry_after", None) or _wait_seconds()) if status == 429 else None
    if wants_problem_json():
        response = problem(status, error.name, error.description)
    else:
        response = make_response(render_template(
            "errors/error.html", status=status, title=error.name, detail=error.description,
            wait=_in_words(wait) if wait else None), status)
    for name, value in error.get_headers():
        if name.lower() != "content-type":
            response.headers[name] = value
    if wait:
        response.headers["Retry-After"] = str(wait)
    return response


def _wait_seconds() -> int | None:
    """How long a rate-limited client must wait: until the breached limit's window resets."""
    limit = get_limiter().current_limit
    if limit is None:
        return None
    try:
        return max(1, int(limit.reset_at - time.time()))
    except Exception:  # the limiter's storage went away meanwhile; the 429 stands without a time
        log.warning("rate_limit.reset_unknown")
        return None


def _in_words(seconds: int) -> str:
    if seconds < 90:
        return f"{seconds} second{'s' if seconds != 1 else ''}"
    return f"{round(seconds / 60)} minutes"


def handle_http_error(error: HTTPException):
    if (error.code or 500) < 500:
        log.info("http.client_error status=%s path=%s", error.code, request.path)
    return render_error(error)


def handle_outage(error: Exception):
    db.session.rollback()
    log.error("dependency.unavailable error=%s", type(error).__name__)
    response = render_error(ServiceUnavailable(
        "A service this server depends on is unavailable. Try again shortly."))
    response.headers["Retry-After"] = RETRY_AFTER_OUTAGE
    return response


def handle_unexpected(error: Exception):
    if isinstance(error, DBAPIError) and error.connection_invalidated:
        return handle_outage(error)
    db.session.rollback()
    log.exception("unexpected error on %s %s", request.method, request.path)
    return render_error(InternalServerError())


def handle_invalid_request(error: InvalidRequest):
    """A request whose body or query did not validate against its model: 422 naming each field."""
    return problem(422, "Unprocessable Content", "Some fields are missing or invalid.", errors=error.errors)


def handle_refusal(error: DomainError):
    """A refusal of the services that a view let through: problem JSON on the API (the one table
    in app/api/errors.py); on a page, which handles its own refusals, the error page."""
    if wants_problem_json():
        return domain_problem(error)
    log.warning("refusal not handled by the page %s: %s", request.endpoint, type(error).__name__)
    return render_error(BadRequest(error.public_message))


def init_app(app: Flask) -> None:
    app.register_error_handler(DomainError, handle_refusal)
    app.register_error_handler(InvalidRequest, handle_invalid_request)
    app.register_error_handler(HTTPException, handle_http_error)
    for outage in OUTAGES:
        app.register_error_handler(outage, handle_outage)
    app.register_error_handler(Exception, handle_unexpected)
