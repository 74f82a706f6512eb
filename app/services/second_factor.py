"""Two-factor authentication: a code by email (or SMS, with MOBILE_ENABLED and a verified phone)
after the password, and turning it on and off."""

import logging
from uuid import UUID

from ..extensions import db
from ..models import User
from . import accounts
from . import mailer
from . import mobile
from . import passwords

security = logging.getLogger("security")


def available(user: User) -> bool:
    """Whether the user can give a second factor now: a code to a verified email address, or by
    SMS to a verified phone (or 2FA turned on, whose codes go to the account's address). An
    application asking for a stronger sign-in (acr_values) steps such a user up."""
    return bool(user.two_factor_enabled or user.email_verified or mobile.sends_second_factor(user))


def send(user_id: UUID) -> None:
    """Send a sign-in code (ResendTooSoon inside the window, MessageNotSent on failure).

    The mail goes out inside the request: the password was right, so the answer may say that the
    code could not be sent, which helps the person waiting for it and reveals nothing.
    """
    user = db.session.get(User, user_id)
    if mobile.sends_second_factor(user):
        mobile.send_second_factor(user)
    else:
        mailer.send_code(user.id, user.email, "email_2fa", "login_code", "Your sign-in code", wait=True)


def set_two_factor(user_id: UUID, enabled: bool, password: str | None = None) -> User:
    """The signed-in user turns email 2FA on, or off (WrongPassword unless the password is given)."""
    user = accounts.require_active(user_id)
    set_enabled(user, enabled, password)
    return user


def set_enabled(user: User, enabled: bool, password: str | None = None) -> None:
    """Turn email 2FA on, or off (which needs the current password)."""
    if not enabled:
        passwords.confirm(user, password)
    user.two_factor_enabled = enabled
    db.session.commit()
    security.info("2fa.%s user_id=%s", "enabled" if enabled else "disabled", user.id)
