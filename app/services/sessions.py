"""Server-side sessions: start, resolve a cookie token, list a user's, end."""

import hashlib
import logging
import secrets
from datetime import timedelta
from uuid import UUID

from flask import current_app
from sqlalchemy import select
from sqlalchemy import update
from sqlalchemy.orm import lazyload

from ..clock import now
from ..extensions import db
from ..models import User
from ..models import UserSession
from . import events
from . import user_cache
from .errors import NotFound
from .history import Origin

security = logging.getLogger("security")

TOKEN_BYTES = 32


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
    return session, token


def renew(session: UserSession) -> tuple[UserSession, str]:
    """A new cookie token for a live session and a fresh idle window; its absolute limit stays."""
    token = secrets.token_urlsafe(TOKEN_BYTES)
    session = db.session.merge(session)
    session.token_hash = _digest(token)
    session.last_seen_at = session.updated_at = now()
    db.session.commit()
    return session, token


def resolve(token: str | None) -> UserSession | None:
    """The live session a cookie token opens, or None; marks it seen, at most once a minute."""
    if not token or len(token) > 128:
        return None
    # The account comes from the user cache; ``session.user`` stays available, loaded on first use.
    session = db.session.scalar(select(UserSession).where(UserSession.token_hash == _digest(token))
                                .options(lazyload(UserSession.user)))
    at = now()
    config = current_app.config
    if session is None or not session.is_live(at, config["SESSION_IDLE_TTL"]) \
            or user_cache.active(session.user_id) is None:
        return None
    stale = at - timedelta(seconds=config["SESSION_TOUCH_INTERVAL"])
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
    db.session.commit()
    for user_id in {row.user_id for row in rows}:
        events.sessions_ended.send(user_id, session_ids=[row.id for row in rows if row.user_id == user_id])
    return len(ids)


def is_open(session_id: UUID, at) -> bool:
    """Whether a session has neither been ended nor reached its absolute limit (idle time aside)."""
    session = db.session.get(UserSession, session_id)
    return session is not None and session.revoked_at is None and session.expires_at > at


def find_live(session_id: UUID) -> UserSession | None:
    """A session by id, if it is still live (for tokens that name their session)."""
    session = db.session.get(UserSession, session_id, options=[lazyload(UserSession.user)])
    if session is None or not session.is_live(now(), current_app.config["SESSION_IDLE_TTL"]):
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
