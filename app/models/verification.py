"""Verification codes: short secrets mailed or texted to prove control of an address."""

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey
from sqlalchemy import Index
from sqlalchemy import Integer
from sqlalchemy import String
from sqlalchemy import Uuid
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column

from ..extensions import UTCDateTime
from ..extensions import db
from .base import IdMixin
from .base import TimestampMixin


class VerificationCode(IdMixin, TimestampMixin, db.Model):
    """A code, stored only as a hash; dead once consumed, expired or tried too often.

    ``purpose``: email_verification, password_reset, email_2fa, email_change, mobile_verification,
    mobile_2fa. ``consumed_at`` is set when the code is used or superseded by a newer one.
    """

    __tablename__ = "verification_codes"
    __table_args__ = (Index("ix_verification_codes_user_id_purpose", "user_id", "purpose"),)

    user_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("users.id"))
    purpose: Mapped[str] = mapped_column(String(32))
    code_hash: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    consumed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Where the code was sent when that is not the account's own address (a new email, a phone).
    target: Mapped[str | None] = mapped_column(String(254))
