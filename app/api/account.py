"""The signed-in user's account as JSON, under /api/v1/me: profile, password, email, 2FA, sessions,
login history and deletion. The session cookie or a bearer access token authenticates."""

from uuid import UUID

from flask import Blueprint
from flask import Response
from flask import g
from flask import request

from ..extensions import csrf
from ..models import LoginAttempt
from ..models import UserSession
from ..services import accounts
from ..services import email_change
from ..services import history
from ..services import passwords
from ..services import profile
from ..services import second_factor
from ..services import sessions as user_sessions
from ..services.account_errors import InvalidFields
from ..services.errors import CodeRejected
from ..services.errors import PasswordRejected
from ..web.limits import credential_refused
from ..web.limits import limits_credentials
from ..web.limits import limits_mail
from ..web.limits import signed_in_email
from ..web.session import clear_session_cookie
from ..web.session import current_session
from ..web.session import requires_session
from .schemas.account import AccountOut
from .schemas.account import EmailChangeIn
from .schemas.account import EmailChangePending
from .schemas.account import LoginList
from .schemas.account import LoginOut
from .schemas.account import PasswordChangeIn
from .schemas.account import PasswordIn
from .schemas.account import ProfileIn
from .schemas.account import SessionList
from .schemas.account import SessionOut
from .schemas.account import SessionsEnded
from .schemas.account import TwoFactorIn
from .schemas.account import TwoFactorOut
from .schemas.auth import CodeIn
from .spec import SESSION_OR_TOKEN
from .spec import responses
from .spec import validate

bp = Blueprint("account_api", __name__, url_prefix="/api/v1/me")
# The cookie rides along on cross-site requests, so it needs the CSRF header (checked in
# ``authenticate``); a bearer token is never sent by a browser on its own.
csrf.exempt(bp)

STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
TAGS = ["me"]
ERRORS = (400, 401, 415, 422, 429)


@bp.before_request
@requires_session
def authenticate():
    """A live session (401 without); CSRF for the cookie on changes. Bodies are checked by ``validate``."""
    if request.method in STATE_CHANGING and g.authenticated_by == "cookie":
        csrf.protect()
    return None


# --- profile ---------------------------------------------------------------------------------------

@bp.get("")
@validate(resp=responses({200: AccountOut}, errors=(401,)), tags=TAGS, security=SESSION_OR_TOKEN)
def me():
    """The account and its profile."""
    return AccountOut.of(current_session().user)


@bp.patch("")
@validate(json=ProfileIn, resp=responses({200: AccountOut}, errors=(400, 401, 415, 422)), tags=TAGS,
          security=SESSION_OR_TOKEN)
def update_me(json: ProfileIn):
    """Change some profile fields; 400 with ``errors`` per field changes nothing."""
    return AccountOut.of(profile.update_profile(current_session().user_id, json.changes()))


@bp.delete("")
@limits_credentials(account=signed_in_email)
@validate(json=PasswordIn, resp=responses({204: None}, errors=(400, 401, 403, 415, 422, 429)), tags=TAGS,
          security=SESSION_OR_TOKEN)
def delete_me(json: PasswordIn):
    """Delete the account (``password`` in the body): sessions end, tokens die, the cookie goes."""
    accounts.delete_account(current_session().user_id, json.password)
    return clear_session_cookie(Response(status=204))


# --- credentials -------------------------------------------------------------------------------------

@bp.post("/password")
@limits_credentials(account=signed_in_email)
@validate(json=PasswordChangeIn, resp=responses({200: SessionsEnded}, errors=(*ERRORS, 403)), tags=TAGS,
          security=SESSION_OR_TOKEN)
def change_password(json: PasswordChangeIn):
    """A new password (``currentPassword``, ``newPassword``); the other sessions end."""
    session = current_session()
    try:
        ended = passwords.change_password(session.user_id, json.current_password, json.new_password,
                                          keep=session.id)
    except PasswordRejected as refusal:  # the reasons belong to one field of this form
        raise InvalidFields({"newPassword": refusal.reasons}) from None
    return SessionsEnded(sessions_ended=ended)


@bp.post("/email")
@limits_credentials(account=signed_in_email)
@limits_mail
@validate(json=EmailChangeIn, resp=responses({202: EmailChangePending}, errors=(*ERRORS, 403, 409, 503)),
          tags=TAGS, security=SESSION_OR_TOKEN)
def request_email_change(json: EmailChangeIn):
    """Mail a code to the new address (``email``, ``password``); the address changes once it comes back."""
    session = current_session()
    pending = email_change.request_change(session.user_id, json.email, json.password)
    return EmailChangePending(email=session.user.email, pending_email=pending), 202


@bp.post("/email/confirm")
@limits_credentials(account=signed_in_email)
@validate(json=CodeIn, resp=responses({200: AccountOut}, errors=(*ERRORS, 409)), tags=TAGS,
          security=SESSION_OR_TOKEN)
def confirm_email_change(json: CodeIn):
    """The code from the new address (``code``): the account takes that address."""
    try:
        user = email_change.confirm_change(current_session().user_id, json.code)
    except CodeRejected as refusal:  # the message belongs to the code field
        credential_refused()
        raise InvalidFields({"code": [refusal.public_message]}) from None
    return AccountOut.of(user)


@bp.put("/2fa")
@limits_credentials(account=signed_in_email)
@validate(json=TwoFactorIn, resp=responses({200: TwoFactorOut}, errors=(*ERRORS, 403)), tags=TAGS,
          security=SESSION_OR_TOKEN)
def set_two_factor(json: TwoFactorIn):
    """Email 2FA on or off (``enabled``; ``password`` to turn it off)."""
    user = second_factor.set_two_factor(current_session().user_id, json.enabled, json.password)
    return TwoFactorOut(two_factor_enabled=user.two_factor_enabled)


# --- sessions and history ----------------------------------------------------------------------------

@bp.get("/sessions")
@validate(resp=responses({200: SessionList}, errors=(401,)), tags=TAGS, security=SESSION_OR_TOKEN)
def sessions():
    """The live sessions, most recently used first; ``current`` marks this request's."""
    current = current_session()
    return SessionList(sessions=[_session(item, item.id == current.id)
                                 for item in user_sessions.list_for_user(current.user_id)])


@bp.delete("/sessions/<uuid:session_id>")
@validate(resp=responses({204: None}, errors=(400, 401, 404)), tags=TAGS, security=SESSION_OR_TOKEN)
def end_session(session_id: UUID):
    """End one session (404 unless it is a live one of this user); ending this one signs out."""
    current = current_session()
    user_sessions.end_for_user(current.user_id, session_id)
    response = Response(status=204)
    if session_id == current.id and g.authenticated_by == "cookie":
        clear_session_cookie(response)
    return response


@bp.delete("/sessions")
@validate(resp=responses({200: SessionsEnded}, errors=(400, 401)), tags=TAGS, security=SESSION_OR_TOKEN)
def end_other_sessions():
    """End every session but this one."""
    current = current_session()
    return SessionsEnded(sessions_ended=user_sessions.end_others(current.user_id, keep=current.id))


@bp.get("/login-history")
@validate(resp=responses({200: LoginList}, errors=(401,)), tags=TAGS, security=SESSION_OR_TOKEN)
def login_history():
    """The latest sign-in attempts on this account, newest first."""
    return LoginList(logins=[_login(attempt) for attempt in history.recent(current_session().user_id)])


# --- shapes ------------------------------------------------------------------------------------------

def _session(session: UserSession, current: bool) -> SessionOut:
    return SessionOut(id=session.id, current=current, device=history.device_name(session.user_agent),
                      user_agent=session.user_agent, ip_address=session.ip_address, amr=session.amr,
                      created_at=session.created_at, last_seen_at=session.last_seen_at,
                      expires_at=session.expires_at)


def _login(attempt: LoginAttempt) -> LoginOut:
    return LoginOut(time=attempt.time, outcome=attempt.outcome, method=attempt.method,
                    ip_address=attempt.ip_address, device=history.device_name(attempt.device_info),
                    user_agent=attempt.device_info)
