"""Column types and mixins shared by every model."""

import uuid
from datetime import datetime

from sqlalchemy import Uuid
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column

from ..clock import now
from ..extensions import UTCDateTime


class IdMixin:
    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)


class TimestampMixin:
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now, onupdate=now, nullable=False)
