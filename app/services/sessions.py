"""Server-side sessions: start, resolve a cookie token, list a user's, end.

Resolving a cookie is on every signed-in request, so each process keeps what it resolved: the
session's columns by the cookie token's digest, at most SESSION_CACHE_SIZE sessions (0: none),
least recently used dropped first. A warm request reads neither the database nor Redis. An entry
is served while notices are live (``notices.Channel.poll``), for SESSION_CACHE_TTL seconds after it
was read and while the session was seen within SESSION_TOUCH_INTERVAL; past that the database is
read again (and the session touched when due), so a notice lost all the same costs at most
SESSION_CACHE_TTL seconds. A change that matters to a cookie (ended, a new token,
a new sign-in in the same session) is announced after its commit with the session's id (topic
``sessions``); the committing process drops its entry first, the others on the notice. A touch
(``last_seen_at``) announces nothing: an entry that looks idle is read again before it is refused.
"""

import hashlib
import logging
import secrets
import threading
from collections import OrderedDict
from datetime import datetime
from datetime import timedelta
from uuid import UUID

from flask import Flask
from flask import current_app
from sqlalchemy import event
from sqlalchemy import select
from sqlalchemy import update
from sqlalchemy.orm import Session
from sqlalchemy.orm import lazyload
from sqlalchemy.orm import make_transient_to_detached
from sqlalchemy.orm.util import identity_key

from ..clock import now
from ..extensions import db
from ..models import User
from ..models import UserSession
from . import events
from . import notices
from . import user_cache
from .errors import NotFound
from .history import Origin

security = logging.getLogger("security")

TOKEN_BYTES = 32
# The ids of sessions a unit of work changed, announced once it commits.
CHANGED = "sessions.changed"
COLUMNS = tuple(column.key for column in UserSession.__mapper__.column_attrs)
_MANAGER = UserSession.__mapper__.class_manager


def _digest(token: str) -> str:
    # The token carries 256 random bits, so SHA-256 suffices: a database dump yields no
    # usable cookie, and looking a digest up by index reveals nothing about the token.
    return hashlib.sha256(token.encode()).hexdigest()


def start(user: User, origin: Origin, amr: list[str] = ("pwd",)) -> tuple[UserSession, str]:
    """Open a session for ``user``; returns it with the cookie token (never stored).

    ``amr``: how the user authenticated, as RFC 8176 values (``pwd``, ``otp``, ``mfa``).
    """
    token = secrets.token_urlsafe(TOKEN_BYTES)
    started = now()
    session = UserSession(
        user=user, token_hash=_digest(token), ip_address=origin.ip_address,
        user_agent=(origin.user_agent or "")[:512] or None, last_seen_at=started,
        expires_at=started + timedelta(seconds=current_app.config["SESSION_MAX_TTL"]),
        created_at=started, updated_at=started, amr=list(amr),
    )
    db.session.add(session)
    return session, token


def reauthenticate(session: UserSession, origin: Origin, amr: list[str] = ("pwd",)) -> tuple[UserSession, str]:
    """A fresh sign-in in a live session: new cookie token (no fixation), auth time now."""
    token = secrets.token_urlsafe(TOKEN_BYTES)
    at = now()
    session = db.session.merge(session)
    session.token_hash = _digest(token)
    session.created_at = session.last_seen_at = session.updated_at = at
    session.expires_at = at + timedelta(seconds=current_app.config["SESSION_MAX_TTL"])
    session.amr = list(amr)
    session.ip_address = origin.ip_address
    session.user_agent = (origin.user_agent or "")[:512] or None
    _changed(db.session, {session.id})
    return session, token


def renew(session: UserSession) -> tuple[UserSession, str]:
    """A new cookie token for a live session and a fresh idle window; its absolute limit stays."""
    token = secrets.token_urlsafe(TOKEN_BYTES)
    session = db.session.merge(session)
    session.token_hash = _digest(token)
    session.last_seen_at = session.updated_at = now()
    _changed(db.session, {session.id})
    db.session.commit()
    return session, token


class SessionView:
    """A live session as it was resolved, read-only: its columns by name, and the model's two
    expiry methods. Enough for a guard or a "who am I" answer without an ORM row; ``attach`` gives
    the row of the request's unit of work (``.user``, changes)."""

    __slots__ = ("columns",)
    idle_expires_at = UserSession.idle_expires_at
    is_live = UserSession.is_live

    def __init__(self, columns: dict):
        self.columns = columns

    def __getattr__(self, name: str):
        try:
            return self.columns[name]
        except KeyError:
            raise AttributeError(name) from None


def resolve(token: str | None) -> UserSession | None:
    """The live session a cookie token opens, as a row of the request's unit of work, or None."""
    view = peek(token)
    return attach(view) if view is not None else None


def attach(view: SessionView) -> UserSession:
    """The row of a resolved session in the request's unit of work, read without a query."""
    return _attached(view.columns)


def peek(token: str | None) -> SessionView | None:
    """The live session a cookie token opens, or None; marks it seen, at most once a minute."""
    if not token or len(token) > 128:
        return None
    digest = _digest(token)
    at = now()
    config = current_app.config
    stale = at - timedelta(seconds=config["SESSION_TOUCH_INTERVAL"])
    cache = current_app.extensions.get("session_cache")
    cached = cache.get(digest, at) if cache is not None else None
    if cached is not None:
        view = SessionView(cached)
        if view.is_live(at, config["SESSION_IDLE_TTL"]):
            return view if user_cache.active(view.user_id) is not None else None
    started = cache.start() if cache is not None else 0
    # The account comes from the user cache; ``session.user`` stays available, loaded on first use.
    session = db.session.scalar(select(UserSession).where(UserSession.token_hash == digest)
                                .options(lazyload(UserSession.user)).execution_options(populate_existing=True))
    if session is None or not session.is_live(at, config["SESSION_IDLE_TTL"]) \
            or user_cache.active(session.user_id) is None:
        return None
    if session.last_seen_at <= stale:
        # Conditional: of concurrent requests in one session, only the first one writes.
        db.session.execute(
            update(UserSession)
            .where(UserSession.id == session.id, UserSession.last_seen_at <= stale)
            .values(last_seen_at=at, updated_at=at)
            .execution_options(synchronize_session=False)
        )
        db.session.commit()
        session.last_seen_at = at
    columns = _columns(session)
    if cache is not None:
        cache.put(digest, columns, started, at)
    return SessionView(columns)


def _columns(session: UserSession) -> dict:
    return {name: getattr(session, name) for name in COLUMNS}


def _attached(columns: dict) -> UserSession:
    """The cached session as a row of this unit of work, without reading it (``session.user``
    loads on first use, as after a query)."""
    key = identity_key(UserSession, columns["id"])
    present = db.session.identity_map.get(key)
    if present is not None:
        return present
    # As a query loads a row: the values set as loaded (no change to flush), then the identity.
    session = _MANAGER.new_instance()
    session.__dict__.update(columns, amr=list(columns["amr"] or []))
    make_transient_to_detached(session)
    db.session.add(session)
    return session


def end(session_id: UUID) -> int:
    """End one session at once: its cookie, and the tokens issued in it, stop working; returns 1,
    or 0 if it had ended already (then nothing is committed)."""
    return _end(select(UserSession.id, UserSession.user_id).where(UserSession.id == session_id))


def end_all_for(user_id: UUID, keep: UUID | None = None) -> int:
    """End every live session of a user, but ``keep``; returns how many were ended."""
    query = select(UserSession.id, UserSession.user_id).where(UserSession.user_id == user_id)
    if keep is not None:
        query = query.where(UserSession.id != keep)
    return _end(query)


def _end(query) -> int:
    at = now()
    rows = db.session.execute(query.where(UserSession.revoked_at.is_(None))).all()
    if not rows:
        return 0
    ids = [row.id for row in rows]
    db.session.execute(update(UserSession).where(UserSession.id.in_(ids)).values(revoked_at=at, updated_at=at))
    _changed(db.session, set(ids))
    db.session.commit()
    for user_id in {row.user_id for row in rows}:
        events.sessions_ended.send(user_id, session_ids=[row.id for row in rows if row.user_id == user_id])
    return len(ids)


def is_open(session_id: UUID, at) -> bool:
    """Whether a session has neither been ended nor reached its absolute limit (idle time aside)."""
    session = db.session.get(UserSession, session_id)
    return session is not None and session.revoked_at is None and session.expires_at > at


def find_live(session_id: UUID) -> UserSession | None:
    """A session by id, if it is still live (for tokens that name their session); from the cache
    when a cookie of it was resolved here and it looks live, else from the database."""
    at = now()
    config = current_app.config
    cache = current_app.extensions.get("session_cache")
    cached = cache.by_id(str(session_id), at) if cache is not None else None
    session = _attached(cached) if cached is not None else None
    if session is None or not session.is_live(at, config["SESSION_IDLE_TTL"]):
        session = db.session.get(UserSession, session_id, options=[lazyload(UserSession.user)],
                                 populate_existing=True)
    if session is None or not session.is_live(at, config["SESSION_IDLE_TTL"]):
        return None
    return session if user_cache.active(session.user_id) is not None else None


def list_for_user(user_id: UUID) -> list[UserSession]:
    """The user's live sessions, most recently used first."""
    at = now()
    idle = timedelta(seconds=current_app.config["SESSION_IDLE_TTL"])
    return list(db.session.scalars(
        select(UserSession)
        .where(UserSession.user_id == user_id, UserSession.revoked_at.is_(None), UserSession.expires_at > at,
               UserSession.last_seen_at > at - idle)
        .order_by(UserSession.last_seen_at.desc(), UserSession.created_at.desc())))


def end_for_user(user_id: UUID, session_id: UUID) -> None:
    """The user ends one of their live sessions; NotFound for any other id (another user's too)."""
    if not any(session.id == session_id for session in list_for_user(user_id)):
        raise NotFound("No such session.")
    end(session_id)
    security.info("session.ended_by_user user_id=%s session_id=%s", user_id, session_id)


def end_others(user_id: UUID, keep: UUID) -> int:
    """The user ends every session but ``keep``; returns how many ended."""
    ended = end_all_for(user_id, keep=keep)
    security.info("session.others_ended user_id=%s count=%d", user_id, ended)
    return ended


# --- the cache of resolved sessions (see the module's docstring) ----------------------------------

def init_app(app: Flask) -> None:
    config = app.config
    size, ttl = config["SESSION_CACHE_SIZE"], config["SESSION_CACHE_TTL"]
    app.extensions["session_cache"] = _Cache(size, ttl, config["SESSION_TOUCH_INTERVAL"],
                                             notices.channel(app, "sessions")) if size > 0 and ttl > 0 else None
    for name, listener in (("after_commit", _after_commit), ("after_transaction_end", _after_transaction_end)):
        if not event.contains(Session, name, listener):
            event.listen(Session, name, listener)


def _changed(unit: Session, session_ids: set) -> None:
    unit.info.setdefault(CHANGED, set()).update(session_ids)


def _after_commit(unit: Session) -> None:
    changed = unit.info.pop(CHANGED, None)
    if changed:
        cache = current_app.extensions.get("session_cache")
        if cache is not None:
            cache.invalidate(changed)


def _after_transaction_end(unit: Session, transaction) -> None:
    if transaction.parent is None:  # ended without a commit: nothing changed
        unit.info.pop(CHANGED, None)


class _Cache:
    """Resolved sessions' columns by cookie digest, least recently used dropped first; the epochs of
    the sessions dropped (``notices.Epochs``), so that a row read before a change is not stored
    after it."""

    def __init__(self, size: int, ttl: int, touch_interval: int, channel: notices.Channel):
        self.size = size
        self.ttl = timedelta(seconds=ttl)
        self.touch_interval = timedelta(seconds=touch_interval)
        self.entries: OrderedDict[str, tuple[dict, datetime]] = OrderedDict()
        self.digests: dict[str, str] = {}  # session id -> digest
        self.epochs = notices.Epochs()
        self.lock = threading.Lock()
        self.notices = channel
        channel.listen(self.forget)

    def get(self, digest: str, at) -> dict | None:
        """The columns stored under ``digest``, if notices are live, they were read from the database
        less than SESSION_CACHE_TTL seconds before ``at``, and the session was seen within
        SESSION_TOUCH_INTERVAL."""
        if not self.notices.poll():
            return None
        with self.lock:
            found = self.entries.get(digest)
            if found is None:
                return None
            columns, read_at = found
            if read_at <= at - self.ttl or columns["last_seen_at"] <= at - self.touch_interval:
                return None
            self.entries.move_to_end(digest)
            return columns

    def by_id(self, session_id: str, at) -> dict | None:
        """The columns of a session whose cookie was resolved here, on the terms of ``get``."""
        digest = self.digests.get(session_id)
        return self.get(digest, at) if digest is not None else None

    def start(self) -> int:
        """Before reading a session from the database: what ``put`` is given."""
        with self.lock:
            return self.epochs.start()

    def put(self, digest: str, columns: dict, started: int, read_at) -> None:
        session_id = str(columns["id"])
        with self.lock:
            if not self.epochs.unchanged(session_id, started):  # dropped since the read began
                return
            previous = self.digests.get(session_id)
            if previous is not None and previous != digest:
                # A new cookie token of the session (renewed, signed in again), read before the
                # notice of the change: the old token's entry goes now, not with the notice.
                self.entries.pop(previous, None)
            self.entries[digest] = columns, read_at
            self.entries.move_to_end(digest)
            self.digests[session_id] = digest
            while len(self.entries) > self.size:
                _, (dropped, _) = self.entries.popitem(last=False)
                self.digests.pop(str(dropped["id"]), None)

    def invalidate(self, session_ids: set) -> None:
        """This process committed a change of these sessions: drop them, then tell the others."""
        self.forget({str(session_id) for session_id in session_ids})
        self.notices.announce(session_ids)

    def forget(self, ids) -> None:
        """Drop the named sessions (None: every one); called by notices from any thread."""
        with self.lock:
            self.epochs.drop(ids)
            if ids is None:
                self.entries.clear()
                self.digests.clear()
                return
            for session_id in ids:
                digest = self.digests.pop(session_id, None)
                if digest is not None:
                    self.entries.pop(digest, None)
