"""Request-side glue shared by pages and the API: origin, session cookie, security headers."""

from urllib.parse import urlsplit

from flask import Flask
from flask import Response
from flask import current_app
from flask import g
from flask import request
from flask import session as flask_session

from .clock import now
from .models import UserSession
from .services import sessions
from .services.history import Origin


def session_cookie_name() -> str:
    # RFC 6265bis __Host- prefix: Secure, Path=/, no Domain; only possible over https.
    return "__Host-idp_session" if current_app.config["ISSUER_IS_HTTPS"] else "idp_session"


def request_origin() -> Origin:
    """The client's IP (ProxyFix has applied the trusted hops) and user agent."""
    agent = request.user_agent.string or None
    return Origin(request.remote_addr, agent[:512] if agent else None)


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


PENDING_2FA = "pending_second_factor"
# A password accepted for 2FA must be followed by the code within this many seconds.
SECOND_FACTOR_WINDOW = 600


def begin_second_factor(user_id, email: str, next_path: str) -> None:
    """Remember, in the browser's signed state cookie, whose password was just accepted."""
    flask_session[PENDING_2FA] = {"user_id": str(user_id), "email": email.strip().lower(), "next": next_path,
                                  "at": now().timestamp()}


def pending_second_factor() -> dict | None:
    """The sign-in waiting for its emailed code, if it is recent enough."""
    pending = flask_session.get(PENDING_2FA)
    if not pending or now().timestamp() - pending["at"] > SECOND_FACTOR_WINDOW:
        return None
    return pending


def finish_second_factor() -> None:
    flask_session.pop(PENDING_2FA, None)


def local_path_or(target: str | None, default: str) -> str:
    """``target`` when it is a path on this server, else ``default`` (no open redirects)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or any(ord(char) < 32 for char in target):
        return default
    return target


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


def see_other_after_post(response: Response) -> Response:
    """RFC 9700 §4.12: a redirect answering a POST (credentials, a consent decision) must not let the
    browser repeat the request at the new location; 303 makes it a GET, whoever built the response
    (our views, Authlib's authorization and logout responses). Flask's 308 to a path's canonical
    slash is left alone: it leads to the same view."""
    if request.method not in ("GET", "HEAD") and response.status_code in (301, 302, 307):
        response.status_code = 303
    return response


def limit_password_checks(app: Flask, endpoints: tuple[str, ...]) -> None:
    """Brute-force limits on views that ask the signed-in user for their password: every attempt per
    IP, and wrong passwords (the view sets ``g.password_refused``) per account. The counters are
    the sign-in's own (same scopes, same keys), so guesses here and at /login add up."""
    limiter = app.extensions["rate_limiter"]
    per_account = limiter.shared_limit(lambda: current_app.config["LOGIN_RATE_LIMIT_ACCOUNT"], "credential-account",
                                       key_func=_signed_in_account_key,
                                       deduct_when=lambda _response: bool(g.get("password_refused")))
    per_ip = limiter.shared_limit(lambda: current_app.config["LOGIN_RATE_LIMIT_IP"], "credential-ip")
    for endpoint in endpoints:
        app.view_functions[endpoint] = per_ip(per_account(app.view_functions[endpoint]))


def _signed_in_account_key() -> str:
    # The sign-in's key for the same account: "account:" + the stored (lower-case) email.
    session = current_session()
    return "account:" + (session.user.email if session else "")


def init_app(app: Flask) -> None:
    app.after_request(add_security_headers)
    app.after_request(see_other_after_post)
