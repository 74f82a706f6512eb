"""Server-side sign-in sessions."""

import uuid
from datetime import datetime
from datetime import timedelta

from sqlalchemy import JSON
from sqlalchemy import ForeignKey
from sqlalchemy import String
from sqlalchemy import Uuid
from sqlalchemy import text
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column
from sqlalchemy.orm import relationship

from ..extensions import UTCDateTime
from ..extensions import db
from .base import IdMixin
from .base import TimestampMixin
from .users import User


class UserSession(IdMixin, TimestampMixin, db.Model):
    """One sign-in. The cookie holds a random token; only its SHA-256 is stored here.

    Its ``id`` is the ``sid`` of the tokens issued in it. ``created_at`` is the time of
    authentication; ``expires_at`` is the absolute limit; the idle limit is measured from
    ``last_seen_at``.
    """

    __tablename__ = "sessions"

    user_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("users.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    ip_address: Mapped[str | None] = mapped_column(String(45))
    user_agent: Mapped[str | None] = mapped_column(String(512))
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # How the user authenticated (RFC 8176 values): ["pwd"], or ["pwd", "otp", "mfa"] with 2FA.
    amr: Mapped[list] = mapped_column(JSON, default=list, server_default=text("'[\"pwd\"]'"))

    user: Mapped[User] = relationship(lazy="joined")

    def idle_expires_at(self, idle_ttl: int) -> datetime:
        return min(self.last_seen_at + timedelta(seconds=idle_ttl), self.expires_at)

    def is_live(self, at: datetime, idle_ttl: int) -> bool:
        return self.revoked_at is None and at < self.idle_expires_at(idle_ttl)
