"""The signed-in user's own account: profile, password, email address, 2FA, sessions, history, deletion.

Every change that could hand the account to someone else (a new password, a new address, 2FA off,
deletion) needs the current password; a new address is only taken once a code mailed to it comes
back.
"""

import logging
import re
from datetime import date
from datetime import timedelta
from urllib.parse import urlsplit
from uuid import UUID

from flask import current_app
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from ..clock import now
from ..extensions import db
from ..models import LoginAttempt
from ..models import Profile
from ..models import User
from ..models import UserSession
from ..models import VerificationCode
from . import accounts
from . import mailer
from . import passwords
from . import second_factor
from . import sessions
from . import verification
from .account_errors import EmailChangeRefused
from .account_errors import InvalidFields
from .account_errors import WrongPassword
from .errors import InvalidInput
from .errors import MessageNotSent
from .errors import NotFound
from .errors import PasswordRejected
from .errors import SignInRefused

log = logging.getLogger(__name__)
security = logging.getLogger("security")

HISTORY_LENGTH = 50
# Longer than any password the policy accepts: anything beyond is wrong without hashing it.
MAX_PASSWORD_INPUT = 1024
# Field -> longest value, as the columns allow.
TEXT_LIMITS = {"fullname": 200, "given_name": 100, "family_name": 100}
PHONE_LIMIT = 32
AVATAR_LIMIT = 500
EMAIL_LIMIT = 254
# The members of the OpenID Connect address claim (Core §5.1.1) and their longest values.
ADDRESS_LIMITS = {"formatted": 500, "street_address": 200, "locality": 100, "region": 100, "postal_code": 20,
                  "country": 100}
PROFILE_FIELDS = (*TEXT_LIMITS, "phone", "avatar", "address", "birthdate")
# The fields kept on the profile row rather than on the account (phone is on both).
PROFILE_COLUMNS = {"given_name", "family_name", "phone", "address", "birthdate"}
CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f]")
PHONE = re.compile(r"\+?[0-9 ().-]+")
ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
OLDEST_BIRTHDATE = date(1900, 1, 1)


# --- profile -------------------------------------------------------------------------------------

def get_user(user_id: UUID) -> User:
    """The active account; NotFound if it is gone or deleted."""
    user = db.session.get(User, user_id)
    if user is None or not user.is_active:
        raise NotFound()
    return user


def update_profile(user_id: UUID, changes: dict) -> User:
    """Change the given profile fields (a missing key keeps its value); InvalidFields changes nothing.

    Fields: fullname, given_name, family_name, phone, avatar (https URL; empty: the default
    picture), address (an object with the OIDC address members), birthdate (YYYY-MM-DD).
    """
    user = get_user(user_id)
    errors: dict[str, list[str]] = {}
    clean = {}
    for name, value in changes.items():
        if name not in PROFILE_FIELDS:
            errors[name] = ["Unknown field."]
            continue
        try:
            clean[name] = _VALIDATORS[name](name, value)
        except InvalidFields as invalid:
            errors.update(invalid.errors)
    if errors:
        raise InvalidFields(errors)
    profile = user.profile
    if profile is None and set(clean) & PROFILE_COLUMNS:
        profile = Profile(user=user)
        db.session.add(profile)
    for name, value in clean.items():
        if name == "fullname":
            user.fullname = value
        elif name == "phone":
            user.phone = profile.phone_number = value
        elif name == "avatar":
            user.avatar = value or accounts.gravatar_url(user.email)
        else:
            setattr(profile, name, value)
    # The OIDC updated_at claim is the account's: profile-only changes move it too.
    user.updated_at = now()
    db.session.commit()
    security.info("profile.updated user_id=%s fields=%s", user.id, ",".join(sorted(clean)))
    return user


def _text(name: str, value, limit: int | None = None, required: bool = False) -> str | None:
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise InvalidFields({name: ["Must be text."]})
    value = value.strip()
    limit = limit or TEXT_LIMITS[name]
    if required and not value:
        raise InvalidFields({name: ["This field is required."]})
    if len(value) > limit:
        raise InvalidFields({name: [f"Use at most {limit} characters."]})
    if CONTROL_CHARACTERS.search(value):
        raise InvalidFields({name: ["Use printable characters only."]})
    return value or None


def _fullname(name: str, value) -> str:
    return _text(name, value, required=True)


def _phone(name: str, value) -> str | None:
    value = _text(name, value, PHONE_LIMIT)
    if value is None:
        return None
    digits = sum(character.isdigit() for character in value)
    # E.164 numbers have at most 15 digits; spaces, dots, dashes and brackets may group them.
    if not PHONE.fullmatch(value) or not 4 <= digits <= 15:
        raise InvalidFields({name: ["Enter a phone number such as +44 20 7946 0958."]})
    return value


def _avatar(name: str, value) -> str | None:
    value = _text(name, value, AVATAR_LIMIT)
    if value is None:
        return None
    parts = urlsplit(value)
    if parts.scheme != "https" or not parts.hostname or " " in value or parts.username or parts.password:
        raise InvalidFields({name: ["Enter an https:// address of a picture."]})
    return value


def _birthdate(name: str, value) -> date | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        if not isinstance(value, str) or not ISO_DATE.fullmatch(value.strip()):
            raise ValueError(value)
        born = date.fromisoformat(value.strip())
    except ValueError:
        raise InvalidFields({name: ["Enter a date as YYYY-MM-DD."]}) from None
    if born > now().date() or born < OLDEST_BIRTHDATE:
        raise InvalidFields({name: [f"Enter a date between {OLDEST_BIRTHDATE.isoformat()} and today."]})
    return born


def _address(name: str, value) -> dict | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise InvalidFields({name: ["Must be an object with the members " + ", ".join(ADDRESS_LIMITS) + "."]})
    errors: dict[str, list[str]] = {}
    clean = {}
    for member, text in value.items():
        key = f"{name}.{member}"
        if member not in ADDRESS_LIMITS:
            errors[key] = ["Unknown field."]
            continue
        try:
            text = _text(key, text, ADDRESS_LIMITS[member])
        except InvalidFields as invalid:
            errors.update(invalid.errors)
            continue
        if text is not None:
            clean[member] = text
    if errors:
        raise InvalidFields(errors)
    return clean or None


_VALIDATORS = {"fullname": _fullname, "given_name": _text, "family_name": _text, "phone": _phone,
               "avatar": _avatar, "birthdate": _birthdate, "address": _address}


# --- password, 2FA, deletion ---------------------------------------------------------------------

def _check_password(user: User, password, field: str = "password") -> None:
    """WrongPassword unless ``password`` is the account's (an outdated hash is replaced)."""
    if not isinstance(password, str) or not password or len(password) > MAX_PASSWORD_INPUT:
        ok, new_hash = False, None
    else:
        ok, new_hash = passwords.verify(password, user.password_hash)
    if not ok:
        security.info("account.password_refused user_id=%s", user.id)
        raise WrongPassword(field)
    if new_hash:
        user.password_hash = new_hash


def change_password(user_id: UUID, current_password: str, new_password: str, keep: UUID | None) -> int:
    """Set a new password; every session but ``keep`` ends and the owner is told by mail.

    Returns how many sessions ended.
    """
    user = get_user(user_id)
    _check_password(user, current_password, "current_password")
    if not isinstance(new_password, str):
        raise PasswordRejected(["Enter a new password."])
    passwords.require_acceptable(new_password, user.email, (user.fullname,))
    user.password_hash = passwords.hash_password(new_password)
    user.updated_at = now()
    db.session.commit()
    ended = sessions.end_all_for(user.id, keep=keep)
    security.info("password.changed user_id=%s sessions_ended=%d", user.id, ended)
    _notify(user.email, "Your password was changed", "password_changed",
            signed_out="your other sessions were signed out")
    return ended


def set_two_factor(user_id: UUID, enabled: bool, password: str | None = None) -> User:
    """Turn email 2FA on, or off (WrongPassword unless the current password is given)."""
    user = get_user(user_id)
    if not enabled and (not isinstance(password, str) or len(password) > MAX_PASSWORD_INPUT):
        raise WrongPassword()
    try:
        second_factor.set_enabled(user, enabled, password)
    except SignInRefused:
        security.info("account.password_refused user_id=%s", user.id)
        raise WrongPassword() from None
    return user


def delete_account(user_id: UUID, password: str) -> None:
    """Soft-delete the account: it cannot sign in, every session ends and every token dies."""
    user = get_user(user_id)
    _check_password(user, password)
    accounts.deactivate(user.email)


# --- email address -------------------------------------------------------------------------------

def request_email_change(user_id: UUID, new_email: str, password: str) -> str:
    """Mail a code to ``new_email`` and a notice to the current address; returns the new address.

    The account keeps its address until the code comes back (``confirm_email_change``). An address
    that belongs to another account gets the same answer but no code, so this tells nobody which
    addresses are registered; ResendTooSoon inside the resend window either way.
    """
    user = get_user(user_id)
    address = _new_address(new_email, user)
    _check_password(user, password)
    if accounts.find_by_email(address) is None:
        mailer.send_code(user.id, address, "email_change", "change_email", "Confirm your new email address",
                         target=address)
    else:
        # A code that no one receives: the resend window and the previous code behave the same.
        verification.issue(user.id, "email_change", target=address)
        security.info("email_change.address_taken user_id=%s", user.id)
    security.info("email_change.requested user_id=%s", user.id)
    _notify(user.email, "A new email address was requested for your account", "email_changed", new_email=address)
    return address


def _new_address(new_email, user: User) -> str:
    if not isinstance(new_email, str) or not new_email.strip():
        raise InvalidFields({"email": ["Enter the new email address."]})
    if len(new_email) > EMAIL_LIMIT:
        raise InvalidFields({"email": [f"Use at most {EMAIL_LIMIT} characters."]})
    try:
        address = accounts.normalise_email(new_email)
    except InvalidInput as invalid:
        raise InvalidFields({"email": [invalid.public_message]}) from None
    if address == user.email:
        raise InvalidFields({"email": ["This is already your email address."]})
    return address


def pending_email_change(user_id: UUID) -> str | None:
    """The new address waiting for its code, if a live code was issued for one."""
    code = db.session.scalar(select(VerificationCode).where(
        VerificationCode.user_id == user_id, VerificationCode.purpose == "email_change")
        .order_by(VerificationCode.created_at.desc()).limit(1))
    if code is None or code.consumed_at is not None or code.expires_at <= now():
        return None
    if code.attempts >= current_app.config["CODE_MAX_ATTEMPTS"]:
        return None
    return code.target


def confirm_email_change(user_id: UUID, code: str) -> User:
    """The code mailed to the new address: the account takes that address (now verified)."""
    user = get_user(user_id)
    if not isinstance(code, str):
        raise InvalidFields({"code": ["Enter the code from the message."]})
    used = verification.check(user.id, "email_change", code)
    address = used.target
    if not address or accounts.find_by_email(address) is not None:
        raise EmailChangeRefused()
    previous = user.email
    user.email = address
    user.email_verified = True  # the code proves the owner reads it
    if user.avatar == accounts.gravatar_url(previous):
        user.avatar = accounts.gravatar_url(address)
    user.updated_at = now()
    try:
        db.session.commit()
    except IntegrityError:  # another account took the address a moment ago
        db.session.rollback()
        raise EmailChangeRefused() from None
    security.info("email.changed user_id=%s", user.id)
    return user


def _notify(to: str, subject: str, template: str, **context) -> None:
    """A notice whose failure must not undo the change it tells about (the mailer logs it)."""
    try:
        mailer.send(to, subject, template, **context)
    except MessageNotSent:
        pass


# --- sessions and history ------------------------------------------------------------------------

def list_sessions(user_id: UUID) -> list[UserSession]:
    """The user's live sessions, most recently used first."""
    at = now()
    idle = timedelta(seconds=current_app.config["SESSION_IDLE_TTL"])
    return list(db.session.scalars(
        select(UserSession)
        .where(UserSession.user_id == user_id, UserSession.revoked_at.is_(None), UserSession.expires_at > at,
               UserSession.last_seen_at > at - idle)
        .order_by(UserSession.last_seen_at.desc(), UserSession.created_at.desc())))


def end_session(user_id: UUID, session_id: UUID) -> None:
    """End one of the user's live sessions; NotFound for any other id (another user's too)."""
    if not any(session.id == session_id for session in list_sessions(user_id)):
        raise NotFound("No such session.")
    sessions.end(session_id)
    security.info("session.ended_by_user user_id=%s session_id=%s", user_id, session_id)


def end_other_sessions(user_id: UUID, keep: UUID) -> int:
    """End every session of the user but ``keep``; returns how many ended."""
    ended = sessions.end_all_for(user_id, keep=keep)
    security.info("session.others_ended user_id=%s count=%d", user_id, ended)
    return ended


def recent_logins(user_id: UUID, limit: int = HISTORY_LENGTH) -> list[LoginAttempt]:
    """The user's latest sign-in attempts, newest first."""
    return list(db.session.scalars(
        select(LoginAttempt).where(LoginAttempt.user_id == user_id)
        .order_by(LoginAttempt.time.desc(), LoginAttempt.created_at.desc()).limit(limit)))


# Checked in order: Edge and Opera also name Chrome, Chrome also names Safari.
BROWSERS = (("Edg", "Edge"), ("OPR/", "Opera"), ("Firefox/", "Firefox"), ("FxiOS/", "Firefox"),
            ("CriOS/", "Chrome"), ("Chrome/", "Chrome"), ("Safari/", "Safari"), ("curl/", "curl"))
SYSTEMS = (("Android", "Android"), ("iPhone", "iOS"), ("iPad", "iPadOS"), ("Windows", "Windows"),
           ("CrOS", "ChromeOS"), ("Mac OS X", "macOS"), ("Linux", "Linux"))


def device_name(user_agent: str | None) -> str:
    """A short, human name for a user agent ("Firefox on Linux"), for the sessions and history lists."""
    if not user_agent:
        return "Unknown device"
    browser = next((name for marker, name in BROWSERS if marker in user_agent), None)
    system = next((name for marker, name in SYSTEMS if marker in user_agent), None)
    if browser and system:
        return f"{browser} on {system}"
    return browser or system or user_agent.split(" ", 1)[0][:40]
