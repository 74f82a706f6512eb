"""RFC 9457 problem details: the only place that builds the JSON API's error bodies.

``PROBLEMS`` maps each refusal of the services to its status and title; ``domain_problem`` turns
one into a response, with the members and headers its kind carries (``errors``, ``Retry-After``).
"""

from flask import Response
from flask import jsonify

from ..services.account_errors import EmailChangeRefused
from ..services.account_errors import InvalidFields
from ..services.account_errors import WrongPassword
from ..services.errors import AccountExists
from ..services.errors import CodeRejected
from ..services.errors import Conflict
from ..services.errors import DomainError
from ..services.errors import InvalidInput
from ..services.errors import LastSuperAdmin
from ..services.errors import MessageNotSent
from ..services.errors import NotFound
from ..services.errors import OutOfReach
from ..services.errors import PasswordRejected
from ..services.errors import PermissionNotHeld
from ..services.errors import RegistrationClosed
from ..services.errors import ResendTooSoon
from ..services.errors import SignInRefused

# Domain refusal -> (status, title); the most specific class wins (looked up along the MRO).
PROBLEMS = {
    SignInRefused: (401, "Unauthorized"),
    WrongPassword: (403, "Forbidden"),
    PasswordRejected: (400, "Password Rejected"),
    CodeRejected: (400, "Code Rejected"),
    InvalidFields: (400, "Bad Request"),
    InvalidInput: (400, "Bad Request"),
    AccountExists: (409, "Conflict"),
    PermissionNotHeld: (403, "Access Denied"),
    OutOfReach: (403, "Access Denied"),
    LastSuperAdmin: (409, "Conflict"),
    Conflict: (409, "Conflict"),
    EmailChangeRefused: (409, "Conflict"),
    NotFound: (404, "Not Found"),
    RegistrationClosed: (404, "Not Found"),
    ResendTooSoon: (429, "Too Many Requests"),
    MessageNotSent: (503, "Service Unavailable"),
    DomainError: (400, "Bad Request"),
}
# A failed delivery is usually brief: try again after this many seconds.
RETRY_AFTER_MAIL = "5"


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
    status, title = next(PROBLEMS[kind] for kind in type(error).__mro__ if kind in PROBLEMS)
    response = problem(status, title, error.public_message, **_members(error))
    if isinstance(error, ResendTooSoon):
        response.headers["Retry-After"] = str(error.retry_after)
    elif isinstance(error, MessageNotSent):
        response.headers["Retry-After"] = RETRY_AFTER_MAIL
    return response


def _members(error: DomainError) -> dict:
    """What a client needs beyond the detail: which inputs to fix, by their names on the wire."""
    if isinstance(error, InvalidFields):
        return {"errors": _on_the_wire(error.errors)}
    if isinstance(error, WrongPassword):
        return {"errors": _on_the_wire({error.field: [error.public_message]})}
    if isinstance(error, PasswordRejected):
        return {"errors": error.reasons}
    return {}


def _on_the_wire(errors: dict) -> dict:
    """The services name fields in snake_case (``given_name``); the JSON API says ``givenName``.
    Only the field's own name changes: the members of an address keep their OIDC names."""
    return {_camel(field): messages for field, messages in errors.items()}


def _camel(field: str) -> str:
    name, dot, rest = field.partition(".")
    head, *tail = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in tail) + dot + rest
