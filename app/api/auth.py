"""The account flows as JSON: /api/v1/auth/... beside the pages, on the same services.

Requests must be JSON: a cross-site form cannot send it without a CORS preflight, which is what
protects these cookie-setting endpoints from CSRF (they are exempt from the form token).
"""

import uuid

from flask import Blueprint
from flask import abort
from flask import current_app
from flask import jsonify
from flask import request

from ..extensions import csrf
from ..services import accounts
from ..services import onboarding
from ..services import recovery
from ..services import second_factor
from ..services import sessions
from ..services.errors import DomainError
from ..services.errors import MessageNotSent
from ..services.errors import ResendTooSoon
from ..services.errors import SecondFactorRequired
from ..services.errors import SignInRefused
from ..web.limits import form_email
from ..web.limits import limits_credentials
from ..web.limits import limits_mail
from ..web.limits import pending_email
from ..web.origin import request_origin
from ..web.second_factor import begin_second_factor
from ..web.second_factor import finish_second_factor
from ..web.second_factor import pending_second_factor
from ..web.session import clear_session_cookie
from ..web.session import current_session
from ..web.session import requires_session
from ..web.session import set_session_cookie
from .errors import problem

bp = Blueprint("api_auth", __name__, url_prefix="/api/v1/auth")
csrf.exempt(bp)


@bp.before_request
def require_json():
    if request.method == "POST" and not request.is_json:
        abort(415, "Send a JSON body (Content-Type: application/json).")


def _body() -> dict:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        abort(400, "The JSON body must be an object.")
    return body


def _text(body: dict, name: str, required: bool = True, limit: int = 1024) -> str | None:
    value = body.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip() or len(value) > limit:
        abort(400, f"'{name}' must be a non-empty string of at most {limit} characters.")
    return value


def _signed_in(session, token, status=200):
    body = {"user": {"id": str(session.user.id), "email": session.user.email},
            "session": {"id": str(session.id), "expires_at": session.expires_at.isoformat().replace("+00:00", "Z")}}
    response = jsonify(body)
    response.status_code = status
    return set_session_cookie(response, token, session)


@bp.post("/register")
@limits_mail
def register():
    """Create an account and mail a code; the same 202 whether or not the address was taken."""
    body = _body()
    address = body.get("address")
    if address is not None and not isinstance(address, dict):
        abort(400, "'address' must be an object.")
    email = onboarding.register(_text(body, "email", limit=254), _text(body, "fullname", limit=200),
                                _text(body, "password"), phone=_text(body, "phone", False, 32), address=address)
    return jsonify({"status": "verification_sent", "email": email}), 202


@bp.post("/verify")
@limits_credentials(account=form_email)
def verify():
    body = _body()
    session, token = onboarding.verify_email(_text(body, "email", limit=254), _text(body, "code", limit=12),
                                             request_origin())
    return _signed_in(session, token)


@bp.post("/verify/resend")
@limits_mail
def resend_verification():
    onboarding.resend_verification(_text(_body(), "email", limit=254))
    return jsonify({"status": "sent_if_waiting"}), 202


@bp.post("/login")
@limits_credentials(account=form_email)
def login():
    body = _body()
    email, password = _text(body, "email", limit=254), _text(body, "password")
    try:
        session, token = accounts.sign_in(email, password, request_origin(), current=current_session())
    except SecondFactorRequired as pending:
        begin_second_factor(pending.user_id, email, "/account")
        try:
            second_factor.send(pending.user_id)
        except (ResendTooSoon, MessageNotSent) as problem_sending:
            # The password was right and the sign-in waits for a code: a code sent moments ago
            # still completes it, and a failed one can be resent from the 2FA step.
            return jsonify({"status": "second_factor_required", "detail": problem_sending.public_message}), 202
        return jsonify({"status": "second_factor_required"}), 202
    except SignInRefused as refusal:
        if refusal.outcome == "unverified":
            try:
                onboarding.resend_verification(email)
            except DomainError:
                pass  # a code went out moments ago: the answer below still holds
            return problem(403, "Forbidden", refusal.public_message, reason="email_not_verified")
        raise
    return _signed_in(session, token)


@bp.post("/2fa")
@limits_credentials(account=pending_email)
def complete_second_factor():
    pending = pending_second_factor()
    if pending is None:
        return problem(401, "Unauthorized", "No sign-in is waiting for a code. Sign in again.")
    session, token = accounts.complete_second_factor(uuid.UUID(pending["user_id"]),
                                                     _text(_body(), "code", limit=12), request_origin(),
                                                     current=current_session())
    finish_second_factor()
    return _signed_in(session, token)


@bp.post("/logout")
def logout():
    session = current_session()
    if session is not None:
        sessions.end(session.id)
    return clear_session_cookie(current_app.response_class(status=204))


@bp.post("/session/renew")
@requires_session
def renew():
    """A new cookie token for the current session (its lifetime limits stay)."""
    session, token = sessions.renew(current_session())
    return _signed_in(session, token)


@bp.post("/password/forgot")
@limits_mail
def forgot_password():
    recovery.request_reset(_text(_body(), "email", limit=254))
    return jsonify({"status": "sent_if_registered"}), 202


@bp.post("/password/reset")
@limits_credentials(account=form_email)
def reset_password():
    body = _body()
    recovery.reset(_text(body, "email", limit=254), _text(body, "code", limit=12), _text(body, "password"))
    return "", 204
