"""The sign-in waiting for its second factor, kept in the browser's signed state cookie."""

from flask import session as flask_session

from ..clock import now

PENDING_2FA = "pending_second_factor"
# A password accepted for 2FA must be followed by the code within this many seconds.
SECOND_FACTOR_WINDOW = 600


def begin_second_factor(user_id, email: str, next_path: str) -> None:
    """Remember whose password was just accepted, and where the sign-in goes afterwards."""
    flask_session[PENDING_2FA] = {"user_id": str(user_id), "email": email.strip().lower(), "next": next_path,
                                  "at": now().timestamp()}


def pending_second_factor() -> dict | None:
    """The sign-in waiting for its code, if it is recent enough."""
    pending = flask_session.get(PENDING_2FA)
    if not isinstance(pending, dict) or now().timestamp() - pending.get("at", 0) > SECOND_FACTOR_WINDOW:
        return None
    return pending


def finish_second_factor() -> None:
    flask_session.pop(PENDING_2FA, None)
