"""Accounts: creation, sign-in, the super admin, deactivation and deletion."""

import hashlib
import logging
import secrets
from collections.abc import Sequence
from uuid import UUID

from flask import current_app
from sqlalchemy import select
from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import lazyload

from ..clock import now
from ..extensions import db
from ..models import User
from ..models import UserSession
from . import audit
from . import events
from . import history
from . import mobile
from . import passwords
from . import rbac
from . import sessions
from . import verification
from .errors import AccountExists
from .errors import CodeRejected
from .errors import InvalidInput
from .errors import NotFound
from .errors import SecondFactorRequired
from .errors import SignInRefused
from .history import Origin

log = logging.getLogger(__name__)
security = logging.getLogger("security")

BAD_CREDENTIALS = "Incorrect email address or password."
UNVERIFIED = "Your email address is not verified yet. Verify it, then sign in."
# Signed-in accounts one browser may hold at once (one active, the others ready to switch to).
MAX_ACCOUNTS_PER_BROWSER = 5


def normalise_email(email: str) -> str:
    """The canonical, lower-case form of an address; InvalidInput if it is not one."""
    from email_validator import EmailNotValidError  # rarely used: imported on first use (docs/architecture.md)
    from email_validator import validate_email

    try:
        address = validate_email(email.strip(), check_deliverability=False)
    except EmailNotValidError as error:
        raise InvalidInput(str(error)) from None
    return address.normalized.lower()


def gravatar_url(email: str) -> str:
    """The default avatar: Gravatar's identicon for the address (DESIGN.md)."""
    digest = hashlib.md5(email.strip().lower().encode(), usedforsecurity=False).hexdigest()
    return f"https://gravatar.com/avatar/{digest}?s=200&d=identicon"


def find_by_email(email: str) -> User | None:
    """The account with this address, active or not. Its roles load when first used: most callers,
    sign-in among them, never look at them."""
    return db.session.scalar(select(User).where(User.email == email.strip().lower()).options(lazyload(User.roles)))


def active_user(user_id: UUID | str) -> User | None:
    """The account with this id if it may still act (not deactivated), else None."""
    try:
        user_id = user_id if isinstance(user_id, UUID) else UUID(str(user_id))
    except ValueError:
        return None
    user = db.session.get(User, user_id)
    return user if user is not None and user.is_active else None


def exists(user_id: UUID) -> bool:
    """Whether an account (active or not) has this id."""
    return db.session.get(User, user_id) is not None


def lock(user_id: UUID) -> User | None:
    """Take the account's row for the rest of the caller's unit of work and return it, read
    again (None if it is gone).

    Every unit of work that issues or revokes a user's tokens starts here, so a revocation and
    an issuance for the same user run one after the other and the second sees what the first
    committed. PostgreSQL: ``SELECT ... FOR NO KEY UPDATE``; every later statement of the
    transaction (read committed) sees what the previous holder committed. SQLite ignores row
    locks, so a write that changes nothing takes the database's write lock (waiting for another
    writer); the driver opens its transaction at that first write, so what is read afterwards
    is read under the lock.
    """
    if db.session.get_bind().dialect.name == "sqlite":
        # updated_at named too, so its onupdate default does not stamp the account as changed.
        db.session.execute(update(User).where(User.id == user_id).values(id=User.id, updated_at=User.updated_at)
                           .execution_options(synchronize_session=False))
        return db.session.get(User, user_id, populate_existing=True)
    # FOR NO KEY UPDATE: as exclusive among lockers as FOR UPDATE, but rows that only refer to
    # the account (a sign-in's session, its history) are still written meanwhile.
    return db.session.scalar(select(User).where(User.id == user_id).with_for_update(key_share=True)
                             .execution_options(populate_existing=True))


def require_active(user_id) -> User:
    """The active account; NotFound if it is gone or deleted."""
    user = active_user(user_id)
    if user is None:
        raise NotFound()
    return user


def create_user(email: str, password: str, fullname: str = "", *, verified: bool = False,
                extra_roles: frozenset[str] = frozenset()) -> User:
    """Create an account; it always has the ``user`` role, whatever else it is given."""
    email = normalise_email(email)
    passwords.require_acceptable(password, email, (fullname,))
    return add_user(email, passwords.hash_password(password), fullname, verified=verified, extra_roles=extra_roles)


def add_user(email: str, password_hash: str, fullname: str = "", *, verified: bool = False,
             extra_roles: frozenset[str] = frozenset()) -> User:
    """Store a new account for a normalised address and an accepted, hashed password; AccountExists."""
    user = User(email=email, fullname=fullname.strip(), email_verified=verified, password_hash=password_hash,
                avatar=gravatar_url(email), roles=rbac.roles_named({rbac.DEFAULT_ROLE, *extra_roles}))
    db.session.add(user)
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise AccountExists() from None
    security.info("account.created user_id=%s roles=%s", user.id, ",".join(user.role_names))
    return user


def sign_in(email: str, password: str, origin: Origin,
            held: Sequence[UserSession] = ()) -> tuple[UserSession, str]:
    """Check a password and open a session; SignInRefused says why not, without enumeration.

    ``held``: the live sessions the browser holds, active first. Signing in again in a browser
    that has a session of the same user re-authenticates that session (same id, so tokens issued
    in it live on; new token and auth time); the sessions of other users stay (several accounts
    per browser), except the oldest ones beyond MAX_ACCOUNTS_PER_BROWSER, which are ended.
    """
    user = find_by_email(email) if len(email) <= 254 else None
    if user is None:
        passwords.spend_equal_time(password)
        return _refuse(None, origin, "unknown_user", BAD_CREDENTIALS)
    ok, new_hash = passwords.verify(password, user.password_hash)
    if not ok:
        return _refuse(user, origin, "bad_password", BAD_CREDENTIALS)
    if not user.is_active:
        # A deleted account looks like no account, even to someone who knows its password.
        return _refuse(user, origin, "inactive", BAD_CREDENTIALS)
    if new_hash:
        user.password_hash = new_hash
        log.info("password.rehashed user_id=%s", user.id)
    if current_app.config["EMAIL_VERIFICATION_REQUIRED"] and not user.email_verified:
        db.session.commit()  # keep the rehash: the password was right
        return _refuse(user, origin, "unverified", UNVERIFIED)
    if user.two_factor_enabled or current_app.config["EMAIL_2FA_REQUIRED"]:
        history.record(user.id, origin, "password", "2fa_required")
        db.session.commit()
        raise SecondFactorRequired(user.id)
    return _open_session(user, origin, held, "password", ["pwd"])


def complete_second_factor(user_id, code: str, origin: Origin,
                           held: Sequence[UserSession] = ()) -> tuple[UserSession, str]:
    """The code sent after a right password (email, or SMS): opens the session (amr ..., mfa)."""
    user = db.session.get(User, user_id)
    if user is None or not user.is_active:
        raise CodeRejected("This sign-in has expired. Start again.")
    by_sms = mobile.sends_second_factor(user)
    try:
        verification.check(user.id, "mobile_2fa" if by_sms else "email_2fa", code)
    except CodeRejected:
        method = "sms_otp" if by_sms else "email_otp"
        history.record(user.id, origin, method, "2fa_failed")
        db.session.commit()
        security.info("login.2fa_failed method=%s user_id=%s ip=%s", method, user.id, origin.ip_address)
        raise
    if by_sms:  # RFC 8176: "sms" for a code sent by text message
        return _open_session(user, origin, held, "password+sms_otp", ["pwd", "sms", "mfa"])
    return _open_session(user, origin, held, "password+email_otp", ["pwd", "otp", "mfa"])


def _open_session(user: User, origin: Origin, held: Sequence[UserSession], method: str,
                  amr: list[str]) -> tuple[UserSession, str]:
    same = next((session for session in held if session.user_id == user.id), None)
    others = [session for session in held if session.user_id != user.id]
    for dropped in others[MAX_ACCOUNTS_PER_BROWSER - 1:]:  # the browser can list no more: they end
        sessions.end(dropped.id)
    if same is not None:
        session, token = sessions.reauthenticate(same, origin, amr)
    else:
        session, token = sessions.start(user, origin, amr)
    user.last_login_at = session.created_at
    history.record(user.id, origin, method, "success")
    _commit_keeping_loaded()
    security.info("login.succeeded user_id=%s session_id=%s ip=%s", user.id, session.id, origin.ip_address)
    return session, token


def _commit_keeping_loaded() -> None:
    """Commit without expiring what the request holds: the session and the account were just written, so
    what they hold is what was committed, and the log line and the cookie read them without loading the
    two rows (and the account's roles) again. Columns the database fills itself stay expired by the flush."""
    unit = db.session()
    expiring, unit.expire_on_commit = unit.expire_on_commit, False
    try:
        unit.commit()
    finally:
        unit.expire_on_commit = expiring


def _refuse(user: User | None, origin: Origin, outcome: str, message: str):
    history.record(user.id if user else None, origin, "password", outcome)
    db.session.commit()
    security.info("login.failed outcome=%s user_id=%s ip=%s", outcome, user.id if user else "-",
                  origin.ip_address)
    raise SignInRefused(outcome, message)


def record_lockout(email: str, origin: Origin) -> None:
    """Write a refused-by-rate-limit attempt to the login history."""
    user = find_by_email(email) if email and len(email) <= 254 else None
    history.record(user.id if user else None, origin, "password", "locked")
    db.session.commit()
    security.warning("login.locked user_id=%s ip=%s", user.id if user else "-", origin.ip_address)


def ensure_superadmin(email: str, password: str | None) -> tuple[User, str | None]:
    """Create the super admin on first start; returns it and the password generated, if any."""
    existing = find_by_email(email)
    if existing is not None:
        return existing, None
    generated = None if password else secrets.token_urlsafe(18)
    try:
        user = create_user(email, password or generated, "Super Admin", verified=True,
                           extra_roles=frozenset({"superAdmin"}))
    except AccountExists:  # another instance created it a moment ago
        return find_by_email(email), None
    return user, generated


def set_password(email: str, password: str) -> User:
    """An administrator's new password for an account (``flask users set-password``)."""
    user = _existing(email)
    passwords.set_password(user, password, via="cli")
    return user


def deactivate(email: str) -> User:
    """Soft-delete an account at the command line (the operator acts); see ``deactivate_user``."""
    return deactivate_user(_existing(email), audit.Actor.system())


def deactivate_user(user: User, actor: audit.Actor) -> User:
    """Soft-delete an account: it can no longer sign in, its sessions end and its tokens stop; one
    audit event. The last active superAdmin cannot go (LastSuperAdmin). An inactive account stays
    as it is."""
    if not user.is_active:
        return user
    if any(role.name == rbac.SUPERADMIN for role in user.roles):
        rbac.require_another_superadmin(user.id)
    user.is_active = False
    user.updated_at = now()
    audit.record(actor, "user.deactivate", target_type="user", target_id=user.id,
                 before={"isActive": True}, after={"isActive": False})
    db.session.commit()
    ended = end_credentials(user.id)
    security.info("account.deactivated user_id=%s sessions_ended=%d", user.id, ended)
    return user


def end_credentials(user_id: UUID) -> int:
    """After a committed deactivation or a withdrawn password: every session of the account ends and
    every token derived from its sign-ins stops (the OAuth server listens). Returns the sessions ended."""
    ended = sessions.end_all_for(user_id)
    events.credentials_revoked.send(user_id)
    return ended


def delete_account(user_id, password) -> None:
    """The signed-in user deletes the account (the password confirms): a soft delete, as above."""
    user = require_active(user_id)
    passwords.confirm(user, password)
    deactivate_user(user, audit.Actor(user.id, None, Origin(None, None)))


def list_users(limit: int = 1000) -> list[User]:
    """Accounts, oldest first."""
    return list(db.session.scalars(select(User).order_by(User.created_at, User.id).limit(limit)))


def _existing(email: str) -> User:
    user = find_by_email(email)
    if user is None:
        raise NotFound(f"No account with email {email.strip().lower()!r}.")
    return user
