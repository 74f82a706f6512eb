"""The login history: one row per sign-in attempt, successful or not."""

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey
from sqlalchemy import Index
from sqlalchemy import String
from sqlalchemy import Uuid
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column

from ..clock import now
from ..extensions import UTCDateTime
from ..extensions import db
from .base import IdMixin
from .base import TimestampMixin


class LoginAttempt(IdMixin, TimestampMixin, db.Model):
    """``outcome``: success, bad_password, unknown_user, inactive, unverified, locked, ..."""

    __tablename__ = "login_history"
    __table_args__ = (Index("ix_login_history_user_id_time", "user_id", "time"),)

    user_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("users.id"))
    time: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    ip_address: Mapped[str | None] = mapped_column(String(45))
    device_info: Mapped[str | None] = mapped_column(String(512))
    method: Mapped[str] = mapped_column(String(32))
    outcome: Mapped[str] = mapped_column(String(32))
