"""The sign-in waiting for its second factor, kept in the browser's signed state cookie."""

from flask import flash
from flask import session as flask_session

from ..clock import now
from ..services import second_factor
from ..services.errors import MessageNotSent
from ..services.errors import ResendTooSoon

PENDING_2FA = "pending_second_factor"
# A password accepted for 2FA must be followed by the code within this many seconds.
SECOND_FACTOR_WINDOW = 600


def begin_second_factor(user_id, email: str, next_path: str, step_up: bool = False) -> None:
    """Remember whose password was just accepted (or, ``step_up``, which signed-in user an
    application wants a second factor from), and where the sign-in goes afterwards."""
    flask_session[PENDING_2FA] = {"user_id": str(user_id), "email": email.strip().lower(), "next": next_path,
                                  "at": now().timestamp(), "step_up": step_up}


def start_second_factor(user_id, email: str, next_path: str, step_up: bool = False) -> None:
    """Ask for a second factor: remember the sign-in, send the code (a problem sending it is shown
    on the code page). Then ``/login/2fa`` takes the code and goes on to ``next_path``.

    Used after a right password, and to step up a signed-in user whom an application asked for a
    stronger sign-in (the code then re-authenticates the same session: amr and auth time updated).
    """
    begin_second_factor(user_id, email, next_path, step_up)
    try:
        second_factor.send(user_id)
    except (ResendTooSoon, MessageNotSent) as problem:
        flash(problem.public_message, "error")


def pending_second_factor() -> dict | None:
    """The sign-in waiting for its code, if it is recent enough."""
    pending = flask_session.get(PENDING_2FA)
    if not isinstance(pending, dict) or now().timestamp() - pending.get("at", 0) > SECOND_FACTOR_WINDOW:
        return None
    return pending


def finish_second_factor() -> None:
    flask_session.pop(PENDING_2FA, None)
