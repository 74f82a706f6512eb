"""Roles, permissions and the tables that assign them."""

from sqlalchemy import Column
from sqlalchemy import ForeignKey
from sqlalchemy import String
from sqlalchemy import Table
from sqlalchemy import Uuid
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column
from sqlalchemy.orm import relationship

from ..clock import now
from ..extensions import UTCDateTime
from ..extensions import db
from .base import IdMixin
from .base import TimestampMixin


def _assignment_table(name: str, left: str, right: str) -> Table:
    return Table(
        name,
        db.metadata,
        Column(f"{left}_id", Uuid, ForeignKey(f"{left}s.id", ondelete="CASCADE"), primary_key=True),
        Column(f"{right}_id", Uuid, ForeignKey(f"{right}s.id", ondelete="CASCADE"), primary_key=True,
               index=True),
        Column("created_at", UTCDateTime, default=now, nullable=False),
        Column("updated_at", UTCDateTime, default=now, onupdate=now, nullable=False),
    )


user_roles = _assignment_table("user_roles", "user", "role")
role_permissions = _assignment_table("role_permissions", "role", "permission")


class Permission(IdMixin, TimestampMixin, db.Model):
    """A named right such as ``users:read``."""

    __tablename__ = "permissions"

    name: Mapped[str] = mapped_column(String(100), unique=True)
    description: Mapped[str] = mapped_column(String(255), default="")


class Role(IdMixin, TimestampMixin, db.Model):
    __tablename__ = "roles"

    name: Mapped[str] = mapped_column(String(64), unique=True)
    description: Mapped[str] = mapped_column(String(255), default="")

    permissions: Mapped[list[Permission]] = relationship(secondary=role_permissions, lazy="selectin")
