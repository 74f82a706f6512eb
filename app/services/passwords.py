"""Passwords: hashing (argon2id, rehash on login), the policy, and the one way to set a new one."""

import logging
from collections.abc import Callable
from uuid import UUID

from flask import Flask
from flask import current_app
from passlib.context import CryptContext

from ..clock import now
from ..extensions import db
from ..models import User
from . import accounts
from . import events
from . import mailer
from . import sessions
from .account_errors import WrongPassword
from .errors import NotFound
from .errors import PasswordRejected

security = logging.getLogger("security")

MIN_LENGTH = 8
MAX_LENGTH = 128
# Longer than any password the policy accepts: anything beyond is wrong without hashing it.
MAX_PASSWORD_INPUT = 1024


def configure(app: Flask) -> None:
    """Build the application's CryptContext from its settings."""
    app.extensions["passwords"] = _Hasher(CryptContext(
        # argon2id for new hashes; older schemes verify and are replaced at the next sign-in.
        schemes=["argon2", "bcrypt", "pbkdf2_sha256"],
        default="argon2",
        deprecated=["bcrypt", "pbkdf2_sha256"],
        argon2__type="ID",
        argon2__memory_cost=app.config["PASSWORD_ARGON2_MEMORY_KIB"],
        argon2__rounds=app.config["PASSWORD_ARGON2_TIME_COST"],
        argon2__parallelism=app.config["PASSWORD_ARGON2_PARALLELISM"],
    ))


class _Hasher:
    def __init__(self, context: CryptContext):
        self.context = context
        self._dummy: str | None = None

    @property
    def dummy_hash(self) -> str:
        # Made on first use, not at start-up: only a sign-in for an unknown account needs it.
        if self._dummy is None:
            self._dummy = self.context.hash("not a password of anybody's")
        return self._dummy


def _hasher() -> _Hasher:
    return current_app.extensions["passwords"]


def hash_password(password: str) -> str:
    """Hash a password with the default scheme (argon2id)."""
    return _hasher().context.hash(password)


def verify(password: str, password_hash: str | None) -> tuple[bool, str | None]:
    """Check a password; the second value is a new hash when the stored one is outdated."""
    hasher = _hasher()
    if not password_hash:
        hasher.context.verify(password, hasher.dummy_hash)
        return False, None
    try:
        return hasher.context.verify_and_update(password, password_hash)
    except ValueError:  # an unrecognised or corrupt hash never signs anyone in
        return False, None


def spend_equal_time(password: str) -> None:
    """Hash against a dummy, so an unknown account costs what a wrong password costs."""
    hasher = _hasher()
    hasher.context.verify(password, hasher.dummy_hash)


def policy_violations(password: str, email: str = "", other_inputs: tuple[str, ...] = ()) -> list[str]:
    """The reasons ``password`` is refused, each one a thing the user can act on; [] if none."""
    if len(password) < MIN_LENGTH:
        return [f"Use at least {MIN_LENGTH} characters."]
    if len(password) > MAX_LENGTH:
        return [f"Use at most {MAX_LENGTH} characters."]
    if email and password.strip().lower() == email.strip().lower():
        return ["Do not use your email address as your password."]
    from zxcvbn import zxcvbn  # rarely used: imported on first use (docs/architecture.md)

    inputs = [value for value in (email, email.split("@")[0], *other_inputs) if value]
    result = zxcvbn(password, user_inputs=inputs)
    if result["score"] >= current_app.config["PASSWORD_MIN_SCORE"]:
        return []
    feedback = result["feedback"]
    reasons = ["This password is too easy to guess."]
    if feedback.get("warning"):
        reasons.append(_sentence(feedback["warning"]))
    reasons.extend(_sentence(tip) for tip in feedback.get("suggestions", []))
    if len(reasons) == 1:
        reasons.append("Add more words or characters that are less common.")
    return reasons


def require_acceptable(password: str, email: str = "", other_inputs: tuple[str, ...] = ()) -> None:
    """PasswordRejected, with the reasons, unless ``password`` meets the policy."""
    reasons = policy_violations(password, email, other_inputs)
    if reasons:
        raise PasswordRejected(reasons)


def _sentence(text: str) -> str:
    text = text.strip()
    return text if text.endswith(".") else text + "."


def confirm(user: User, password, field: str = "password") -> None:
    """WrongPassword unless ``password`` is the account's (an outdated hash is replaced)."""
    if not isinstance(password, str) or not password or len(password) > MAX_PASSWORD_INPUT:
        ok, new_hash = False, None
    else:
        ok, new_hash = verify(password, user.password_hash)
    if not ok:
        security.info("account.password_refused user_id=%s", user.id)
        raise WrongPassword(field)
    if new_hash:
        user.password_hash = new_hash


def set_password(user: User, new_password, via: str, keep: UUID | None = None,
                 proof: Callable[[], None] | None = None) -> int:
    """Give ``user`` a new password, the same way from every path (account page and API, reset, CLI).

    The policy applies; ``proof`` (a reset code being spent, say) runs once the password passes it.
    Every session but ``keep`` ends, every token of the account stops (offline refresh tokens
    too: they were granted on the strength of the old password) and the owner is told by mail.
    Returns how many sessions ended.
    """
    if not isinstance(new_password, str):
        raise PasswordRejected(["Enter a new password."])
    require_acceptable(new_password, user.email, (user.fullname,))
    if proof is not None:
        proof()
    # Serialized with token issuance for this user (``accounts.lock``): a refresh in flight
    # either finishes first and its tokens are revoked below, or waits and finds them revoked.
    accounts.lock(user.id)
    user.password_hash = hash_password(new_password)
    user.updated_at = now()
    db.session.commit()
    ended = sessions.end_all_for(user.id, keep=keep)
    events.credentials_revoked.send(user.id)
    security.info("password.changed user_id=%s via=%s sessions_ended=%d", user.id, via, ended)
    mailer.send(user.email, "Your password was changed", "password_changed", user_id=user.id,
                signed_out="your other sessions were signed out" if keep else "every session was signed out")
    return ended


def change_password(user_id: UUID, current_password, new_password, keep: UUID | None) -> int:
    """The signed-in user's change: the current password first, then ``set_password``."""
    user = db.session.get(User, user_id)
    if user is None or not user.is_active:
        raise NotFound()
    confirm(user, current_password, "current_password")
    return set_password(user, new_password, via="account", keep=keep)
