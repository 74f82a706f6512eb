"""Changing the signed-in user's email address: a code to the new address, a notice to the old one.

The account keeps its address until the code comes back, so a typo or an address the user does not
control never takes the account away.
"""

import logging
from uuid import UUID

from flask import current_app
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from ..clock import now
from ..extensions import db
from ..models import User
from ..models import VerificationCode
from . import accounts
from . import mailer
from . import passwords
from . import verification
from .account_errors import EmailChangeRefused
from .account_errors import InvalidFields
from .errors import InvalidInput

security = logging.getLogger("security")

EMAIL_LIMIT = 254


def request_change(user_id: UUID, new_email: str, password: str) -> str:
    """Mail a code to ``new_email`` and a notice to the current address; returns the new address.

    The account keeps its address until the code comes back (``confirm_change``). An address that
    belongs to another account gets the same answer but no code, so this tells nobody which
    addresses are registered; ResendTooSoon inside the resend window either way. Both mails go out
    after the request (``mailer``), so a taken address (one mail) costs what a free one (two) costs.
    """
    user = accounts.require_active(user_id)
    address = _new_address(new_email, user)
    passwords.confirm(user, password)
    if accounts.find_by_email(address) is None:
        mailer.send_code(user.id, address, "email_change", "change_email", "Confirm your new email address",
                         target=address)
    else:
        # A code that no one receives: the resend window and the previous code behave the same.
        verification.issue(user.id, "email_change", target=address)
        security.info("email_change.address_taken user_id=%s", user.id)
    security.info("email_change.requested user_id=%s", user.id)
    mailer.send(user.email, "A new email address was requested for your account", "email_changed",
                user_id=user.id, new_email=address)
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


def pending(user_id: UUID) -> str | None:
    """The new address waiting for its code, if a live code was issued for one."""
    code = db.session.scalar(select(VerificationCode).where(
        VerificationCode.user_id == user_id, VerificationCode.purpose == "email_change")
        .order_by(VerificationCode.created_at.desc()).limit(1))
    if code is None or code.consumed_at is not None or code.expires_at <= now():
        return None
    if code.attempts >= current_app.config["CODE_MAX_ATTEMPTS"]:
        return None
    return code.target


def confirm_change(user_id: UUID, code: str) -> User:
    """The code mailed to the new address: the account takes that address (now verified)."""
    user = accounts.require_active(user_id)
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
