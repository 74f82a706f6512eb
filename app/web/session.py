"""The browser session: its cookie, the session of this request, and the one guard that needs it."""

import functools

from flask import Response
from flask import current_app
from flask import g
from flask import redirect
from flask import request
from flask import url_for
from werkzeug.exceptions import Unauthorized

from ..models import UserSession
from ..services import sessions
from .areas import wants_problem_json


def session_cookie_name() -> str:
    # RFC 6265bis __Host- prefix: Secure, Path=/, no Domain; only possible over https.
    return "__Host-idp_session" if current_app.config["ISSUER_IS_HTTPS"] else "idp_session"


def current_session() -> UserSession | None:
    """The live session of this request: its cookie's, or the one a bearer access token names
    (when the OAuth server registered a resolver). Looked up once per request."""
    if "user_session" not in g:
        g.user_session = sessions.resolve(request.cookies.get(session_cookie_name()))
        g.authenticated_by = "cookie" if g.user_session else None
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        resolver = current_app.extensions.get("bearer_session_resolver")
        if g.user_session is None and scheme.lower() == "bearer" and token and resolver:
            g.user_session = resolver(token.strip())
            g.authenticated_by = "bearer" if g.user_session else None
    return g.user_session


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
        if current_session() is None:
            if wants_problem_json():
                raise SignInRequired()
            # After signing in, come back to the page (a form's target cannot be reached by GET).
            back = request.path if request.method == "GET" else url_for("account.overview")
            return redirect(url_for("auth.login", next=back))
        return view(*args, **kwargs)
    return guarded


def set_session_cookie(response: Response, token: str, session: UserSession) -> Response:
    """Hand the browser its opaque session token."""
    response.set_cookie(
        session_cookie_name(), token, expires=session.expires_at, path="/",
        secure=current_app.config["ISSUER_IS_HTTPS"], httponly=True, samesite="Lax",
    )
    return response


def clear_session_cookie(response: Response) -> Response:
    response.delete_cookie(session_cookie_name(), path="/",
                           secure=current_app.config["ISSUER_IS_HTTPS"], httponly=True,
                           samesite="Lax")
    return response
