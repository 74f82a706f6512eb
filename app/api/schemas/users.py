"""The user object, in the specification's names, wherever the JSON API shows an account."""

from datetime import datetime
from uuid import UUID

from pydantic import Field

from ...models import User
from ...services import rbac
from ..spec import Schema


class RoleRef(Schema):
    id: UUID
    name: str = Field(examples=["admin"])


class UserOut(Schema):
    """An account as the admin API and /currentuser show it."""

    id: UUID
    email: str = Field(examples=["ada@example.com"])
    fullname: str = Field(examples=["Ada Lovelace"])
    avatar: str | None = Field(None, examples=["https://www.gravatar.com/avatar/0bc8?d=identicon&s=200"])
    role_id: UUID | None = Field(None, description="The primary role: the most privileged one the user holds.")
    roles: list[RoleRef]
    email_verified: bool
    phone: str | None = None
    address: dict | None = Field(None, description="The OIDC address claim's shape.")
    is_active: bool
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, user: User) -> "UserOut":
        primary = rbac.primary_role(user.roles)
        return cls(id=user.id, email=user.email, fullname=user.fullname, avatar=user.avatar,
                   role_id=primary.id if primary else None,
                   roles=[RoleRef(id=role.id, name=role.name) for role in rbac.by_rank(user.roles)],
                   email_verified=user.email_verified, phone=user.phone,
                   address=user.profile.address if user.profile else None, is_active=user.is_active,
                   created_at=user.created_at, updated_at=user.updated_at)
