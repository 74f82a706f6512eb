"""Login history: who tried to sign in, from where, and what came of it."""

from typing import NamedTuple
from uuid import UUID

from ..extensions import db
from ..models import LoginAttempt


class Origin(NamedTuple):
    """Where a request came from: the client IP (proxy-aware) and its user agent."""

    ip_address: str | None
    user_agent: str | None


def record(user_id: UUID | None, origin: Origin, method: str, outcome: str) -> LoginAttempt:
    """Add one attempt to the history; the caller commits it with the rest of its work."""
    attempt = LoginAttempt(user_id=user_id, ip_address=origin.ip_address,
                           device_info=(origin.user_agent or "")[:512] or None,
                           method=method, outcome=outcome)
    db.session.add(attempt)
    return attempt
