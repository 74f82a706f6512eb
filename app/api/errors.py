"""RFC 9457 problem details: the only place that builds the JSON API's error bodies."""

from flask import Response
from flask import jsonify

from ..services.errors import AccountExists
from ..services.errors import DomainError
from ..services.errors import InvalidInput
from ..services.errors import NotFound
from ..services.errors import PasswordRejected
from ..services.errors import SignInRefused

# Domain exception -> (status, title). The most specific class is found first (MRO order).
STATUS_TITLES: dict[type[DomainError], tuple[int, str]] = {
    SignInRefused: (401, "Unauthorized"),
    PasswordRejected: (400, "Password Rejected"),
    InvalidInput: (400, "Bad Request"),
    AccountExists: (409, "Conflict"),
    NotFound: (404, "Not Found"),
    DomainError: (400, "Bad Request"),
}


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


def domain_problem(error: DomainError) -> Response:
    """The problem response for a refusal from the services."""
    for cls in type(error).__mro__:
        if cls in STATUS_TITLES:
            status, title = STATUS_TITLES[cls]
            break
    extra = {"errors": error.reasons} if isinstance(error, PasswordRejected) else {}
    return problem(status, title, error.public_message, **extra)
