"""Password reset by a code sent to the account's email address."""

import logging

from ..clock import now
from ..extensions import db
from . import accounts
from . import events
from . import mailer
from . import passwords
from . import sessions
from . import verification
from .errors import CodeRejected
from .errors import MessageNotSent
from .errors import ResendTooSoon

security = logging.getLogger("security")


def request_reset(email: str) -> None:
    """Mail a reset code if the address has an active account; the caller answers the same either way."""
    user = accounts.find_by_email(email) if email and len(email) <= 254 else None
    if user is None or not user.is_active:
        security.info("password_reset.unknown_email")
        return
    try:
        mailer.send_code(user.id, user.email, "password_reset", "reset_password", "Reset your password")
    except ResendTooSoon:
        # Saying "wait" would tell that the address has an account; the code sent moments ago stands.
        security.info("password_reset.resend_too_soon user_id=%s", user.id)


def reset(email: str, code: str, new_password: str) -> None:
    """Check the code and set the new password; every session and token of the user ends."""
    user = accounts.find_by_email(email) if email and len(email) <= 254 else None
    if user is None or not user.is_active:
        raise CodeRejected("That code is not right. Check the latest message and try again.")
    passwords.require_acceptable(new_password, user.email, (user.fullname,))  # before the code is spent
    verification.check(user.id, "password_reset", code)
    user.password_hash = passwords.hash_password(new_password)
    user.updated_at = now()
    db.session.commit()
    sessions.end_all_for(user.id)
    events.credentials_revoked.send(user.id)
    security.info("password.reset user_id=%s", user.id)
    try:
        mailer.send(user.email, "Your password was changed", "password_changed",
                    signed_out="every session was signed out")
    except MessageNotSent:  # the reset stands; the mailer logged the failure
        pass
