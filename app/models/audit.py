"""The security event log: who did what to which record, and what it looked like before and after."""

import uuid

from sqlalchemy import JSON
from sqlalchemy import Index
from sqlalchemy import String
from sqlalchemy import Uuid
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column

from ..extensions import db
from .base import IdMixin
from .base import TimestampMixin


class AuditEvent(IdMixin, TimestampMixin, db.Model):
    """One security event. ``action`` is ``area.verb`` (``user.update``, ``signin.failure``,
    ``permission.denied``); the actor is a user, an application acting for itself, or nobody (an
    anonymous sign-in attempt). Rows are only ever added."""

    __tablename__ = "audit_events"
    __table_args__ = (
        # The list reads newest first, optionally narrowed to an action, an actor or a target.
        Index("ix_audit_events_created_at_id", "created_at", "id"),
        Index("ix_audit_events_action_created_at", "action", "created_at"),
        Index("ix_audit_events_actor_created_at", "actor_user_id", "created_at"),
        Index("ix_audit_events_target_created_at", "target_id", "created_at"),
    )

    action: Mapped[str] = mapped_column(String(64))
    actor_user_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    actor_client_id: Mapped[str | None] = mapped_column(String(100))
    target_type: Mapped[str | None] = mapped_column(String(32))
    target_id: Mapped[str | None] = mapped_column(String(100))
    before: Mapped[dict | None] = mapped_column(JSON)
    after: Mapped[dict | None] = mapped_column(JSON)
    detail: Mapped[str | None] = mapped_column(String(255))
    ip_address: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(255))
