"""Tokens: JWT access tokens (RFC 9068), rotating refresh tokens, revocation and the denylist."""

import hashlib
import logging
import secrets
import threading
import uuid
from dataclasses import dataclass
from dataclasses import replace
from datetime import datetime
from datetime import timedelta
from datetime import timezone
from typing import TYPE_CHECKING

import redis
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

from . import clients
from .models import AccessToken
from .models import Application
from .models import AuthorizationCode
from .models import RefreshToken
from .models import UserApplication

if TYPE_CHECKING:  # a type only: oauth reads users through app.services
    from app.models import User

log = logging.getLogger("security")

RECORD_ACCESS_TOKEN = insert(AccessToken.__table__)
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
    userinfo_request = (grant.claims or {}).get("userinfo")
    if userinfo_request:
        # The claims this token's holder asked for by name at userinfo (§5.5), in the token itself:
        # /oauth/userinfo reads them from here, without a query for every token.
        claims[USERINFO_CLAIMS] = list(userinfo_request)
    # RFC 9068 §2.1: access tokens are typed "at+jwt".
    token = {"token_type": "Bearer", "access_token": ring.sign(claims, typ="at+jwt"), "expires_in": ttl,
             "scope": grant.scope}
    # A plain Core insert with bound parameters: the record is written, never read back in this
    # request, so the ORM's unit of work and per-call statement building are skipped.
    db.session.execute(RECORD_ACCESS_TOKEN, {
        "id": uuid.uuid4(), "jti": jti, "application_id": grant.application.id,
        "user_id": grant.user.id if grant.user else None, "session_id": grant.session_id,
        "code_id": grant.code_id, "refresh_family_id": grant.family_id, "scope": grant.scope,
        "claims": {"userinfo": userinfo_request} if userinfo_request else None,
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
    if owner is not None:
        accounts.lock(owner)  # a rotation of this family in flight commits first, and is revoked here
    at = now()
    db.session.execute(update(RefreshToken)
                       .where(RefreshToken.family_id == family_id, RefreshToken.revoked_at.is_(None))
                       .values(revoked_at=at, updated_at=at))
    _commit(_deny(select(AccessToken).where(AccessToken.refresh_family_id == family_id)))


def revoke_for_code(code_id: uuid.UUID) -> None:
    """RFC 6749 §4.1.2: tokens issued from a code that is used again are revoked; commits."""
    families = db.session.scalars(select(RefreshToken.family_id).where(RefreshToken.code_id == code_id)).all()
    for family_id in set(families):
        revoke_family(family_id)
    _commit(_deny(select(AccessToken).where(AccessToken.code_id == code_id)))


def revoke_access_token(record: AccessToken) -> None:
    """Deny one access token until it expires; commits."""
    _commit(_deny(select(AccessToken).where(AccessToken.id == record.id)))


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
    _commit(_deny(select(AccessToken).where(AccessToken.session_id.in_(session_ids))))


def revoke_for_user(user_id: uuid.UUID, application_id: uuid.UUID | None = None) -> None:
    """Every code and token of a user (for one application, if given) stops; commits, with
    whatever the caller changed in the same unit of work (a withdrawn grant)."""
    accounts.lock(user_id)  # an exchange or rotation in flight commits first, and is revoked here
    at = now()
    code = [AuthorizationCode.user_id == user_id]
    refresh = update(RefreshToken).where(RefreshToken.user_id == user_id, RefreshToken.revoked_at.is_(None))
    access = select(AccessToken).where(AccessToken.user_id == user_id)
    if application_id is not None:
        code.append(AuthorizationCode.application_id == application_id)
        refresh = refresh.where(RefreshToken.application_id == application_id)
        access = access.where(AccessToken.application_id == application_id)
    _expire_codes(*code)
    db.session.execute(refresh.values(revoked_at=at, updated_at=at))
    _commit(_deny(access))


def revoke_for_application(application_id: uuid.UUID) -> None:
    """An application is deleted: every refresh and access token issued to it stops. Commits,
    with whatever the caller changed in the same unit of work (the deletion itself)."""
    at = now()
    db.session.execute(update(RefreshToken)
                       .where(RefreshToken.application_id == application_id, RefreshToken.revoked_at.is_(None))
                       .values(revoked_at=at, updated_at=at))
    _commit(_deny(select(AccessToken).where(AccessToken.application_id == application_id)))


def _expire_codes(*conditions) -> None:
    """Outstanding codes matching ``conditions`` stop redeeming, as if their 60 s had passed
    (RFC 6749 §4.1.2, §10.5: codes are short-lived to limit a leak; one must not outlive the
    session, password or grant it was issued on).

    Expired, not consumed: a later exchange is refused as expired, not taken for reuse. Run
    first in a revocation: on PostgreSQL it waits for an exchange holding the code's row, so
    the tokens that exchange committed are then seen and revoked with the others.
    """
    at = now()
    db.session.execute(
        update(AuthorizationCode)
        .where(*conditions, AuthorizationCode.consumed_at.is_(None), AuthorizationCode.expires_at > at)
        .values(expires_at=at, updated_at=at)
        .execution_options(synchronize_session=False))


def _deny(query) -> dict[str, int]:
    """Mark the live access tokens of ``query`` revoked; returns their jti -> expiry (epoch s)."""
    at = now()
    records = db.session.scalars(query.where(AccessToken.revoked_at.is_(None), AccessToken.expires_at > at)).all()
    for record in records:
        record.revoked_at = record.updated_at = at
    if records:
        log.info("access_tokens.revoked count=%d", len(records))
    return {record.jti: _epoch(record.expires_at) for record in records}


def _commit(denied: dict[str, int]) -> None:
    """Commit the revocation, then tell the Redis denylist: the database is written first, so
    the cache never holds a revocation that was rolled back."""
    db.session.commit()
    if denied and get_redis() is not None:
        denylist.publish(denied)


def _epoch(at: datetime) -> int:
    return int(at.timestamp()) + 1  # rounded up: a member never leaves before its token expires


def is_denied(jti: str) -> bool:
    """Whether an access token was revoked: the Redis denylist when configured and complete,
    else the database (see ``Denylist``)."""
    if get_redis() is None:
        return _revoked_in_database(jti)
    return denylist.contains(jti)


def _revoked_in_database(jti: str) -> bool:
    revoked = db.session.scalar(select(AccessToken.revoked_at).where(AccessToken.jti == jti))
    return revoked is not None


class Denylist:
    """The revoked, unexpired access tokens, cached in Redis; the database stays the truth.

    One sorted set holds every revoked jti, scored by its token's expiry, and a marker member
    whose score says how far the set is complete: ``-T`` means every revocation committed
    before T is in it (negative, so trimming expired members never touches it). A restart, a
    flush, a failover or an eviction loses the marker together with the members, so the set is
    never taken for complete when it came back empty. A check is one round trip (ZMSCORE of
    the jti and the marker):

    - jti present: revoked;
    - marker present: not revoked. When the marker is older than DENYLIST_SYNC_INTERVAL, one
      process (a lock) first adds the revocations committed since, from the database, trims
      expired members and moves the marker on;
    - marker missing: one process (a lock) refills the set from the database; every check
      meanwhile, and every check Redis fails, is answered by the database.

    Moving the marker is a compare-and-set (a script), so a refill or sync that raced a flush
    leaves the set unmarked instead of marking an incomplete set.

    A revocation is pushed right after its commit. If Redis is unreachable then, the jti is
    kept in this process and sent in the same pipeline as its next check, so this process
    never trusts Redis again before Redis has it; other processes and instances learn it from
    the database at their next sync, which reads from the marker's time (minus an overlap for
    slow commits), so no outage is too long to be caught up.
    """

    KEY = "idp:denylist"
    MARKER = "~complete"   # jtis are URL-safe base64, so they never start with "~"
    LOADING = "~loading"   # present while a refill reads the database
    REFILL_LOCK = "idp:denylist:refill"
    SYNC_LOCK = "idp:denylist:sync"
    # A sync re-reads revocations this much older than the marker: a transaction committing
    # later than this after it stamped revoked_at reaches Redis only through its own push.
    OVERLAP = 60
    CHUNK = 1000
    # Moves the marker only if ARGV[1] still has the score ARGV[2], i.e. nothing flushed the
    # set or replaced the marker since the database was read.
    MOVE_MARKER = """
        local seen = redis.call('ZSCORE', KEYS[1], ARGV[1])
        if seen and tonumber(seen) == tonumber(ARGV[2]) then
            redis.call('ZREM', KEYS[1], ARGV[1])
            redis.call('ZADD', KEYS[1], ARGV[3], ARGV[4])
            return 1
        end
        return 0
    """

    def _unpushed(self) -> "_Unpushed":
        return current_app.extensions.setdefault("oauth_denylist_unpushed", _Unpushed())

    def publish(self, denied: dict[str, int]) -> None:
        """Push committed revocations (with any this process could not push before)."""
        unpushed = self._unpushed()
        unpushed.add(denied)
        batch = unpushed.snapshot()
        try:
            get_redis().zadd(self.KEY, batch)
        except redis.RedisError as error:
            log.warning("denylist.push_failed count=%d error=%s (kept for the next check)", len(batch), error)
            return
        unpushed.pushed(batch)

    def contains(self, jti: str) -> bool:
        client = get_redis()
        unpushed = self._unpushed()
        batch = unpushed.snapshot()
        try:
            with client.pipeline(transaction=False) as pipe:
                if batch:
                    pipe.zadd(self.KEY, batch)
                pipe.zmscore(self.KEY, [jti, self.MARKER])
                denied_until, marker = pipe.execute()[-1]
        except redis.RedisError as error:
            log.warning("denylist.unavailable error=%s (answered by the database)", error)
            return _revoked_in_database(jti)
        unpushed.pushed(batch)
        if denied_until is not None:
            return True
        if marker is None:
            self._refill(client)
            return _revoked_in_database(jti)
        complete_until = -int(marker)
        if now().timestamp() - complete_until >= current_app.config["DENYLIST_SYNC_INTERVAL"]:
            return jti in self._sync(client, complete_until)
        return False

    def _refill(self, client) -> None:
        try:
            if not client.set(self.REFILL_LOCK, "1", nx=True, ex=60):
                return  # another process is refilling
            try:
                client.zadd(self.KEY, {self.LOADING: -1})
                started = int(now().timestamp())
                self._store(client, self._revoked_since(None), self.LOADING, -1, started)
                log.info("denylist.refilled")
            finally:
                client.delete(self.REFILL_LOCK)
        except redis.RedisError as error:
            log.warning("denylist.refill_failed error=%s", error)

    def _sync(self, client, complete_until: int) -> set[str]:
        """Catch the set up with the database; the jtis added, or none without the lock."""
        interval = current_app.config["DENYLIST_SYNC_INTERVAL"]
        try:
            if not client.set(self.SYNC_LOCK, "1", nx=True, px=max(1, interval * 1000)):
                return set()
            started = int(now().timestamp())
            since = datetime.fromtimestamp(complete_until - self.OVERLAP, timezone.utc)
            found = self._revoked_since(since)
            self._store(client, found, self.MARKER, -complete_until, started)
            return set(found)
        except redis.RedisError as error:
            log.warning("denylist.sync_failed error=%s", error)
            return set()

    def _store(self, client, members: dict[str, int], expected: str, expected_score: int, started: int) -> None:
        items = list(members.items())
        with client.pipeline(transaction=False) as pipe:
            for start in range(0, len(items), self.CHUNK):
                pipe.zadd(self.KEY, dict(items[start:start + self.CHUNK]))
            pipe.zremrangebyscore(self.KEY, 0, int(now().timestamp()))
            pipe.eval(self.MOVE_MARKER, 1, self.KEY, expected, expected_score, -started, self.MARKER)
            pipe.execute()

    @staticmethod
    def _revoked_since(since: datetime | None) -> dict[str, int]:
        """Revoked, unexpired jtis (revoked since ``since``), read on a connection of their own."""
        query = select(AccessToken.jti, AccessToken.expires_at).where(
            AccessToken.revoked_at.is_not(None), AccessToken.expires_at > now())
        if since is not None:
            query = query.where(AccessToken.revoked_at >= since)
        with db.engine.connect() as connection:
            return {row.jti: _epoch(row.expires_at) for row in connection.execute(query)}


class _Unpushed:
    """Revocations this process committed but could not push to Redis yet (jti -> expiry)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.entries: dict[str, int] = {}

    def add(self, denied: dict[str, int]) -> None:
        with self.lock:
            self.entries.update(denied)

    def snapshot(self) -> dict[str, int]:
        if not self.entries:
            return {}
        at = now().timestamp()
        with self.lock:
            self.entries = {jti: until for jti, until in self.entries.items() if until > at}
            return dict(self.entries)

    def pushed(self, batch: dict[str, int]) -> None:
        if batch:
            with self.lock:
                for jti in batch:
                    self.entries.pop(jti, None)


denylist = Denylist()


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
    # revoked them (the lookup is cached in-process, so this costs no query).
    application = clients.find(claims.get("client_id"))
    if application is None or is_denied(claims["jti"]):
        return None
    return ValidAccessToken(claims, application)
