"""Who is calling the admin API, and the one guard that checks what they may do.

A caller is one of:

- a signed-in browser: the session cookie; a state-changing request also needs the CSRF token
  (``X-CSRFToken`` header), since the cookie rides along on cross-site requests;
- a user's bearer access token granted the ``admin`` scope: the user's own permissions apply
  (the scope lets the application act as the user there; it adds no right of its own);
- an application's client-credentials token with the ``admin`` scope: only the permissions
  given to that application (a service account); none by default.

``requires_permission(name)`` answers 401 (with the Bearer challenge) without a caller, and 403
problem JSON titled ``Access Denied`` when the caller lacks the permission; each refusal is
written to the security event log. Permissions come from ``rbac.permissions_of`` through the user
cache (``user_cache.permissions_of``): one lookup per request at most, remembered for the request.
"""

import functools
from dataclasses import dataclass
from uuid import UUID

from flask import current_app
from flask import g
from flask import request
from werkzeug.exceptions import Forbidden

from ..extensions import csrf
from ..services import audit
from ..services import user_cache
from .origin import request_origin
from .session import SignInRequired
from .session import current_session_view

ADMIN_SCOPE = "admin"
STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})


@dataclass(frozen=True)
class BearerGrant:
    """What the OAuth server vouches for in a valid bearer token (its registered resolver)."""

    user_id: UUID | None
    client_id: str
    scopes: frozenset[str]
    # What the application holds for itself; used only for tokens with no user.
    application_permissions: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Principal:
    """The caller of an admin request and everything it may do."""

    user_id: UUID | None
    client_id: str | None
    permissions: frozenset[str]
    via: str  # "session" or "token"
    scopes: frozenset[str] = frozenset()

    @property
    def actor(self) -> audit.Actor:
        return audit.Actor(self.user_id, self.client_id, request_origin())


class AccessDenied(Forbidden):
    """403 problem JSON titled "Access Denied"."""

    name = "Access Denied"

    def __init__(self, description: str, challenge: str | None = None):
        super().__init__(description)
        self.challenge = challenge

    def get_headers(self, environ=None, scope=None):
        headers = super().get_headers(environ, scope)
        if self.challenge:
            headers.append(("WWW-Authenticate", self.challenge))
        return headers


class InvalidToken(SignInRequired):
    """A bearer token that is not valid (bad signature, expired, revoked): RFC 6750 §3.1."""

    description = "The access token is invalid, expired or revoked."

    def get_headers(self, environ=None, scope=None):
        return [(name, value if name != "WWW-Authenticate" else f'{value}, error="invalid_token"')
                for name, value in super().get_headers(environ, scope)]


def current_principal() -> Principal | None:
    """The caller of this request, resolved once. A request with a bearer token is judged on
    the token alone; raises InvalidToken for a bearer token that is not valid."""
    if "principal" not in g:
        g.principal = _resolve()
    return g.principal


def caller() -> tuple[audit.Actor, frozenset[str]]:
    """Inside a guarded view: who acts (for the audit log) and every permission they hold (what
    they may hand out)."""
    principal = current_principal()
    return principal.actor, principal.permissions


def _bearer_token() -> str | None:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


def _resolve() -> Principal | None:
    token = _bearer_token()
    if token is not None:
        resolver = current_app.extensions.get("bearer_grant_resolver")
        grant = resolver(token) if resolver else None
        if grant is None:
            raise InvalidToken()
        if grant.user_id is None:
            held = grant.application_permissions
        else:
            held = user_cache.permissions_of(grant.user_id)
        return Principal(grant.user_id, grant.client_id, held, "token", grant.scopes)
    session = current_session_view()
    if session is None:
        return None
    return Principal(session.user_id, None, user_cache.permissions_of(session.user_id), "session")


def requires_permission(permission: str):
    """Run the view only for a caller holding ``permission`` (see the module's docstring)."""
    def decorate(view):
        @functools.wraps(view)
        def guarded(*args, **kwargs):
            principal = current_principal()
            if principal is None:
                raise SignInRequired()
            if principal.via == "token" and ADMIN_SCOPE not in principal.scopes:
                # RFC 6750 §3.1: a valid token without the scope the resource needs.
                _deny(principal, permission, "This access token was not granted the admin scope.",
                      f'Bearer realm="{current_app.config["ISSUER"]}", error="insufficient_scope", '
                      f'scope="{ADMIN_SCOPE}"')
            if permission not in principal.permissions:
                _deny(principal, permission, f"You need the {permission} permission.")
            if principal.via == "session" and request.method in STATE_CHANGING:
                csrf.protect()
            return view(*args, **kwargs)
        guarded.required_permission = permission
        return guarded
    return decorate


def require_any(permissions) -> None:
    """Inside a view (after ``requires_session`` or with a bearer token): refuse, as the guard
    does, a caller holding none of ``permissions`` (a page made of parts with permissions of
    their own, each shown only to its holders)."""
    principal = current_principal()
    if principal is None:
        raise SignInRequired()
    if principal.permissions.isdisjoint(permissions):
        _deny(principal, " or ".join(sorted(permissions)), "You need an administrator's permission.")


def _deny(principal: Principal, permission: str, detail: str, challenge: str | None = None):
    audit.denied(principal.actor, permission, request.path)
    raise AccessDenied(detail, challenge)
