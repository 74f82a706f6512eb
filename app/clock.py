"""The one place the server reads the time, so tests can move it."""

from datetime import datetime
from datetime import timezone


def now() -> datetime:
    """The current time, timezone-aware, in UTC."""
    return datetime.now(timezone.utc)
