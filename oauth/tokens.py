"""Tokens: JWT access tokens (RFC 9068), rotating refresh tokens and their revocation.

Access tokens are not stored; what revokes them is recorded and mirrored by ``oauth.revocations``.
"""

import hashlib
import logging
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime
from datetime import timedelta
from datetime import timezone
from typing import TYPE_CHECKING

from flask import current_app
from sqlalchemy import select
from sqlalchemy import update

from app.clock import now
from app.extensions import db
from app.services import accounts
from app.services import sessions
from keys import ring

from . import clients
from . import revocations
from .models import Application
from .models import AuthorizationCode
from .models import RefreshToken
from .models import UserApplication

if TYPE_CHECKING:  # a type only: oauth reads users through app.services
    from app.models import User

log = logging.getLogger("security")

# The access token's private claim naming the claims its holder asked for at userinfo.
USERINFO_CLAIMS = "userinfo_claims"


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
    acr: str | None = None
    claims: dict | None = None  # the claims request parameter (OpenID Connect Core §5.5), if any


def issue(grant: Grant, include_refresh_token: bool) -> dict:
    """Sign an access token (nothing is written for it); add a refresh token when asked. The
    caller commits.

    A user's token names everything a revocation may name (``oauth.revocations``): its session
    (``sid``), user (``userId``), client (``client_id``) and grant (``fam``: the refresh family
    of the code exchange it comes from); the ``jti`` carries the issue time to the microsecond.
    """
    config = current_app.config
    issued = now()
    issued_us = revocations.stamp()
    ttl = config["ACCESS_TOKEN_TTL"]
    iat = issued_us // 1_000_000
    claims = {
        "iss": config["ISSUER"],
        "sub": str(grant.user.id) if grant.user else grant.application.client_id,
        "aud": config["ACCESS_TOKEN_AUDIENCE"] or config["ISSUER"],
        "exp": iat + ttl,
        "iat": iat,
        "jti": revocations.jti_for(issued_us, secrets.token_urlsafe(16)),
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
        if grant.family_id is not None:
            claims["fam"] = str(grant.family_id)
    userinfo_request = (grant.claims or {}).get("userinfo")
    if userinfo_request:
        # The claims this token's holder asked for by name at userinfo (§5.5), in the token itself:
        # /oauth/userinfo reads them from here.
        claims[USERINFO_CLAIMS] = list(userinfo_request)
    # RFC 9068 §2.1: access tokens are typed "at+jwt".
    token = {"token_type": "Bearer", "access_token": ring.sign(claims, typ="at+jwt"), "expires_in": ttl,
             "scope": grant.scope}
    if include_refresh_token and grant.user is not None:
        token["refresh_token"] = _new_refresh_token(grant, issued)
    return token


def _new_refresh_token(grant: Grant, issued: datetime) -> str:
    value = secrets.token_urlsafe(32)
    db.session.add(RefreshToken(
        token_hash=digest(value), family_id=grant.family_id,
        application_id=grant.application.id, user_id=grant.user.id, session_id=grant.session_id,
        code_id=grant.code_id, scope=grant.scope, auth_time=grant.auth_time, amr=list(grant.amr),
        offline=grant.offline, acr=grant.acr, claims=grant.claims,
        expires_at=issued + timedelta(seconds=current_app.config["REFRESH_TOKEN_TTL"])))
    return value


def claim_refresh_token(value: str) -> RefreshToken | None:
    """Take a refresh token for one rotation, or None; a token presented twice kills its family.

    RFC 9700 §4.14.2: refresh token rotation with reuse detection. The conditional update lets
    exactly one of two concurrent requests with the same token win; the other, like any later
    replay, is reuse. The user's row is locked first (``accounts.lock``), so a withdrawal, a new
    password or an ended session for the user either committed before (and everything is read
    again here, after the lock) or waits for this rotation's commit and revokes what it issued.
    """
    if not value or len(value) > 128:
        return None
    token = db.session.scalar(select(RefreshToken).where(RefreshToken.token_hash == digest(value)))
    if token is None:
        return None
    user = accounts.lock(token.user_id)
    at = now()
    claimed = db.session.execute(
        update(RefreshToken)
        .where(RefreshToken.id == token.id, RefreshToken.rotated_at.is_(None), RefreshToken.revoked_at.is_(None))
        .values(rotated_at=at, updated_at=at)
        .execution_options(synchronize_session=False)).rowcount
    if not claimed:
        db.session.rollback()  # expires ``token``: revoked_at is read again, as committed now
        if token.revoked_at is None:
            log.warning("refresh_token.reused family_id=%s client_id=%s", token.family_id, token.application_id)
            revoke_family(token.family_id)
        return None
    if token.expires_at <= at or not _grant_still_valid(token, user, at):
        db.session.rollback()
        return None
    return token


def _grant_still_valid(token: RefreshToken, user: "User | None", at: datetime) -> bool:
    if user is None or not user.is_active or not consented(token.user_id, token.application_id):
        return False
    if token.offline or token.session_id is None:
        return True
    # Without offline_access, a refresh token lives only as long as its sign-in session.
    return sessions.is_open(token.session_id, at)


def consented(user_id: uuid.UUID, application_id: uuid.UUID) -> bool:
    """Whether the user's grant to the application stands (always, for one that asks no consent).

    RFC 6749 §5.2: a grant the user withdrew is invalid_grant. Read in the unit of work that
    holds the user's lock, so a withdrawal is either seen here or waits for this issuance.
    """
    row = db.session.execute(
        select(Application.skip_consent, UserApplication.id.label("grant_id"), UserApplication.revoked_at)
        .outerjoin(UserApplication, (UserApplication.application_id == Application.id)
                   & (UserApplication.user_id == user_id))
        .where(Application.id == application_id)).first()
    if row is None:
        return False
    return row.skip_consent or (row.grant_id is not None and row.revoked_at is None)


def revoke_family(family_id: uuid.UUID) -> None:
    """Revoke every refresh token of a family and the access tokens issued from it; commits."""
    owner = db.session.scalar(select(RefreshToken.user_id).where(RefreshToken.family_id == family_id).limit(1))
    _revoke_families(owner, {family_id})


def revoke_for_code(code: AuthorizationCode) -> None:
    """RFC 6749 §4.1.2: tokens issued from a code that is used again are revoked; commits."""
    # A code exchanged before codes kept their family (migration b3e81f5a7c24) names none: its
    # refresh tokens name it.
    families = set(db.session.scalars(select(RefreshToken.family_id).where(RefreshToken.code_id == code.id)))
    if code.family_id is not None:
        families.add(code.family_id)
    _revoke_families(code.user_id, families)


def _revoke_families(user_id: uuid.UUID | None, families: set[uuid.UUID]) -> None:
    if user_id is not None:
        accounts.lock(user_id)  # a rotation of these families in flight commits first, and is revoked here
    at = now()
    db.session.execute(update(RefreshToken)
                       .where(RefreshToken.family_id.in_(families), RefreshToken.revoked_at.is_(None))
                       .values(revoked_at=at, updated_at=at))
    revocations.commit([(revocations.FAMILY, str(family_id), None) for family_id in families])


def revoke_access_token(claims: dict) -> None:
    """Deny one verified access token until it expires (RFC 7009 §2.2); commits."""
    expires_at = datetime.fromtimestamp(claims["exp"], timezone.utc)
    revocations.commit([(revocations.JTI, claims["jti"], expires_at)])


def revoke_for_sessions(user_id: uuid.UUID, session_ids: list[uuid.UUID]) -> None:
    """A user's sessions ended: their outstanding codes, access tokens and non-offline refresh
    tokens stop; commits."""
    if not session_ids:
        return
    accounts.lock(user_id)  # an exchange or rotation in flight commits first, and is revoked here
    _expire_codes(AuthorizationCode.session_id.in_(session_ids))
    at = now()
    db.session.execute(update(RefreshToken)
                       .where(RefreshToken.session_id.in_(session_ids), RefreshToken.offline.is_(False),
                              RefreshToken.revoked_at.is_(None))
                       .values(revoked_at=at, updated_at=at))
    revocations.commit([(revocations.SESSION, str(session_id), None) for session_id in session_ids])


def revoke_for_user(user_id: uuid.UUID, application_id: uuid.UUID | None = None) -> None:
    """Every code and token of a user (for one application, if given) stops; commits, with
    whatever the caller changed in the same unit of work (a withdrawn grant)."""
    accounts.lock(user_id)  # an exchange or rotation in flight commits first, and is revoked here
    at = now()
    code = [AuthorizationCode.user_id == user_id]
    refresh = update(RefreshToken).where(RefreshToken.user_id == user_id, RefreshToken.revoked_at.is_(None))
    mark = (revocations.USER, str(user_id), None)
    if application_id is not None:
        code.append(AuthorizationCode.application_id == application_id)
        refresh = refresh.where(RefreshToken.application_id == application_id)
        mark = (revocations.USER_APPLICATION, f"{user_id}:{application_id}", None)
    _expire_codes(*code)
    db.session.execute(refresh.values(revoked_at=at, updated_at=at))
    revocations.commit([mark])


def revoke_for_application(application_id: uuid.UUID) -> None:
    """An application is deleted: every refresh and access token issued to it stops. Commits,
    with whatever the caller changed in the same unit of work (the deletion itself)."""
    at = now()
    db.session.execute(update(RefreshToken)
                       .where(RefreshToken.application_id == application_id, RefreshToken.revoked_at.is_(None))
                       .values(revoked_at=at, updated_at=at))
    revocations.commit([(revocations.APPLICATION, str(application_id), None)])


def _expire_codes(*conditions) -> None:
    """Outstanding codes matching ``conditions`` stop redeeming, as if their 60 s had passed
    (RFC 6749 §4.1.2, §10.5: codes are short-lived to limit a leak; one must not outlive the
    session, password or grant it was issued on).

    Expired, not consumed: a later exchange is refused as expired, not taken for reuse. Run
    first in a revocation: on PostgreSQL it waits for an exchange holding the code's row, so
    the tokens that exchange committed are then older than the revocation's mark.
    """
    at = now()
    db.session.execute(
        update(AuthorizationCode)
        .where(*conditions, AuthorizationCode.consumed_at.is_(None), AuthorizationCode.expires_at > at)
        .values(expires_at=at, updated_at=at)
        .execution_options(synchronize_session=False))


@dataclass(frozen=True)
class ValidAccessToken:
    """A verified, unrevoked access token's claims, and the live application it was issued to."""

    claims: dict
    application: Application

    @property
    def scope(self) -> str:
        return self.claims.get("scope", "")


def validate_access_token(value: str) -> ValidAccessToken | None:
    """Our JWT access token, checked as a resource server would, plus revocation and the
    application's deletion; else None."""
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
    # A deleted application's tokens stop at once, even those issued before its deletion
    # revoked them (the lookup is cached in-process, so this costs no query); so does a revoked
    # token (the denylist is mirrored in-process too).
    application = clients.find(claims.get("client_id"))
    if application is None or revocations.denied(claims, application):
        return None
    return ValidAccessToken(claims, application)
