"""Users and their profiles."""

import uuid
from datetime import date
from datetime import datetime

from sqlalchemy import JSON
from sqlalchemy import Boolean
from sqlalchemy import Date
from sqlalchemy import ForeignKey
from sqlalchemy import Index
from sqlalchemy import String
from sqlalchemy import Uuid
from sqlalchemy import false
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column
from sqlalchemy.orm import relationship
from sqlalchemy.orm import validates

from ..extensions import UTCDateTime
from ..extensions import db
from .base import IdMixin
from .base import TimestampMixin
from .roles import Role
from .roles import user_roles


class User(IdMixin, TimestampMixin, db.Model):
    """An account. Deleting one sets ``is_active`` false; no row is ever removed."""

    __tablename__ = "users"
    __table_args__ = (
        # The admin list pages by keyset on (sort key, id): each sort and equality filter has an
        # index whose order is the page's order (email is unique, so its own index serves).
        Index("ix_users_created_at_id", "created_at", "id"),
        Index("ix_users_fullname_id", "fullname", "id"),
        Index("ix_users_is_active_created_at_id", "is_active", "created_at", "id"),
        Index("ix_users_phone", "phone"),
    )

    email: Mapped[str] = mapped_column(String(254), unique=True)
    username: Mapped[str | None] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str | None] = mapped_column(String(255))
    fullname: Mapped[str] = mapped_column(String(200), default="")
    avatar: Mapped[str | None] = mapped_column(String(500))
    email_verified: Mapped[bool] = mapped_column(Boolean, default=False)
    phone: Mapped[str | None] = mapped_column(String(32))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    two_factor_enabled: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    phone_verified: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    roles: Mapped[list[Role]] = relationship(secondary=user_roles, lazy="selectin")
    profile: Mapped["Profile | None"] = relationship(back_populates="user", uselist=False)

    @validates("email")
    def _lower_email(self, _key: str, value: str) -> str:
        # DESIGN.md: email is stored lower-case, so the unique index is case-insensitive.
        return value.strip().lower()

    @property
    def role_names(self) -> list[str]:
        return sorted(role.name for role in self.roles)


class Profile(TimestampMixin, db.Model):
    """The OIDC standard claims of a user that are not on the account itself."""

    __tablename__ = "profiles"

    user_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("users.id"), primary_key=True)
    given_name: Mapped[str | None] = mapped_column(String(100))
    family_name: Mapped[str | None] = mapped_column(String(100))
    phone_number: Mapped[str | None] = mapped_column(String(32))
    address: Mapped[dict | None] = mapped_column(JSON)
    birthdate: Mapped[date | None] = mapped_column(Date)

    user: Mapped[User] = relationship(back_populates="profile")
