"""The security event log: one home for recording what happened and who did it.

``record`` adds an event to the caller's unit of work, so an admin change and its event commit
or roll back together. ``denied`` is its own unit of work: a refusal changes nothing else.
"""

from typing import Any
from typing import NamedTuple
from uuid import UUID

from ..extensions import db
from ..models import AuditEvent
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
           before: dict | None = None, after: dict | None = None, detail: str | None = None) -> AuditEvent:
    """Add one event to the caller's unit of work (the caller commits)."""
    event = AuditEvent(action=action, actor_user_id=actor.user_id, actor_client_id=actor.client_id,
                       target_type=target_type, target_id=None if target_id is None else str(target_id),
                       before=before, after=after, detail=(detail or "")[:255] or None,
                       ip_address=actor.origin.ip_address,
                       user_agent=(actor.origin.user_agent or "")[:255] or None)
    db.session.add(event)
    return event


def denied(actor: Actor, permission: str, path: str) -> None:
    """Log a refused admin request (its own unit of work)."""
    record(actor, "permission.denied", detail=f"{permission} for {path}"[:255])
    db.session.commit()
