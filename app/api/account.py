"""The signed-in user's account as JSON, under /api/v1/me: profile, password, email, 2FA, sessions,
login history and deletion. The session cookie or a bearer access token authenticates."""

from uuid import UUID

from flask import Blueprint
from flask import Response
from flask import g
from flask import jsonify
from flask import request

from ..extensions import csrf
from ..models import LoginAttempt
from ..models import User
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
from .errors import problem

bp = Blueprint("account_api", __name__, url_prefix="/api/v1/me")
# The cookie rides along on cross-site requests, so it needs the CSRF header (checked in
# ``authenticate``); a bearer token is never sent by a browser on its own.
csrf.exempt(bp)

STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
JSON_BODY = frozenset({"POST", "PUT", "PATCH"})


@bp.before_request
@requires_session
def authenticate():
    """A live session (401 without); CSRF for the cookie on changes; a JSON body where one is read."""
    if request.method in STATE_CHANGING and g.authenticated_by == "cookie":
        csrf.protect()
    if request.method in JSON_BODY and not request.is_json:
        return _not_json()
    return None


# --- profile ---------------------------------------------------------------------------------------

@bp.get("")
def me():
    """The account and its profile."""
    return jsonify(_account(current_session().user))


@bp.patch("")
def update_me():
    """Change some profile fields; 400 with ``errors`` per field changes nothing."""
    user = profile.update_profile(current_session().user_id, _body())
    return jsonify(_account(user))


@bp.delete("")
@limits_credentials(account=signed_in_email)
def delete_me():
    """Delete the account (``password`` in the body): sessions end, tokens die, the cookie goes."""
    if not request.is_json:
        return _not_json()
    body = _body()
    accounts.delete_account(current_session().user_id, _required(body, "password"))
    return clear_session_cookie(Response(status=204))


# --- credentials -------------------------------------------------------------------------------------

@bp.post("/password")
@limits_credentials(account=signed_in_email)
def change_password():
    """A new password (``current_password``, ``new_password``); the other sessions end."""
    body = _body()
    session = current_session()
    current, new = _required(body, "current_password", "new_password")
    try:
        ended = passwords.change_password(session.user_id, current, new, keep=session.id)
    except PasswordRejected as refusal:  # the reasons belong to one field of this form
        raise InvalidFields({"new_password": refusal.reasons}) from None
    return jsonify({"sessions_ended": ended})


@bp.post("/email")
@limits_credentials(account=signed_in_email)
@limits_mail
def request_email_change():
    """Mail a code to the new address (``email``, ``password``); the address changes once it comes back."""
    body = _body()
    session = current_session()
    email, password = _required(body, "email", "password")
    pending = email_change.request_change(session.user_id, email, password)
    return jsonify({"email": session.user.email, "pending_email": pending}), 202


@bp.post("/email/confirm")
@limits_credentials(account=signed_in_email)
def confirm_email_change():
    """The code from the new address (``code``): the account takes that address."""
    try:
        user = email_change.confirm_change(current_session().user_id, _required(_body(), "code"))
    except CodeRejected as refusal:  # the message belongs to the code field
        credential_refused()
        raise InvalidFields({"code": [refusal.public_message]}) from None
    return jsonify(_account(user))


@bp.put("/2fa")
@limits_credentials(account=signed_in_email)
def set_two_factor():
    """Email 2FA on or off (``enabled``; ``password`` to turn it off)."""
    body = _body()
    enabled = body.get("enabled")
    if not isinstance(enabled, bool):
        raise InvalidFields({"enabled": ["Must be true or false."]})
    password = body.get("password")
    if password is not None and not isinstance(password, str):
        raise InvalidFields({"password": ["Must be text."]})
    user = second_factor.set_two_factor(current_session().user_id, enabled, password)
    return jsonify({"two_factor_enabled": user.two_factor_enabled})


# --- sessions and history ----------------------------------------------------------------------------

@bp.get("/sessions")
def sessions():
    """The live sessions, most recently used first; ``current`` marks this request's."""
    current = current_session()
    return jsonify({"sessions": [_session(item, item.id == current.id)
                                 for item in user_sessions.list_for_user(current.user_id)]})


@bp.delete("/sessions/<uuid:session_id>")
def end_session(session_id: UUID):
    """End one session (404 unless it is a live one of this user); ending this one signs out."""
    current = current_session()
    user_sessions.end_for_user(current.user_id, session_id)
    response = Response(status=204)
    if session_id == current.id and g.authenticated_by == "cookie":
        clear_session_cookie(response)
    return response


@bp.delete("/sessions")
def end_other_sessions():
    """End every session but this one."""
    current = current_session()
    return jsonify({"sessions_ended": user_sessions.end_others(current.user_id, keep=current.id)})


@bp.get("/login-history")
def login_history():
    """The latest sign-in attempts on this account, newest first."""
    return jsonify({"logins": [_login(attempt) for attempt in history.recent(current_session().user_id)]})


# --- shapes ------------------------------------------------------------------------------------------

def _account(user: User) -> dict:
    details = user.profile
    return {
        "id": str(user.id),
        "email": user.email,
        "email_verified": user.email_verified,
        "fullname": user.fullname,
        "given_name": details.given_name if details else None,
        "family_name": details.family_name if details else None,
        "phone": user.phone,
        "address": details.address if details else None,
        "birthdate": details.birthdate.isoformat() if details and details.birthdate else None,
        "avatar": user.avatar,
        "two_factor_enabled": user.two_factor_enabled,
        "roles": user.role_names,
        "created_at": _iso(user.created_at),
        "updated_at": _iso(user.updated_at),
    }


def _session(session: UserSession, current: bool) -> dict:
    return {
        "id": str(session.id),
        "current": current,
        "device": history.device_name(session.user_agent),
        "user_agent": session.user_agent,
        "ip_address": session.ip_address,
        "amr": session.amr,
        "created_at": _iso(session.created_at),
        "last_seen_at": _iso(session.last_seen_at),
        "expires_at": _iso(session.expires_at),
    }


def _login(attempt: LoginAttempt) -> dict:
    return {
        "time": _iso(attempt.time),
        "outcome": attempt.outcome,
        "method": attempt.method,
        "ip_address": attempt.ip_address,
        "device": history.device_name(attempt.device_info),
        "user_agent": attempt.device_info,
    }


def _iso(moment) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def _body() -> dict:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise InvalidFields({"body": ["Send a JSON object."]})
    return body


def _required(body: dict, *names: str):
    """The named text members of the body (one value, or a tuple); 400 for any missing."""
    missing = {name: ["This field is required."] for name in names
               if not isinstance(body.get(name), str) or not body[name]}
    if missing:
        raise InvalidFields(missing)
    values = tuple(body[name] for name in names)
    return values[0] if len(values) == 1 else values


def _not_json() -> Response:
    return problem(415, "Unsupported Media Type", "Send a JSON body (Content-Type: application/json).")
