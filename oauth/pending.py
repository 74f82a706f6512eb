"""Authorization requests waiting for the user (sign-in, consent), kept server-side.

The browser holds only a random handle, in its signed state cookie and in the URL it returns
to, so the request comes back exactly as it was validated and only to the browser that
started it.

A request that came by POST is parked first (``park``), bound to no browser: the POST of a
relying party's page carries none of our cookies, so the browser is sent on to claim it by GET.
Parked handles are hashed under their own prefix, so a parked handle never resumes a bound
request and a bound one is never claimed as parked.
"""

import hmac
import secrets
from datetime import timedelta

from flask import session as browser_state
from sqlalchemy import delete
from sqlalchemy import select

from app.clock import now
from app.extensions import db

from . import tokens
from .models import Application
from .models import PendingAuthorization

LIFETIME = timedelta(minutes=15)
POSTED_LIFETIME = timedelta(minutes=5)
STATE_KEY = "pending_authorizations"
CHOSEN_KEY = "accounts_chosen"
SHOWN_KEY = "consent_shown_to"
MAX_PER_BROWSER = 10


def save(application: Application, params: dict[str, list[str]]) -> str:
    """Keep a validated request; returns the handle the browser comes back with."""
    handle = secrets.token_urlsafe(24)
    at = now()
    db.session.execute(delete(PendingAuthorization).where(PendingAuthorization.expires_at < at))
    db.session.add(PendingAuthorization(handle_hash=tokens.digest(handle), application_id=application.id,
                                        params=params, expires_at=at + LIFETIME, created_at=at, updated_at=at))
    db.session.commit()
    handles = [*browser_state.get(STATE_KEY, []), handle][-MAX_PER_BROWSER:]
    browser_state[STATE_KEY] = handles
    return handle


def load(handle: str) -> PendingAuthorization | None:
    """The request behind a handle this browser was given, if it has not expired."""
    mine = browser_state.get(STATE_KEY, [])
    # Bytes: compare_digest refuses str with non-ASCII characters, and the handle is the URL's.
    presented = handle.encode("utf-8", "replace")
    if not handle or not any(hmac.compare_digest(presented, known.encode("utf-8", "replace")) for known in mine):
        return None
    pending = db.session.scalar(
        select(PendingAuthorization).where(PendingAuthorization.handle_hash == tokens.digest(handle)))
    if pending is None or pending.expires_at <= now():
        return None
    return pending


def finish(handle: str) -> None:
    """Forget a request once it has been answered."""
    db.session.execute(delete(PendingAuthorization).where(PendingAuthorization.handle_hash == tokens.digest(handle)))
    db.session.commit()
    browser_state[STATE_KEY] = [known for known in browser_state.get(STATE_KEY, []) if known != handle]
    if handle in browser_state.get(CHOSEN_KEY, []):
        browser_state[CHOSEN_KEY] = [known for known in browser_state[CHOSEN_KEY] if known != handle]
    if consent_shown_to(handle) is not None:
        browser_state[SHOWN_KEY] = [[known, user] for known, user in browser_state[SHOWN_KEY] if known != handle]


def park(application: Application, params: dict[str, list[str]]) -> str:
    """Keep a request that came by POST until the browser claims it by GET; returns its handle."""
    handle = secrets.token_urlsafe(24)
    at = now()
    db.session.execute(delete(PendingAuthorization).where(PendingAuthorization.expires_at < at))
    db.session.add(PendingAuthorization(handle_hash=_posted_digest(handle), application_id=application.id,
                                        params=params, expires_at=at + POSTED_LIFETIME, created_at=at, updated_at=at))
    db.session.commit()
    return handle


def claim(handle: str) -> dict[str, list[str]] | None:
    """The parameters of a parked request, once: the handle is spent."""
    if not handle or len(handle) > 64:
        return None
    parked = db.session.scalar(
        select(PendingAuthorization).where(PendingAuthorization.handle_hash == _posted_digest(handle)))
    if parked is None:
        return None
    params, live = dict(parked.params), parked.expires_at > now()
    db.session.delete(parked)
    db.session.commit()
    return params if live else None


def _posted_digest(handle: str) -> str:
    return tokens.digest("posted:" + handle)


def note_account_chosen(handle: str) -> None:
    """prompt=select_account is answered for this request (the user picked an account)."""
    browser_state[CHOSEN_KEY] = [*browser_state.get(CHOSEN_KEY, []), handle][-MAX_PER_BROWSER:]


def account_chosen(handle: str | None) -> bool:
    return handle is not None and handle in browser_state.get(CHOSEN_KEY, [])


def note_consent_shown(handle: str, user_id) -> None:
    """The consent page of this request was shown for ``user_id``: only that account may answer it."""
    shown = [[known, user] for known, user in browser_state.get(SHOWN_KEY, []) if known != handle]
    browser_state[SHOWN_KEY] = [*shown, [handle, str(user_id)]][-MAX_PER_BROWSER:]


def consent_shown_to(handle: str) -> str | None:
    """The user the consent page of this request was shown for, if it was."""
    return next((user for known, user in browser_state.get(SHOWN_KEY, []) if known == handle), None)
