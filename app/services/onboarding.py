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
from . import profile
from . import sessions
from . import verification
from .errors import AccountExists
from .errors import RegistrationClosed
from .errors import ResendTooSoon
from .history import Origin

security = logging.getLogger("security")

VERIFY_SUBJECT = "Confirm your email address"
VERIFY_PURPOSE = "email_verification"
# The "someone tried to register with your address" notice: a purpose only for its resend window.
NOTICE_PURPOSE = "registration_notice"
NOTICE_SUBJECT = "Someone tried to register with your email address"


def register(email: str, fullname: str, password: str, phone: str | None = None,
             address: dict | None = None) -> str:
    """Create an unverified account with role ``user`` and mail it a code; returns the address.

    An address that already has an account gets the same answer after the same work (the policy
    and a password hash), and its owner a notice instead of a code, at most one per resend window,
    so the form tells nobody which addresses are registered and cannot be used to flood a mailbox.
    """
    if not current_app.config["PUBLIC_REGISTRATION"]:
        raise RegistrationClosed()
    email = accounts.normalise_email(email)
    phone, address = profile.clean_contact(phone, address)
    passwords.require_acceptable(password, email, (fullname,))
    password_hash = passwords.hash_password(password)
    # Registration opens the resend window of the address, whoever owns it (see resend_verification).
    verification.hold_address_window(VERIFY_PURPOSE, email, strict=False)
    existing = accounts.find_by_email(email)
    if existing is None:
        try:
            # Whatever the request says, a new account is unverified and has only the user role.
            user = accounts.add_user(email, password_hash, fullname, verified=False)
        except AccountExists:  # registered a moment ago by a parallel request
            existing = accounts.find_by_email(email)
    if existing is not None:
        _notify_owner(existing, email)
        return email
    if phone or address:
        db.session.add(Profile(user_id=user.id, phone_number=phone, address=address))
        user.phone = phone
        db.session.commit()
    _send(user, email)
    return email


def _notify_owner(user: User, email: str) -> None:
    # The notice rides on the code machinery: its resend window allows one per window and address
    # (the code issued with it is never shown: it only marks the window).
    try:
        _send_mail(user.id, email, NOTICE_PURPOSE, "account_exists", NOTICE_SUBJECT)
    except ResendTooSoon:
        security.info("register.existing_email notice=skipped user_id=%s", user.id)
        return
    security.info("register.existing_email notice=sent user_id=%s", user.id)


def _send(user: User, email: str) -> None:
    _send_mail(user.id, email, VERIFY_PURPOSE, "verify_email", VERIFY_SUBJECT)


def _send_mail(user_id, email: str, purpose: str, template: str, subject: str) -> None:
    # Mailed after the request; should delivery fail, the address may ask again at once.
    mailer.send_code(user_id, email, purpose, template, subject,
                     on_failure=lambda: verification.release_address_window(VERIFY_PURPOSE, email))


def resend_verification(email: str) -> None:
    """Mail a new code if the address has an unverified account, and answer the same for any address.

    The resend window is the address's, whatever (if anything) owns it: inside it ResendTooSoon for
    everyone, outside it silence for everyone but the unverified account, which gets its code.
    """
    verification.hold_address_window(VERIFY_PURPOSE, email or "")
    user = accounts.find_by_email(email) if email and len(email) <= 254 else None
    if user is not None and user.is_active and not user.email_verified:
        # Issued and mailed after the request, so it costs what any other address costs; inside the
        # account's own code window (a sign-in sent one) nothing goes out and that code stands.
        address = user.email
        mailer.send_code_after(user.id, address, VERIFY_PURPOSE, "verify_email", VERIFY_SUBJECT,
                               on_failure=lambda: verification.release_address_window(VERIFY_PURPOSE, address))


def verify_email(email: str, code: str, origin: Origin):
    """Check the code, mark the address verified and open a session; returns (session, token)."""
    user = accounts.find_by_email(email) if email and len(email) <= 254 else None
    if user is not None and (not user.is_active or user.email_verified):
        user = None
    verification.check_by_address(user.id if user else None, VERIFY_PURPOSE, code)
    user.email_verified = True
    user.updated_at = now()
    session, token = sessions.start(user, origin, amr=["otp"])
    user.last_login_at = session.created_at
    history.record(user.id, origin, "email_verification", "success")
    db.session.commit()
    security.info("email.verified user_id=%s", user.id)
    return session, token
