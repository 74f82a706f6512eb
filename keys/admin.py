"""The admin API's signing keys, under /api/v1/admin/keys: the ring with its states, rotation now,
and revocation of a compromised key. ``keys:read`` / ``keys:write``. Public facts only: no private
material leaves the ring. A change reaches every process through the ring's notices, as the
CLI's do (``keys/rotation.py``)."""

from datetime import datetime

from flask import Blueprint
from flask import abort
from flask import current_app
from pydantic import Field

from app.api.spec import ADMIN_SECURITY
from app.api.spec import Schema
from app.api.spec import responses
from app.api.spec import validate
from app.extensions import csrf
from app.web.permissions import current_principal
from app.web.permissions import requires_permission

from . import rotation

bp = Blueprint("keys_admin", __name__, url_prefix="/api/v1/admin")
csrf.exempt(bp)  # the guard checks the CSRF token for browser sessions; bearer tokens need none

TAGS = ["admin: keys"]


class KeyOut(Schema):
    kid: str
    alg: str = Field(examples=["RS256"])
    state: str = Field(description="next (published, not signing yet), current (signing), retired "
                                   "(verifying only), removed (out of the JWKS).", examples=["current"])
    created_at: datetime
    published_at: datetime | None
    activated_at: datetime | None
    retired_at: datetime | None
    remove_after: datetime | None = Field(description="When a retired key leaves the JWKS.")

    @classmethod
    def of(cls, key) -> "KeyOut":
        return cls(kid=key.kid, alg=key.alg, state=key.state, created_at=key.created_at,
                   published_at=key.published_at, activated_at=key.activated_at, retired_at=key.retired_at,
                   remove_after=key.remove_after)


class KeyList(Schema):
    items: list[KeyOut]


def _secret() -> str:
    return current_app.config["KEY_ENCRYPTION_SECRET"]


@bp.get("/keys")
@requires_permission("keys:read")
@validate(resp=responses({200: KeyList}, errors=(401, 403)), tags=TAGS, security=ADMIN_SECURITY)
def list_keys():
    """Every key, newest first, with its state and times."""
    return KeyList(items=[KeyOut.of(key) for key in rotation.listed()])


@bp.post("/keys/rotate")
@requires_permission("keys:write")
@validate(resp=responses({200: KeyOut}, errors=(401, 403, 409)), tags=TAGS, security=ADMIN_SECURITY)
def rotate_keys():
    """Replace the signing key now: the pre-published next key signs (else a new one); the old key
    stays published, verifying what it signed, until those tokens expire. Answers the new key."""
    try:
        return KeyOut.of(rotation.rotate_now(_secret(), actor=current_principal().actor))
    except RuntimeError as busy:
        abort(409, str(busy))


@bp.post("/keys/<string(maxlength=64):kid>/revoke")
@requires_permission("keys:write")
@validate(resp=responses({200: KeyOut}, errors=(401, 403, 404, 409)), tags=TAGS, security=ADMIN_SECURITY)
def revoke_key(kid: str):
    """A compromised key: out of the JWKS at once and tokens it signed fail verification; if it
    was signing, another key signs from now on. Answers the revoked key."""
    try:
        return KeyOut.of(rotation.revoke(_secret(), kid, actor=current_principal().actor))
    except rotation.UnknownKey:
        abort(404, "No key with this kid is in the ring.")
    except RuntimeError as busy:
        abort(409, str(busy))
