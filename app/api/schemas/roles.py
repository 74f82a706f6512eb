"""Roles and permissions."""

from datetime import datetime
from uuid import UUID

from pydantic import Field

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
