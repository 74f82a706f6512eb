"""Registration and email verification."""

import logging

from flask import current_app

from ..clock import now
from ..extensions import db
from ..models import Profile
from ..models import User
from . import accounts
from . import history
from . import mailer
from . import passwords
from . import sessions
from . import verification
from .errors import AccountExists
from .errors import CodeRejected
from .errors import RegistrationClosed
from .history import Origin

security = logging.getLogger("security")

VERIFY_SUBJECT = "Confirm your email address"


def register(email: str, fullname: str, password: str, phone: str | None = None,
             address: dict | None = None) -> str:
    """Create an unverified account with role ``user`` and mail it a code; returns the address.

    An address that already has an account gets the same answer, and its owner a notice instead
    of a code, so the form tells nobody which addresses are registered.
    """
    if not current_app.config["PUBLIC_REGISTRATION"]:
        raise RegistrationClosed()
    email = accounts.normalise_email(email)
    try:
        # Whatever the request says, a new account is unverified and has only the user role.
        user = accounts.create_user(email, password, fullname, verified=False)
    except AccountExists:
        passwords.spend_equal_time(password)
        mailer.send(email, "Someone tried to register with your email address", "account_exists")
        security.info("register.existing_email")
        return email
    if phone or address:
        db.session.add(Profile(user_id=user.id, phone_number=phone or None, address=address or None))
        user.phone = phone or None
        db.session.commit()
    send_verification(user)
    return email


def send_verification(user: User) -> None:
    """Mail a verification code to an unverified account (ResendTooSoon, MessageNotSent)."""
    mailer.send_code(user.id, user.email, "email_verification", "verify_email", VERIFY_SUBJECT)


def resend_verification(email: str) -> None:
    """Mail a new code if the address has an unverified account; silent otherwise (no enumeration)."""
    user = accounts.find_by_email(email) if email else None
    if user is not None and user.is_active and not user.email_verified:
        send_verification(user)


def verify_email(email: str, code: str, origin: Origin):
    """Check the code, mark the address verified and open a session; returns (session, token)."""
    user = accounts.find_by_email(email) if email else None
    if user is None or not user.is_active or user.email_verified:
        raise CodeRejected("That code is not right. Check the latest message and try again.")
    verification.check(user.id, "email_verification", code)
    user.email_verified = True
    user.updated_at = now()
    session, token = sessions.start(user, origin, amr=["otp"])
    user.last_login_at = session.created_at
    history.record(user.id, origin, "email_verification", "success")
    db.session.commit()
    security.info("email.verified user_id=%s", user.id)
    return session, token
