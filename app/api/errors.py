"""RFC 9457 problem details: the only place that builds the JSON API's error bodies."""

from flask import Response
from flask import jsonify

from ..services.errors import AccountExists
from ..services.errors import CodeRejected
from ..services.errors import DomainError
from ..services.errors import InvalidInput
from ..services.errors import MessageNotSent
from ..services.errors import NotFound
from ..services.errors import PasswordRejected
from ..services.errors import RegistrationClosed
from ..services.errors import ResendTooSoon
from ..services.errors import SignInRefused


def problem(status: int, title: str, detail: str | None = None, **extra) -> Response:
    """A problem+json response; ``extra`` adds members such as ``errors``."""
    body = {"type": "about:blank", "title": title, "status": status}
    if detail:
        body["detail"] = detail
    body.update(extra)
    response = jsonify(body)
    response.status_code = status
    response.mimetype = "application/problem+json"
    return response


# Domain refusal -> (status, title); the most specific class wins (looked up along the MRO).
STATUS_TITLES = {
    SignInRefused: (401, "Unauthorized"),
    PasswordRejected: (400, "Password Rejected"),
    CodeRejected: (400, "Code Rejected"),
    InvalidInput: (400, "Bad Request"),
    AccountExists: (409, "Conflict"),
    NotFound: (404, "Not Found"),
    RegistrationClosed: (404, "Not Found"),
    ResendTooSoon: (429, "Too Many Requests"),
    MessageNotSent: (503, "Service Unavailable"),
    DomainError: (400, "Bad Request"),
}


def domain_problem(error: DomainError) -> Response:
    """The problem response for a refusal from the services."""
    status, title = next(STATUS_TITLES[cls] for cls in type(error).__mro__ if cls in STATUS_TITLES)
    extra = {"errors": error.reasons} if isinstance(error, PasswordRejected) else {}
    response = problem(status, title, error.public_message, **extra)
    if isinstance(error, ResendTooSoon):
        response.headers["Retry-After"] = str(error.retry_after)
    return response
