"""The user object, in the specification's names, wherever the JSON API shows an account."""

import re
from datetime import datetime
from typing import Annotated
from typing import Literal
from uuid import UUID

from pydantic import AfterValidator
from pydantic import AwareDatetime
from pydantic import Field
from pydantic import field_validator

from ...models import User
from ...services import rbac
from ...services.directory import DEFAULT_SORT
from ...services.directory import MAX_LIMIT
from ...services.directory import SORTS
from ...services.directory import UserFilters
from ..spec import Body
from ..spec import Schema

CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f]")


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


# --- the admin API's users ---------------------------------------------------------------------------

def _printable(value: str | None) -> str | None:
    if value is not None and CONTROL_CHARACTERS.search(value):
        raise ValueError("Use printable characters only.")
    return value


# Text a filter or a field takes: no NUL or other control characters (the database refuses some).
Text = Annotated[str, AfterValidator(_printable)]


class UserQuery(Body):
    """Filters (all optional, combined with AND), the sort and the page."""

    email: Text | None = Field(None, max_length=254, description="Exactly this address (any case).")
    fullname: Text | None = Field(None, max_length=200, description="Exactly this full name.")
    role_id: UUID | None = Field(None, description="Holds this role.")
    email_verified: bool | None = None
    phone: Text | None = Field(None, max_length=32, description="Exactly this phone number.")
    is_active: bool | None = Field(None, description="false: the deleted (deactivated) accounts.")
    created_from: AwareDatetime | None = Field(None, description="Created at or after (ISO 8601 with a zone).")
    created_to: AwareDatetime | None = Field(None, description="Created before (ISO 8601 with a zone).")
    q: Text | None = Field(None, max_length=200,
                           description="Text found in the email address or the full name, whatever its case.")
    sort: Literal[SORTS] = Field(DEFAULT_SORT, description="A `-` prefix sorts descending.")  # type: ignore[valid-type]
    cursor: Text | None = Field(None, max_length=1024, description="The `nextCursor` of the previous page.")
    limit: int = Field(20, ge=1, le=MAX_LIMIT)
    include_total: bool = Field(False, description="Count every match (slower on large directories).")

    def filters(self) -> UserFilters:
        return UserFilters(email=self.email, fullname=self.fullname, role_id=self.role_id,
                           email_verified=self.email_verified, phone=self.phone, is_active=self.is_active,
                           created_from=self.created_from, created_to=self.created_to, q=self.q)


class UserPage(Schema):
    items: list[UserOut]
    next_cursor: str | None = Field(None, description="Pass as `cursor` for the next page; null on the last.")
    total: int | None = Field(None, description="Every match, when `includeTotal=true` was asked.")


class UserCreate(Body):
    email: Text = Field(max_length=254, examples=["grace@example.com"])
    fullname: Text = Field(max_length=200, examples=["Grace Hopper"])
    password: str | None = Field(None, max_length=1024, description="Omit it: the user is mailed a code "
                                                                    "to set one. The password policy applies.")
    phone: Text | None = Field(None, max_length=32)
    address: dict | None = Field(None, description="The OIDC address claim's shape.")
    roles: list[UUID] = Field([], max_length=50, description="Role ids; the user role is always added.")
    email_verified: bool = Field(False, description="true: the address counts as verified from the start.")


class UserUpdate(Body):
    """Only the fields sent change. A new email is unverified until its owner enters the code mailed to it."""

    fullname: Text | None = Field(None, max_length=200)
    avatar: Text | None = Field(None, max_length=500, description="An https URL; empty: the default picture.")
    phone: Text | None = Field(None, max_length=32)
    address: dict | None = None
    email: Text | None = Field(None, max_length=254)
    roles: list[UUID] | None = Field(None, max_length=50, description="The full set of role ids.")

    @field_validator("fullname", "email", "roles", mode="before")
    @classmethod
    def _not_null(cls, value):
        # Left out: unchanged. These have no empty value to set, so an explicit null is refused.
        if value is None:
            raise ValueError("must not be null; leave the field out to keep it")
        return value


class RoleSet(Body):
    roles: list[UUID] = Field(max_length=50, description="The full set of role ids; the user role is always kept.")


class HistoryQuery(Body):
    cursor: Text | None = Field(None, max_length=1024)
    limit: int = Field(20, ge=1, le=MAX_LIMIT)


class SessionOut(Schema):
    id: UUID
    device: str = Field(examples=["Firefox on Linux"])
    user_agent: str | None
    ip_address: str | None
    amr: list[str] = Field(examples=[["pwd"]])
    created_at: datetime
    last_seen_at: datetime
    expires_at: datetime


class SessionList(Schema):
    items: list[SessionOut]


class SessionsEnded(Schema):
    sessions_ended: int


class LoginAttemptOut(Schema):
    id: UUID
    time: datetime
    ip_address: str | None
    device: str
    method: str = Field(examples=["password"])
    outcome: str = Field(examples=["success", "bad_password"])


class LoginHistoryPage(Schema):
    items: list[LoginAttemptOut]
    next_cursor: str | None = None
