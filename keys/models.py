"""Signing keys and their lifecycle.

::

    next ──(published ≥ JWKS_MAX_AGE)──> current ──(rotation)──> retired ──(tokens expired)──> removed
    published in the JWKS, not signing   signs      verifies only             gone from the JWKS

Exactly one key per algorithm is current and at most one is next (partial unique indexes
say so to the database, so two instances rotating at once cannot both win). The private half is stored sealed
(JWE) under a key derived from KEY_ENCRYPTION_SECRET: a database dump alone yields no
private key.
"""

import uuid
from datetime import datetime

from sqlalchemy import JSON
from sqlalchemy import Index
from sqlalchemy import String
from sqlalchemy import Text
from sqlalchemy import Uuid
from sqlalchemy import text
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column

from app.clock import now
from app.extensions import UTCDateTime
from app.extensions import db


class SigningKey(db.Model):
    __tablename__ = "signing_keys"
    __table_args__ = (
        Index("uq_signing_keys_current_alg", "alg", unique=True,
              sqlite_where=text("state = 'current'"), postgresql_where=text("state = 'current'")),
        Index("uq_signing_keys_next_alg", "alg", unique=True,
              sqlite_where=text("state = 'next'"), postgresql_where=text("state = 'next'")),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    kid: Mapped[str] = mapped_column(String(64), unique=True)
    alg: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(16), index=True)
    public_jwk: Mapped[dict] = mapped_column(JSON)
    private_jwe: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now, onupdate=now)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    activated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    remove_after: Mapped[datetime | None] = mapped_column(UTCDateTime)
