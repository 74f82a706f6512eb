"""Roles and permissions."""

from datetime import datetime
from typing import Annotated
from uuid import UUID

from pydantic import Field
from pydantic import StringConstraints

from ...services import rbac
from ..spec import Body
from ..spec import Schema


class PermissionOut(Schema):
    id: UUID
    name: str = Field(examples=["users:read"])
    description: str


class PermissionList(Schema):
    items: list[PermissionOut]


class RoleOut(Schema):
    id: UUID
    name: str = Field(examples=["admin"])
    description: str
    builtin: bool
    permissions: list[str] = Field(examples=[["users:read", "users:write"]])
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, role) -> "RoleOut":
        return cls(id=role.id, name=role.name, description=role.description, builtin=rbac.is_builtin(role),
                   permissions=rbac.permission_names(role), created_at=role.created_at, updated_at=role.updated_at)


class RoleList(Schema):
    items: list[RoleOut]


ROLE_NAME = r"^[A-Za-z][A-Za-z0-9_.-]{0,63}$"
PERMISSION_NAME = Annotated[str, StringConstraints(min_length=1, max_length=100)]


class RoleCreate(Body):
    name: str = Field(pattern=ROLE_NAME, examples=["support"])
    description: str = Field("", max_length=255, examples=["Answers customers' questions"])
    permissions: list[PERMISSION_NAME] = Field([], max_length=100, examples=[["users:read"]])


class RoleUpdate(Body):
    """Fields not sent keep their value; a built-in role keeps its name."""

    name: str | None = Field(None, pattern=ROLE_NAME)
    description: str | None = Field(None, max_length=255)


class RolePermissions(Body):
    """The whole set of permissions the role grants from now on."""

    permissions: list[PERMISSION_NAME] = Field(max_length=100, examples=[["users:read", "sessions:read"]])
