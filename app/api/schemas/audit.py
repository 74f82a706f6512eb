"""The security event log."""

from datetime import datetime
from uuid import UUID

from pydantic import AwareDatetime
from pydantic import Field

from ..spec import Body
from ..spec import Schema


class AuditQuery(Body):
    """Filters of the log; every one optional. Times are ISO 8601 with a UTC offset."""

    action: str | None = Field(None, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$",
                               description="An action (`user.update`), or a prefix ending in a dot (`user.`).",
                               examples=["signin."])
    actor_user_id: UUID | None = Field(None, description="Events done by this user.")
    target_id: str | None = Field(None, max_length=100, description="Events about this record (an id).")
    from_: AwareDatetime | None = Field(None, alias="from", description="Events at or after this time.")
    to: AwareDatetime | None = Field(None, description="Events before this time.")
    limit: int = Field(50, ge=1, le=100)
    cursor: str | None = Field(None, max_length=200, description="`nextCursor` of the previous page.")


class AuditEventOut(Schema):
    id: UUID
    action: str = Field(examples=["role.update"])
    actor_user_id: UUID | None
    actor_client_id: str | None
    target_type: str | None = Field(examples=["role"])
    target_id: str | None
    before: dict | None
    after: dict | None
    detail: str | None
    ip_address: str | None
    user_agent: str | None
    created_at: datetime


class AuditPage(Schema):
    items: list[AuditEventOut]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last page.")
