"""Tokens: JWT access tokens (RFC 9068), rotating refresh tokens, revocation and the denylist."""

import hashlib
import logging
import secrets
import uuid
from dataclasses import dataclass
from dataclasses import replace
from datetime import datetime
from datetime import timedelta
from typing import TYPE_CHECKING

from flask import current_app
from sqlalchemy import insert
from sqlalchemy import select
from sqlalchemy import update

from app.clock import now
from app.extensions import db
from app.extensions import get_redis
from app.services import accounts
from app.services import sessions
from keys import ring

from .models import AccessToken
from .models import Application
from .models import RefreshToken

if TYPE_CHECKING:  # a type only: oauth reads users through app.services
    from app.models import User

log = logging.getLogger("security")

DENYLIST_PREFIX = "idp:denied-jti:"
RECORD_ACCESS_TOKEN = insert(AccessToken.__table__)


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class Grant:
    """What a token is issued for: the client, the user (None for client_credentials), the scope,
    and where it came from (session, sign-in time and methods, code, refresh family)."""

    application: Application
    user: "User | None"
    scope: str
    session_id: uuid.UUID | None = None
    auth_time: datetime | None = None
    amr: tuple[str, ...] = ()
    code_id: uuid.UUID | None = None
    family_id: uuid.UUID | None = None
    offline: bool = False


def issue(grant: Grant, include_refresh_token: bool) -> dict:
    """Sign an access token and record it; add a refresh token when asked. The caller commits."""
    config = current_app.config
    issued = now()
    ttl = config["ACCESS_TOKEN_TTL"]
    jti = secrets.token_urlsafe(18)
    with_refresh = include_refresh_token and grant.user is not None
    if with_refresh and grant.family_id is None:
        # One family for the refresh token and the access tokens issued beside it, so revoking
        # the family (RFC 7009 §2.1) reaches both.
        grant = replace(grant, family_id=uuid.uuid4())
    claims = {
        "iss": config["ISSUER"],
        "sub": str(grant.user.id) if grant.user else grant.application.client_id,
        "aud": config["ACCESS_TOKEN_AUDIENCE"] or config["ISSUER"],
        "exp": int(issued.timestamp()) + ttl,
        "iat": int(issued.timestamp()),
        "jti": jti,
        "client_id": grant.application.client_id,
        "scope": grant.scope,
        "keyId": ring.current_kid(),
    }
    if grant.user is not None:
        claims.update({
            "auth_time": int(grant.auth_time.timestamp()),
            "roles": grant.user.role_names,
            "userId": str(grant.user.id),
            "loginDate": grant.auth_time.isoformat().replace("+00:00", "Z"),
        })
        if grant.session_id is not None:
            claims.update({"sid": str(grant.session_id), "sessionId": str(grant.session_id)})
    # RFC 9068 §2.1: access tokens are typed "at+jwt".
    token = {"token_type": "Bearer", "access_token": ring.sign(claims, typ="at+jwt"), "expires_in": ttl,
             "scope": grant.scope}
    # A plain Core insert with bound parameters: the record is written, never read back in this
    # request, so the ORM's unit of work and per-call statement building are skipped.
    db.session.execute(RECORD_ACCESS_TOKEN, {
        "id": uuid.uuid4(), "jti": jti, "application_id": grant.application.id,
        "user_id": grant.user.id if grant.user else None, "session_id": grant.session_id,
        "code_id": grant.code_id, "refresh_family_id": grant.family_id, "scope": grant.scope,
        "expires_at": issued + timedelta(seconds=ttl), "revoked_at": None, "created_at": issued,
        "updated_at": issued})
    if with_refresh:
        token["refresh_token"] = _new_refresh_token(grant, issued)
    return token


def _new_refresh_token(grant: Grant, issued: datetime) -> str:
    value = secrets.token_urlsafe(32)
    db.session.add(RefreshToken(
        token_hash=digest(value), family_id=grant.family_id,
        application_id=grant.application.id, user_id=grant.user.id, session_id=grant.session_id,
        code_id=grant.code_id, scope=grant.scope, auth_time=grant.auth_time, amr=list(grant.amr),
        offline=grant.offline,
        expires_at=issued + timedelta(seconds=current_app.config["REFRESH_TOKEN_TTL"])))
    return value


def claim_refresh_token(value: str) -> RefreshToken | None:
    """Take a refresh token for one rotation, or None; a token presented twice kills its family.

    RFC 9700 §4.14.2: refresh token rotation with reuse detection. The conditional update lets
    exactly one of two concurrent requests with the same token win; the other, like any later
    replay, is reuse.
    """
    if not value or len(value) > 128:
        return None
    token = db.session.scalar(select(RefreshToken).where(RefreshToken.token_hash == digest(value)))
    if token is None:
        return None
    at = now()
    if token.revoked_at is not None:
        return None
    claimed = db.session.execute(
        update(RefreshToken)
        .where(RefreshToken.id == token.id, RefreshToken.rotated_at.is_(None), RefreshToken.revoked_at.is_(None))
        .values(rotated_at=at, updated_at=at)
        .execution_options(synchronize_session=False)).rowcount
    if not claimed:
        db.session.rollback()
        log.warning("refresh_token.reused family_id=%s client_id=%s", token.family_id, token.application_id)
        revoke_family(token.family_id)
        return None
    if token.expires_at <= at or not _grant_still_valid(token, at):
        db.session.rollback()
        return None
    return token


def _grant_still_valid(token: RefreshToken, at: datetime) -> bool:
    if accounts.active_user(token.user_id) is None:
        return False
    if token.offline or token.session_id is None:
        return True
    # Without offline_access, a refresh token lives only as long as its sign-in session.
    return sessions.is_open(token.session_id, at)


def revoke_family(family_id: uuid.UUID) -> None:
    """Revoke every refresh token of a family and the access tokens issued from it; commits."""
    at = now()
    db.session.execute(update(RefreshToken)
                       .where(RefreshToken.family_id == family_id, RefreshToken.revoked_at.is_(None))
                       .values(revoked_at=at, updated_at=at))
    _deny(select(AccessToken).where(AccessToken.refresh_family_id == family_id))
    db.session.commit()


def revoke_for_code(code_id: uuid.UUID) -> None:
    """RFC 6749 §4.1.2: tokens issued from a code that is used again are revoked; commits."""
    families = db.session.scalars(select(RefreshToken.family_id).where(RefreshToken.code_id == code_id)).all()
    for family_id in set(families):
        revoke_family(family_id)
    _deny(select(AccessToken).where(AccessToken.code_id == code_id))
    db.session.commit()


def revoke_access_token(record: AccessToken) -> None:
    """Deny one access token until it expires; commits."""
    _deny(select(AccessToken).where(AccessToken.id == record.id))
    db.session.commit()


def revoke_for_sessions(session_ids: list[uuid.UUID]) -> None:
    """Sessions ended: their access tokens and their non-offline refresh tokens stop; commits."""
    if not session_ids:
        return
    at = now()
    db.session.execute(update(RefreshToken)
                       .where(RefreshToken.session_id.in_(session_ids), RefreshToken.offline.is_(False),
                              RefreshToken.revoked_at.is_(None))
                       .values(revoked_at=at, updated_at=at))
    _deny(select(AccessToken).where(AccessToken.session_id.in_(session_ids)))
    db.session.commit()


def revoke_for_user(user_id: uuid.UUID, application_id: uuid.UUID | None = None) -> None:
    """Every token of a user (for one application, if given) stops; commits."""
    at = now()
    refresh = update(RefreshToken).where(RefreshToken.user_id == user_id, RefreshToken.revoked_at.is_(None))
    access = select(AccessToken).where(AccessToken.user_id == user_id)
    if application_id is not None:
        refresh = refresh.where(RefreshToken.application_id == application_id)
        access = access.where(AccessToken.application_id == application_id)
    db.session.execute(refresh.values(revoked_at=at, updated_at=at))
    _deny(access)
    db.session.commit()


def _deny(query) -> None:
    """Mark the live access tokens of ``query`` revoked, and put their jti on the denylist."""
    at = now()
    records = db.session.scalars(query.where(AccessToken.revoked_at.is_(None), AccessToken.expires_at > at)).all()
    if not records:
        return
    for record in records:
        record.revoked_at = record.updated_at = at
    client = get_redis()
    if client is not None:
        with client.pipeline(transaction=False) as pipe:
            for record in records:
                ttl = max(1, int((record.expires_at - at).total_seconds()) + 1)
                pipe.set(DENYLIST_PREFIX + record.jti, "1", ex=ttl)
            pipe.execute()
    log.info("access_tokens.revoked count=%d", len(records))


def is_denied(jti: str) -> bool:
    """Whether an access token was revoked (Redis when configured, else the database)."""
    client = get_redis()
    if client is not None:
        return bool(client.exists(DENYLIST_PREFIX + jti))
    revoked = db.session.scalar(select(AccessToken.revoked_at).where(AccessToken.jti == jti))
    return revoked is not None


@dataclass(frozen=True)
class ValidAccessToken:
    """A verified, unrevoked access token's claims."""

    claims: dict

    @property
    def scope(self) -> str:
        return self.claims.get("scope", "")


def validate_access_token(value: str) -> ValidAccessToken | None:
    """Our JWT access token, checked as a resource server would, plus revocation; else None."""
    config = current_app.config
    if not value or value.count(".") != 2 or len(value) > 8192:
        return None
    try:
        claims = ring.verify(value, typ="at+jwt")
    except ring.InvalidSignature:
        return None
    if claims.get("iss") != config["ISSUER"] or not isinstance(claims.get("jti"), str):
        return None
    if not isinstance(claims.get("exp"), int) or claims["exp"] <= now().timestamp():
        return None
    if is_denied(claims["jti"]):
        return None
    return ValidAccessToken(claims)
