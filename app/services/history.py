"""Login history: who tried to sign in, from where, and what came of it."""

from typing import NamedTuple
from uuid import UUID

from sqlalchemy import select

from ..extensions import db
from ..models import LoginAttempt

HISTORY_LENGTH = 50
# A sign-in outcome -> its security event; any other outcome is a failure.
SIGNIN_ACTIONS = {"success": "signin.success", "locked": "signin.locked", "2fa_required": None}
# Checked in order: Edge and Opera also name Chrome, Chrome also names Safari.
BROWSERS = (("Edg", "Edge"), ("OPR/", "Opera"), ("Firefox/", "Firefox"), ("FxiOS/", "Firefox"),
            ("CriOS/", "Chrome"), ("Chrome/", "Chrome"), ("Safari/", "Safari"), ("curl/", "curl"))
SYSTEMS = (("Android", "Android"), ("iPhone", "iOS"), ("iPad", "iPadOS"), ("Windows", "Windows"),
           ("CrOS", "ChromeOS"), ("Mac OS X", "macOS"), ("Linux", "Linux"))


class Origin(NamedTuple):
    """Where a request came from: the client IP (proxy-aware) and its user agent."""

    ip_address: str | None
    user_agent: str | None


def record(user_id: UUID | None, origin: Origin, method: str, outcome: str) -> LoginAttempt:
    """Add one attempt to the history, and to the security event log (``signin.success``,
    ``signin.locked``, ``signin.failure``; the step to a second factor is neither); the caller
    commits both with the rest of its work."""
    from . import audit  # audit takes Origin from here

    attempt = LoginAttempt(user_id=user_id, ip_address=origin.ip_address,
                           device_info=(origin.user_agent or "")[:512] or None,
                           method=method, outcome=outcome)
    db.session.add(attempt)
    action = SIGNIN_ACTIONS.get(outcome, "signin.failure")
    if action is not None:
        audit.record(audit.Actor(user_id, None, origin), action, target_type="user" if user_id else None,
                     target_id=user_id, detail=f"method={method} outcome={outcome}")
    return attempt


def recent(user_id: UUID, limit: int = HISTORY_LENGTH) -> list[LoginAttempt]:
    """The user's latest sign-in attempts, newest first."""
    return list(db.session.scalars(
        select(LoginAttempt).where(LoginAttempt.user_id == user_id)
        .order_by(LoginAttempt.time.desc(), LoginAttempt.created_at.desc()).limit(limit)))


def device_name(user_agent: str | None) -> str:
    """A short, human name for a user agent ("Firefox on Linux"), for the sessions and history lists."""
    if not user_agent:
        return "Unknown device"
    browser = next((name for marker, name in BROWSERS if marker in user_agent), None)
    system = next((name for marker, name in SYSTEMS if marker in user_agent), None)
    if browser and system:
        return f"{browser} on {system}"
    return browser or system or user_agent.split(" ", 1)[0][:40]
