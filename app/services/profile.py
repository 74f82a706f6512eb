"""The signed-in user's profile: the fields that become the OIDC standard claims, and their rules.

The account's other parts have their own services: passwords (change), email_change, second_factor
(2FA on and off), sessions (listing, ending), history (sign-ins), accounts (deletion).
"""

import logging
import re
from datetime import date
from urllib.parse import urlsplit
from uuid import UUID

from ..clock import now
from ..extensions import db
from ..models import Profile
from ..models import User
from . import accounts
from .account_errors import InvalidFields

security = logging.getLogger("security")

# Field -> longest value, as the columns allow.
TEXT_LIMITS = {"fullname": 200, "given_name": 100, "family_name": 100}
PHONE_LIMIT = 32
AVATAR_LIMIT = 500
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


def update_profile(user_id: UUID, changes: dict) -> User:
    """Change the given profile fields (a missing key keeps its value); InvalidFields changes nothing.

    Fields: fullname, given_name, family_name, phone, avatar (https URL; empty: the default
    picture), address (an object with the OIDC address members), birthdate (YYYY-MM-DD).
    """
    user = accounts.require_active(user_id)
    clean = clean_fields(changes)
    apply_changes(user, clean)
    db.session.commit()
    security.info("profile.updated user_id=%s fields=%s", user.id, ",".join(sorted(clean)))
    return user


def clean_fields(changes: dict) -> dict:
    """The clean value of each profile field in ``changes``; InvalidFields names every bad or unknown one."""
    unknown = {name: ["Unknown field."] for name in changes if name not in PROFILE_FIELDS}
    return _validated(changes.items(), unknown)


def apply_changes(user: User, clean: dict) -> None:
    """Set fields cleaned by ``clean_fields`` on the account and its profile (the caller commits)."""
    profile = user.profile
    if profile is None and set(clean) & PROFILE_COLUMNS:
        profile = Profile(user=user)
        db.session.add(profile)
    for name, value in clean.items():
        if name == "fullname":
            user.fullname = value
        elif name == "phone":
            if value != user.phone:
                user.phone_verified = False  # only a texted code verifies a number (mobile.confirm)
            user.phone = profile.phone_number = value
        elif name == "avatar":
            user.avatar = value or accounts.gravatar_url(user.email)
        else:
            setattr(profile, name, value)
    # The OIDC updated_at claim is the account's: profile-only changes move it too.
    user.updated_at = now()


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


def clean_contact(phone, address) -> tuple[str | None, dict | None]:
    """The phone and address a registration gives, by the profile's rules; InvalidFields otherwise."""
    clean = _validated((("phone", phone), ("address", address)))
    return clean["phone"], clean["address"]


def _validated(fields, errors: dict[str, list[str]] | None = None) -> dict:
    """Each known field's clean value; InvalidFields with every field's reasons (and ``errors``)."""
    errors = dict(errors or {})
    clean = {}
    for name, value in fields:
        if name in errors:
            continue
        try:
            clean[name] = _VALIDATORS[name](name, value)
        except InvalidFields as invalid:
            errors.update(invalid.errors)
    if errors:
        raise InvalidFields(errors)
    return clean
