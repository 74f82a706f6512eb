"""OpenID Connect standard claims (Core §5.1) of a user, released by scope (Core §5.4) and by the
``claims`` request parameter (Core §5.5)."""

import json
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # a type only: oauth reads users through app.services
    from app.models import User

SCOPE_CLAIMS = {
    "profile": ("name", "given_name", "family_name", "preferred_username", "picture", "birthdate", "updated_at"),
    "email": ("email", "email_verified"),
    "phone": ("phone_number", "phone_number_verified"),
    "address": ("address",),
}
# The user's claims a client may ask for by name; each belongs to the scope that releases it.
CLAIM_SCOPES = {name: scope for scope, names in SCOPE_CLAIMS.items() for name in names}
# Where the claims request may ask for claims (§5.5); other top-level members are ignored.
TARGETS = ("userinfo", "id_token")
MAX_REQUEST_LENGTH = 4096


class InvalidClaimsRequest(ValueError):
    """The ``claims`` parameter is not a claims request (§5.5): invalid_request."""


def parse_request(raw: str | None) -> dict | None:
    """The ``claims`` parameter as ``{"userinfo": {...}, "id_token": {...}}`` (members present only
    when asked), or None without one. InvalidClaimsRequest for anything that is not §5.5's shape:
    a JSON object whose ``userinfo`` and ``id_token`` members are objects mapping claim names to
    null or to an object with ``essential`` (boolean), ``value`` or ``values`` (an array)."""
    if raw is None or raw == "":
        return None
    if len(raw) > MAX_REQUEST_LENGTH:
        raise InvalidClaimsRequest("The claims parameter is too long.")
    try:
        document = json.loads(raw)
    except ValueError:
        raise InvalidClaimsRequest("The claims parameter is not valid JSON.") from None
    if not isinstance(document, dict):
        raise InvalidClaimsRequest("The claims parameter must be a JSON object.")
    parsed = {}
    for target in TARGETS:
        members = document.get(target)
        if members is None:
            continue
        if not isinstance(members, dict):
            raise InvalidClaimsRequest(f"claims.{target} must be a JSON object.")
        for name, wanted in members.items():
            _check_member(target, name, wanted)
        parsed[target] = members
    return parsed


def _check_member(target: str, name: str, wanted) -> None:
    if wanted is None:
        return
    if not isinstance(wanted, dict):
        raise InvalidClaimsRequest(f"Each member of claims.{target} must be null or a JSON object.")
    # The claim's name is the client's: it is not echoed in the error (RFC 6749 §4.1.2.1 limits
    # the characters of error_description).
    if "essential" in wanted and not isinstance(wanted["essential"], bool):
        raise InvalidClaimsRequest(f"In claims.{target}, essential must be true or false.")
    if "values" in wanted and not isinstance(wanted["values"], list):
        raise InvalidClaimsRequest(f"In claims.{target}, values must be an array.")


def names(claims_request: dict | None, target: str) -> list[str]:
    """The claim names a (parsed) claims request asks for in ``target``."""
    return list(((claims_request or {}).get(target) or {}).keys())


def beyond_scope(claims_request: dict | None, scope: str) -> list[str]:
    """The user's claims asked for by name that the scope does not release: they need the user's
    consent for this request (``oauth.consent``)."""
    granted = set(scope.split())
    asked = dict.fromkeys(names(claims_request, "id_token") + names(claims_request, "userinfo"))
    return [name for name in asked if name in CLAIM_SCOPES and CLAIM_SCOPES[name] not in granted]


def requested_sub(claims_request: dict | None) -> list[str]:
    """The ``sub`` values the request insists on (§5.5.1: a response for another user is refused)."""
    found = []
    for target in TARGETS:
        wanted = ((claims_request or {}).get(target) or {}).get("sub")
        if isinstance(wanted, dict):
            if "value" in wanted:
                found.append(wanted["value"])
            found.extend(wanted.get("values") or [])
    return found


def for_user(user: "User", scope: str, asked: list[str] | tuple[str, ...] = ()) -> dict:
    """``sub``, the claims the granted scopes release, and the claims ``asked`` by name (a claims
    request the user consented to); absent values are left out (§5.5.1: an unavailable claim,
    essential or not, is simply not returned)."""
    profile = user.profile
    phone = (profile.phone_number if profile else None) or user.phone
    address = profile.address if profile else None
    every = {
        "name": user.fullname or None,
        "given_name": profile.given_name if profile else None,
        "family_name": profile.family_name if profile else None,
        "preferred_username": user.username,
        "picture": user.avatar,
        "birthdate": profile.birthdate.isoformat() if profile and profile.birthdate else None,
        "updated_at": int(user.updated_at.timestamp()),
        "email": user.email,
        "email_verified": user.email_verified,
        "phone_number": phone,
        # Verified only when the released number is the one the user proved by SMS.
        "phone_number_verified": (user.phone_verified and phone == user.phone) if phone else None,
        # Core §5.1.1: the address claim is a JSON object (the profile keeps it in that shape).
        "address": address if isinstance(address, dict) and address else None,
    }
    released = {"sub": str(user.id)}
    wanted = [name for token in scope.split() for name in SCOPE_CLAIMS.get(token, ())]
    for name in (*wanted, *asked):
        if every.get(name) is not None:
            released[name] = every[name]
    return released
