"""The browser session: its cookie, the session of this request, and the one guard that needs it.

A browser may hold several signed-in accounts (at most ``accounts.MAX_ACCOUNTS_PER_BROWSER``), one
of them active. The active session's token is the session cookie; the others' tokens are listed in
a second httponly cookie (tokens, never ids: a cookie proves possession). Every request reads only
the active one; the listed tokens are resolved (and ended or expired ones dropped) only where the
other accounts matter: signing in, signing out, the account chooser and an ``id_token_hint``.
"""

import functools
import re

from flask import Flask
from flask import Response
from flask import current_app
from flask import g
from flask import redirect
from flask import request
from flask import url_for
from flask.sessions import SecureCookieSession
from flask.sessions import SecureCookieSessionInterface
from itsdangerous import URLSafeTimedSerializer
from werkzeug.exceptions import Unauthorized

from ..models import UserSession
from ..services import accounts
from ..services import sessions
from .areas import wants_problem_json


class StateCookie(SecureCookieSessionInterface):
    """Flask's own signed cookie (the CSRF secret, flash messages), opened at no cost when the
    request has none (API clients, protocol endpoints), its serializer built once, not per request."""

    def __init__(self):
        self._serializer = (None, None)

    def open_session(self, app: Flask, request) -> SecureCookieSession | None:
        # A Cookie header that does not even hold the name has no such cookie: not parsed for that.
        if app.secret_key and (self.get_cookie_name(app) not in request.environ.get("HTTP_COOKIE", "")
                               or not request.cookies.get(self.get_cookie_name(app))):
            return self.session_class()
        return super().open_session(app, request)

    def save_session(self, app: Flask, session: SecureCookieSession, response: Response) -> None:
        # Neither read nor written: Flask's own would add no Vary and set or delete no cookie, after
        # reading seven cookie settings.
        if session or session.modified or session.accessed:
            super().save_session(app, session, response)

    def get_signing_serializer(self, app: Flask) -> URLSafeTimedSerializer | None:
        keys = (app.secret_key, tuple(app.config["SECRET_KEY_FALLBACKS"] or ()))
        if self._serializer[0] != keys:
            self._serializer = keys, super().get_signing_serializer(app)
        return self._serializer[1]


def session_cookie_name() -> str:
    # RFC 6265bis __Host- prefix: Secure, Path=/, no Domain; only possible over https.
    return "__Host-idp_session" if current_app.config["ISSUER_IS_HTTPS"] else "idp_session"


def accounts_cookie_name() -> str:
    return "__Host-idp_accounts" if current_app.config["ISSUER_IS_HTTPS"] else "idp_accounts"


# A listed token is what ``sessions.start`` makes (token_urlsafe of 32 bytes); anything else is dropped.
_TOKEN = re.compile(r"[A-Za-z0-9_-]{20,128}")
_SEPARATOR = "."
_UNRESOLVED = object()


def current_session_view() -> "sessions.SessionView | UserSession | None":
    """The live session of this request, read-only: its cookie's, or the one a bearer access token
    names (when the OAuth server registered a resolver). Looked up once per request; cheaper than
    ``current_session`` where no row is needed (a guard, a "who am I" answer)."""
    found = g.get("session_view", _UNRESOLVED)
    if found is not _UNRESOLVED:
        return found
    found = sessions.peek(request.cookies.get(session_cookie_name()))
    authenticated_by = "cookie" if found else None
    if found is None:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        resolver = current_app.extensions.get("bearer_session_resolver")
        if scheme.lower() == "bearer" and token and resolver:
            found = resolver(token.strip())
            authenticated_by = "bearer" if found else None
    g.session_view, g.authenticated_by = found, authenticated_by
    return found


def current_session() -> UserSession | None:
    """The live session of this request as a row of its unit of work (``.user``, changes)."""
    found = g.get("user_session", _UNRESOLVED)
    if found is not _UNRESOLVED:
        return found
    view = current_session_view()
    found = view if view is None or isinstance(view, UserSession) else sessions.attach(view)
    g.user_session = found
    return found


class SignInRequired(Unauthorized):
    """No live session or access token: 401 problem JSON with the Bearer challenge."""

    description = "No valid session or access token."

    def get_headers(self, environ=None, scope=None):
        # RFC 6750 §3: a 401 names the scheme the resource accepts, and its realm.
        return [*super().get_headers(environ, scope),
                ("WWW-Authenticate", f'Bearer realm="{current_app.config["ISSUER"]}"')]


def requires_session(view):
    """Run ``view`` only in a live session. Without one, a page sends the browser to the sign-in
    page and back; the JSON API answers 401 (SignInRequired). Also guards a ``before_request`` hook."""
    @functools.wraps(view)
    def guarded(*args, **kwargs):
        if current_session_view() is None:
            if wants_problem_json():
                raise SignInRequired()
            # After signing in, come back to the page (a form's target cannot be reached by GET).
            back = request.path if request.method == "GET" else url_for("account.overview")
            return redirect(url_for("auth.login", next=back))
        return view(*args, **kwargs)
    return guarded


def _listed_tokens() -> list[str]:
    """The other accounts' tokens as the cookie lists them: well-formed, distinct, at most the limit
    (the rest of a longer list is never looked at)."""
    limit = accounts.MAX_ACCOUNTS_PER_BROWSER
    raw = request.cookies.get(accounts_cookie_name(), "")[:limit * 130]
    active = request.cookies.get(session_cookie_name())
    listed = []
    for token in raw.split(_SEPARATOR):
        if _TOKEN.fullmatch(token) and token != active and token not in listed:
            listed.append(token)
    return listed[:limit - 1]


def browser_sessions() -> list[tuple[str, UserSession]]:
    """Every live session this browser proves with a cookie token, the active one first, one per
    user. Each listed token is resolved again here (an ended or expired one is left out), so call
    this only where the other accounts are needed; looked up once per request."""
    if "browser_sessions" not in g:
        found: list[tuple[str, UserSession]] = []
        active = current_session()
        if active is not None and g.authenticated_by == "cookie":
            found.append((request.cookies.get(session_cookie_name()), active))
        for token in _listed_tokens():
            session = sessions.resolve(token)
            if session is not None and all(known.user_id != session.user_id for _, known in found):
                found.append((token, session))
        g.browser_sessions = found
    return g.browser_sessions


def held_sessions() -> list[UserSession]:
    """The live sessions of this browser, active first (for ``accounts.sign_in``)."""
    return [session for _, session in browser_sessions()]


def browser_session_of(user_id) -> tuple[str, UserSession] | None:
    """This browser's live session of a user, with its token, if it holds one."""
    return next(((token, session) for token, session in browser_sessions() if str(session.user_id) == str(user_id)),
                None)


def set_session_cookie(response: Response, token: str, session: UserSession) -> Response:
    """Make ``session`` the browser's active one; the other accounts it holds stay listed (the same
    cap and order as ``accounts.sign_in``, which ends the sessions that no longer fit)."""
    others = [(known_token, known) for known_token, known in browser_sessions()
              if known.user_id != session.user_id and known_token != token]
    _write(response, token, session, others[:accounts.MAX_ACCOUNTS_PER_BROWSER - 1])
    return response


def switch_session(response: Response, token: str, session: UserSession) -> Response:
    """Make another of the browser's accounts the active one (the account chooser, an ID token hint);
    the previously active one moves to the front of the list."""
    return set_session_cookie(response, token, session)


def end_active_session(response: Response) -> Response:
    """Sign out of the active account only: the next live listed account becomes active, or the
    browser holds none. The caller ended the session itself."""
    others = browser_sessions()[1:] if current_session() is not None and g.authenticated_by == "cookie" \
        else browser_sessions()
    if not others:
        return clear_session_cookie(response)
    (token, session), rest = others[0], others[1:]
    _write(response, token, session, rest)
    return response


def _write(response: Response, token: str, session: UserSession, others: list[tuple[str, UserSession]]) -> None:
    secure = current_app.config["ISSUER_IS_HTTPS"]
    response.set_cookie(session_cookie_name(), token, expires=session.expires_at, path="/",
                        secure=secure, httponly=True, samesite="Lax")
    if others:
        response.set_cookie(accounts_cookie_name(), _SEPARATOR.join(known_token for known_token, _ in others),
                            expires=max(known.expires_at for _, known in others), path="/",
                            secure=secure, httponly=True, samesite="Lax")
    elif request.cookies.get(accounts_cookie_name()) is not None:
        response.delete_cookie(accounts_cookie_name(), path="/", secure=secure, httponly=True, samesite="Lax")


def clear_session_cookie(response: Response) -> Response:
    """Forget the active session's cookie (the listed accounts stay: see ``end_active_session``)."""
    response.delete_cookie(session_cookie_name(), path="/",
                           secure=current_app.config["ISSUER_IS_HTTPS"], httponly=True,
                           samesite="Lax")
    return response
