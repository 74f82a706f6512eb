"""Phone verification and SMS codes for 2FA, when MOBILE_ENABLED (the same code machinery)."""

import logging

from flask import current_app

from ..extensions import db
from ..models import Profile
from ..models import User
from . import sms
from . import verification
from .errors import InvalidInput
from .errors import MessageNotSent
from .errors import NotFound

security = logging.getLogger("security")


def enabled() -> bool:
    return current_app.config["MOBILE_ENABLED"]


def _require_enabled() -> None:
    if not enabled():
        raise NotFound("Mobile features are not enabled on this server.")


def normalise_phone(phone: str) -> str:
    """E.164-like: a plus and 8 to 15 digits; spaces, dots, dashes and brackets are dropped."""
    digits = "".join(char for char in (phone or "") if char not in " .-()")
    if not (digits.startswith("+") and digits[1:].isdigit() and 8 <= len(digits) - 1 <= 15):
        raise InvalidInput("Enter the phone number in international form, such as +44 20 7946 0000.")
    return digits


def request_verification(user: User, phone: str) -> None:
    """Text a code to ``phone``; it becomes the account's verified phone once confirmed."""
    _require_enabled()
    phone = normalise_phone(phone)
    code = verification.issue(user.id, "mobile_verification", target=phone)
    _text(user.id, "mobile_verification", phone,
          f"Your verification code is {code}. It expires in {verification.lifetime_text('mobile_verification')}.")


def confirm(user: User, code: str) -> str:
    """Check the texted code and store the phone as verified; returns it."""
    _require_enabled()
    used = verification.check(user.id, "mobile_verification", code)
    user = db.session.merge(user)
    user.phone, user.phone_verified = used.target, True
    profile = user.profile or Profile(user_id=user.id)
    profile.phone_number = used.target
    db.session.add(profile)
    db.session.commit()
    security.info("phone.verified user_id=%s", user.id)
    return used.target


def sends_second_factor(user: User) -> bool:
    """Whether this user's 2FA codes go by SMS (mobile on, phone verified) rather than email."""
    return enabled() and user.phone_verified and bool(user.phone)


def send_second_factor(user: User) -> None:
    code = verification.issue(user.id, "mobile_2fa", target=user.phone)
    _text(user.id, "mobile_2fa", user.phone,
          f"Your sign-in code is {code}. It expires in {verification.lifetime_text('mobile_2fa')}.")


def _text(user_id, purpose: str, phone: str, text: str) -> None:
    try:
        sms.send(phone, text)
    except MessageNotSent:
        verification.unsent(user_id, purpose)
        raise
