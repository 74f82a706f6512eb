"""OpenID Connect standard claims (Core §5.1) of a user, released by scope (Core §5.4)."""

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # a type only: oauth reads users through app.services
    from app.models import User

SCOPE_CLAIMS = {
    "profile": ("name", "given_name", "family_name", "preferred_username", "picture", "birthdate", "updated_at"),
    "email": ("email", "email_verified"),
    "phone": ("phone_number", "phone_number_verified"),
    "address": ("address",),
}


def for_user(user: "User", scope: str) -> dict:
    """``sub`` and the claims the granted scopes release; absent values are left out."""
    profile = user.profile
    phone = (profile.phone_number if profile else None) or user.phone
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
        "address": profile.address if profile else None,
    }
    released = {"sub": str(user.id)}
    for token in scope.split():
        for name in SCOPE_CLAIMS.get(token, ()):
            if every[name] is not None:
                released[name] = every[name]
    return released
