"""The security event log: one home for recording what happened and who did it, and reading it.

``record`` adds an event to the caller's unit of work, so an admin change and its event commit
or roll back together (pass ``session`` when that unit of work is not the request's, as the key
ring's). ``denied`` is its own unit of work: a refusal changes nothing else. ``page`` reads the
log newest first, a page at a time (keyset pagination on ``ix_audit_events_created_at_id``).
"""

import base64
import binascii
import json
from datetime import datetime
from typing import Any
from typing import NamedTuple
from uuid import UUID

from sqlalchemy import and_
from sqlalchemy import or_
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..extensions import db
from ..models import AuditEvent
from .account_errors import InvalidFields
from .history import Origin


class Actor(NamedTuple):
    """Who acts: a signed-in user, an application acting for itself (client credentials), or
    nobody (an anonymous sign-in attempt), and where the request came from."""

    user_id: UUID | None
    client_id: str | None
    origin: Origin

    @classmethod
    def system(cls) -> "Actor":
        """The operator at the command line: no user, no application, no address."""
        return cls(None, None, Origin(None, None))


def record(actor: Actor, action: str, *, target_type: str | None = None, target_id: Any = None,
           before: dict | None = None, after: dict | None = None, detail: str | None = None,
           session: Session | None = None) -> AuditEvent:
    """Add one event to the caller's unit of work (the caller commits); ``session`` when that is
    not the request's. Never pass a secret, a hash or a token in ``before``/``after``."""
    event = AuditEvent(action=action, actor_user_id=actor.user_id, actor_client_id=actor.client_id,
                       target_type=target_type, target_id=None if target_id is None else str(target_id),
                       before=before, after=after, detail=(detail or "")[:255] or None,
                       ip_address=actor.origin.ip_address,
                       user_agent=(actor.origin.user_agent or "")[:255] or None)
    (session or db.session).add(event)
    return event


def denied(actor: Actor, permission: str, path: str) -> None:
    """Log a refused admin request (its own unit of work)."""
    record(actor, "permission.denied", detail=f"{permission} for {path}"[:255])
    db.session.commit()


class Page(NamedTuple):
    events: list[AuditEvent]
    next_cursor: str | None


def page(*, action: str | None = None, actor_user_id: UUID | None = None, target_id: str | None = None,
         since: datetime | None = None, until: datetime | None = None, limit: int = 50,
         cursor: str | None = None) -> Page:
    """Events newest first, narrowed by the filters, ``limit`` at a time; ``next_cursor`` (opaque)
    continues after the last one, None at the end. ``action`` ending in a dot is a prefix
    (``user.`` matches ``user.update``), else exact. ``since`` is inclusive, ``until`` exclusive."""
    query = select(AuditEvent)
    if action:
        query = query.where(AuditEvent.action.startswith(action, autoescape=True) if action.endswith(".")
                            else AuditEvent.action == action)
    if actor_user_id is not None:
        query = query.where(AuditEvent.actor_user_id == actor_user_id)
    if target_id is not None:
        query = query.where(AuditEvent.target_id == target_id)
    if since is not None:
        query = query.where(AuditEvent.created_at >= since)
    if until is not None:
        query = query.where(AuditEvent.created_at < until)
    if cursor is not None:
        after_at, after_id = _decode(cursor)
        query = query.where(or_(AuditEvent.created_at < after_at,
                                and_(AuditEvent.created_at == after_at, AuditEvent.id < after_id)))
    query = query.order_by(AuditEvent.created_at.desc(), AuditEvent.id.desc()).limit(limit + 1)
    events = list(db.session.scalars(query))
    more = len(events) > limit
    events = events[:limit]
    return Page(events, _encode(events[-1]) if more else None)


def _encode(event: AuditEvent) -> str:
    position = json.dumps([event.created_at.isoformat(), event.id.hex]).encode()
    return base64.urlsafe_b64encode(position).decode().rstrip("=")


def _decode(cursor: str) -> tuple[datetime, UUID]:
    try:
        at, event_id = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if not isinstance(at, str) or not isinstance(event_id, str):
            raise TypeError("a forged cursor")
        at = datetime.fromisoformat(at)
        if at.tzinfo is None:
            raise ValueError("naive time")
        return at, UUID(hex=event_id)
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError):
        raise InvalidFields({"cursor": ["This cursor is not one this server gave out."]}) from None
