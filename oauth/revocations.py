"""The access-token denylist: revocations recorded in the database, mirrored in every process.

Issuing a JWT access token writes nothing. Revoking writes rows of ``token_revocations`` (the
source of truth), in the unit of work of the change that causes them:

- ``jti``: one token (RFC 7009), until its ``exp``;
- a "not before" mark on a ``session``, a ``family`` (the grant of one code exchange and the
  refresh tokens rotated from it), an ``application``, a ``user`` or a ``user_application``
  ("user_id:application_id"): every token of that subject issued at or before the mark is denied,
  for ACCESS_TOKEN_TTL (no token it could deny lives longer).

Each application object keeps a mirror of the unexpired rows (jti -> expiry, (kind, subject) ->
time), so a check is a few dictionary lookups. It loads on first use on a connection of its own,
then reads only the rows past the last id it saw: at once after a change notice (topic
``revocations``), and every DENYLIST_SYNC_INTERVAL seconds as a safety net (0: before every check).
The process that committed a revocation applies it to its own mirror right after the commit.
Redis carries only the notices: when it is down, restarted or flushed, the mirrors fall back on
the periodic reads of the database, and nothing revoked comes back.

Ids become visible in order: every revocation takes one PostgreSQL advisory lock, held until its
commit, before it inserts (SQLite has a single writer anyway, and AUTOINCREMENT never reuses an
id), so a reader that saw id N has seen every committed row below N.

Issue times are compared to the microsecond: ``iat`` stays an integer for relying parties, and
the precise time is the hexadecimal suffix of our opaque ``jti`` (``<random>.<µs since epoch>``).
Stamps of issuance and revocation are strictly increasing within a process.
"""

import threading
from datetime import datetime
from datetime import timedelta
from datetime import timezone
from types import SimpleNamespace

from flask import Flask
from flask import current_app
from sqlalchemy import delete
from sqlalchemy import func
from sqlalchemy import insert
from sqlalchemy import select
from sqlalchemy import text

from app.clock import now
from app.extensions import db
from app.services import notices

from .models import Application
from .models import TokenRevocation

JTI = "jti"
SESSION = "session"
FAMILY = "family"
APPLICATION = "application"
USER = "user"
USER_APPLICATION = "user_application"
# Revocations commit one at a time on PostgreSQL (pg_advisory_xact_lock), so ids appear in order.
COMMIT_ORDER_LOCK = 0x746F6B656E5F7276
# Expired rows deleted after each revocation: the table holds what can still deny, not history.
PRUNE_BATCH = 500
# How often a mirror drops its own expired entries.
TRIM_INTERVAL = timedelta(seconds=60)

# How far behind the last stamp the clock may read and still be taken for the same instant (µs).
STAMP_SLACK = 1_000_000
_stamp_lock = threading.Lock()
_last_stamp = 0


def stamp() -> int:
    """The current time in microseconds since the epoch, strictly increasing in this process, so
    a token issued after a revocation here is never taken for one issued before it within one
    tick of the clock. A clock set back by more than STAMP_SLACK is followed, not outrun."""
    global _last_stamp
    current = int(now().timestamp() * 1_000_000)
    with _stamp_lock:
        behind = _last_stamp - current
        _last_stamp = _last_stamp + 1 if 0 <= behind < STAMP_SLACK else current
        return _last_stamp


def jti_for(issued: int, random_part: str) -> str:
    return f"{random_part}.{issued:x}"


def issued_at(claims: dict) -> int:
    """When a token was issued, in microseconds: from its jti, else the end of its ``iat`` second
    (a token in another format is denied by any mark of the same second)."""
    _, _, suffix = claims["jti"].rpartition(".")
    try:
        return int(suffix, 16)
    except ValueError:
        iat = claims.get("iat")
        return (iat + 1) * 1_000_000 - 1 if isinstance(iat, int) else 2 ** 63


def _datetime(microseconds: int) -> datetime:
    return datetime(1970, 1, 1, tzinfo=timezone.utc) + timedelta(microseconds=microseconds)


def _microseconds(at: datetime) -> int:
    return (at - datetime(1970, 1, 1, tzinfo=timezone.utc)) // timedelta(microseconds=1)


class Mirror:
    """One application object's copy of the unexpired revocations."""

    def __init__(self, channel: notices.Channel, config):
        self.config = config  # the application's: read per check without going through current_app
        self.lock = threading.Lock()
        self.jtis: dict[str, int] = {}  # jti -> its token's expiry (µs)
        self.marks: dict[tuple[str, str], tuple[int, int]] = {}  # (kind, subject) -> (mark, expiry) in µs
        self.last_id: int | None = None  # None: never loaded
        self.stale = True
        self.checked_at: datetime | None = None
        self.trimmed_at: datetime | None = None
        self.notices = channel
        channel.listen(self.mark_stale)

    def mark_stale(self, _ids=None) -> None:
        self.stale = True

    def current(self) -> "Mirror":
        """The mirror, caught up with the database when told of a change or when due."""
        self.notices.poll()
        at = now()
        interval = timedelta(seconds=self.config["DENYLIST_SYNC_INTERVAL"])
        if self.stale or self.checked_at is None or at - self.checked_at >= interval:
            self._sync(at)
        return self

    def _sync(self, at: datetime) -> None:
        with self.lock:
            self.stale = False  # first: a notice arriving during the read asks for another one
            columns = select(TokenRevocation.id, TokenRevocation.kind, TokenRevocation.subject,
                             TokenRevocation.revoked_at, TokenRevocation.expires_at)
            try:
                with db.engine.connect() as connection:
                    if self.last_id is None:
                        last_id = connection.scalar(select(func.max(TokenRevocation.id))) or 0
                        rows = connection.execute(columns.where(TokenRevocation.expires_at > at)).all()
                    else:
                        last_id = self.last_id
                        rows = connection.execute(columns.where(TokenRevocation.id > last_id)).all()
            except Exception:
                self.stale = True  # the notice is not lost with the read: the next check reads again
                raise
            self._apply(rows, at)
            self.last_id = max([last_id, *(row.id for row in rows)])
            self.checked_at = at
            if self.trimmed_at is None or at - self.trimmed_at >= TRIM_INTERVAL:
                self._trim(at)

    def apply(self, rows: list[dict]) -> None:
        """Revocations this process has just committed (read again, idempotently, at the next sync)."""
        with self.lock:
            self._apply([SimpleNamespace(**row) for row in rows], now())

    def _apply(self, rows, at: datetime) -> None:
        for row in rows:
            expires = _microseconds(row.expires_at)
            if row.expires_at <= at:
                continue
            if row.kind == JTI:
                self.jtis[row.subject] = max(expires, self.jtis.get(row.subject, 0))
            else:
                key = (row.kind, row.subject)
                mark, until = self.marks.get(key, (0, 0))
                self.marks[key] = (max(mark, _microseconds(row.revoked_at)), max(until, expires))

    def _trim(self, at: datetime) -> None:
        limit = _microseconds(at)
        self.jtis = {jti: until for jti, until in self.jtis.items() if until > limit}
        self.marks = {key: entry for key, entry in self.marks.items() if entry[1] > limit}
        self.trimmed_at = at

    def denies(self, claims: dict, application: Application) -> bool:
        if claims["jti"] in self.jtis:
            return True
        if not self.marks:
            return False
        application_id = str(application.id)
        keys = [(APPLICATION, application_id)]
        user_id = claims.get("userId")
        if user_id:
            keys += [(USER, user_id), (USER_APPLICATION, f"{user_id}:{application_id}")]
        if claims.get("sid"):
            keys.append((SESSION, claims["sid"]))
        if claims.get("fam"):
            keys.append((FAMILY, claims["fam"]))
        marks = self.marks
        issued = None
        for key in keys:
            entry = marks.get(key)
            if entry is not None:
                issued = issued_at(claims) if issued is None else issued
                if issued <= entry[0]:
                    return True
        return False


def init_app(app: Flask) -> None:
    app.extensions["oauth_revocations"] = Mirror(notices.channel(app, "revocations"), app.config)


def denied(claims: dict, application: Application) -> bool:
    """Whether a verified access token of ``application`` was revoked (no query when current)."""
    return current_app.extensions["oauth_revocations"].current().denies(claims, application)


def commit(entries: list[tuple[str, str, datetime | None]]) -> None:
    """Commit the caller's unit of work with these revocations (kind, subject, and a jti's
    expiry; a mark's is ACCESS_TOKEN_TTL after it); then apply them here, tell the other
    processes and prune expired rows."""
    session = db.session
    rows = []
    if entries:
        session.flush()  # the caller's changes take their row locks before the commit-order lock
        if session.get_bind().dialect.name == "postgresql":
            session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": COMMIT_ORDER_LOCK})
        # Stamped after every lock the caller took: an issuance that held one came before.
        revoked_at = _datetime(stamp())
        ttl = timedelta(seconds=current_app.config["ACCESS_TOKEN_TTL"])
        rows = [{"kind": kind, "subject": subject, "revoked_at": revoked_at,
                 "expires_at": expires_at or revoked_at + ttl} for kind, subject, expires_at in entries]
        session.execute(insert(TokenRevocation), rows)
    session.commit()
    if rows:
        mirror: Mirror = current_app.extensions["oauth_revocations"]
        mirror.apply(rows)
        mirror.notices.announce()
        prune()


def prune() -> None:
    """Delete up to PRUNE_BATCH expired rows (a connection of its own; indexed by expires_at)."""
    expired = select(TokenRevocation.id).where(TokenRevocation.expires_at <= now()).limit(PRUNE_BATCH)
    with db.engine.begin() as connection:
        connection.execute(delete(TokenRevocation).where(TokenRevocation.id.in_(expired.scalar_subquery())))
