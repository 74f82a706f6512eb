"""The account flows as JSON: /api/v1/auth/... beside the pages, on the same services.

Requests must be JSON: a cross-site form cannot send it without a CORS preflight, which is what
protects these cookie-setting endpoints from CSRF (they are exempt from the form token). Bodies
are declared models (app/api/schemas/auth.py) checked by ``validate``.
"""

import uuid

from flask import Blueprint
from flask import abort
from flask import current_app
from flask import request
from flask_wtf.csrf import generate_csrf

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
from ..web.session import current_session
from ..web.session import end_active_session
from ..web.session import held_sessions
from ..web.session import requires_session
from ..web.session import set_session_cookie
from .errors import problem
from .schemas.auth import CodeIn
from .schemas.auth import CsrfToken
from .schemas.auth import EmailIn
from .schemas.auth import LoginIn
from .schemas.auth import Registered
from .schemas.auth import RegisterIn
from .schemas.auth import ResetIn
from .schemas.auth import SessionRef
from .schemas.auth import SignedIn
from .schemas.auth import SignedInUser
from .schemas.auth import Status
from .schemas.auth import VerifyIn
from .spec import SESSION_OR_TOKEN
from .spec import responses
from .spec import validate

bp = Blueprint("api_auth", __name__, url_prefix="/api/v1/auth")
csrf.exempt(bp)


@bp.before_request
def require_json():
    """Every POST, bodiless ones (logout, renew) included: a cross-site form cannot send JSON."""
    if request.method == "POST" and not request.is_json:
        abort(415, "Send a JSON body (Content-Type: application/json).")


def _signed_in(session, token, status=200):
    body = SignedIn(user=SignedInUser(id=session.user.id, email=session.user.email),
                    session=SessionRef(id=session.id, expires_at=session.expires_at))
    response = current_app.response_class(body.model_dump_json(by_alias=True), status=status,
                                          mimetype="application/json")
    return set_session_cookie(response, token, session)


SIGNED_IN = responses({200: SignedIn}, errors=(400, 401, 415, 422, 429))
TAGS = ["auth"]


@bp.get("/csrf")
@validate(resp=responses({200: CsrfToken}), tags=TAGS)
def csrf_token():
    """The CSRF token a cookie-authenticated change sends in the X-CSRFToken header (Swagger UI uses it)."""
    return CsrfToken(csrf_token=generate_csrf())


@bp.post("/register")
@limits_mail
@validate(json=RegisterIn, resp=responses({202: Registered}, errors=(400, 404, 409, 415, 422, 429, 503)), tags=TAGS)
def register(json: RegisterIn):
    """Create an account and mail a code; the same 202 whether or not the address was taken."""
    address = json.address.model_dump(exclude_unset=True) if json.address is not None else None
    email = onboarding.register(json.email, json.fullname, json.password, phone=json.phone, address=address)
    return Registered(status="verification_sent", email=email), 202


@bp.post("/verify")
@limits_credentials(account=form_email)
@validate(json=VerifyIn, resp=SIGNED_IN, tags=TAGS)
def verify(json: VerifyIn):
    """The code mailed at registration: the address is verified and a session starts."""
    session, token = onboarding.verify_email(json.email, json.code, request_origin())
    return _signed_in(session, token)


@bp.post("/verify/resend")
@limits_mail
@validate(json=EmailIn, resp=responses({202: Status}, errors=(400, 415, 422, 429, 503)), tags=TAGS)
def resend_verification(json: EmailIn):
    """Mail a new verification code, if the account waits for one."""
    onboarding.resend_verification(json.email)
    return Status(status="sent_if_waiting"), 202


@bp.post("/login")
@limits_credentials(account=form_email)
@validate(json=LoginIn, resp=responses({200: SignedIn, 202: Status}, errors=(400, 401, 403, 415, 422, 429)),
          tags=TAGS)
def login(json: LoginIn):
    """Sign in with email and password: a session cookie, or 202 when a second factor is needed."""
    email, password = json.email, json.password
    try:
        session, token = accounts.sign_in(email, password, request_origin(), held=held_sessions())
    except SecondFactorRequired as pending:
        begin_second_factor(pending.user_id, email, "/account")
        try:
            second_factor.send(pending.user_id)
        except (ResendTooSoon, MessageNotSent) as problem_sending:
            # The password was right and the sign-in waits for a code: a code sent moments ago
            # still completes it, and a failed one can be resent from the 2FA step.
            return Status(status="second_factor_required", detail=problem_sending.public_message), 202
        return Status(status="second_factor_required"), 202
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
@validate(json=CodeIn, resp=SIGNED_IN, tags=TAGS)
def complete_second_factor(json: CodeIn):
    """The code of the second factor completes the sign-in that waits for it."""
    pending = pending_second_factor()
    if pending is None:
        return problem(401, "Unauthorized", "No sign-in is waiting for a code. Sign in again.")
    session, token = accounts.complete_second_factor(uuid.UUID(pending["user_id"]), json.code, request_origin(),
                                                     held=held_sessions())
    finish_second_factor()
    return _signed_in(session, token)


@bp.post("/logout")
@validate(resp=responses({204: None}, errors=(415,)), tags=TAGS)
def logout():
    """End the session of the cookie, if any; the browser's next signed-in account, if any, becomes active."""
    session = current_session()
    if session is not None:
        sessions.end(session.id)
    return end_active_session(current_app.response_class(status=204))


@bp.post("/session/renew")
@requires_session
@validate(resp=responses({200: SignedIn}, errors=(401, 415)), tags=TAGS, security=SESSION_OR_TOKEN)
def renew():
    """A new cookie token for the current session (its lifetime limits stay)."""
    session, token = sessions.renew(current_session())
    return _signed_in(session, token)


@bp.post("/password/forgot")
@limits_mail
@validate(json=EmailIn, resp=responses({202: Status}, errors=(400, 415, 422, 429, 503)), tags=TAGS)
def forgot_password(json: EmailIn):
    """Mail a reset code, if the address has an account."""
    recovery.request_reset(json.email)
    return Status(status="sent_if_registered"), 202


@bp.post("/password/reset")
@limits_credentials(account=form_email)
@validate(json=ResetIn, resp=responses({204: None}, errors=(400, 415, 422, 429)), tags=TAGS)
def reset_password(json: ResetIn):
    """The mailed code and a new password: the password changes and every session ends."""
    recovery.reset(json.email, json.code, json.password)
    return "", 204
