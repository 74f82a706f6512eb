"""Telling applications that a sign-in session ended: back-channel and front-channel logout.

Which applications a session signed in to is recorded when a code is issued in it
(``record_sign_in``). When a session ends, for whatever reason (RP-initiated logout, /logout, a
new password, an administrator, a deactivated or deleted account), ``enqueue`` writes one
back-channel notice per application that registered a ``backchannel_logout_uri`` into the outbox
(``logout_deliveries``), in the unit of work that records the end. A delivery thread in every
server process sends them (OpenID Connect Back-Channel Logout 1.0): woken after the commit, and
polling every BACKCHANNEL_LOGOUT_POLL_INTERVAL seconds for retries and for notices a stopped
process left. A row is claimed before it is sent, so two processes never send the same one;
an attempt that fails is retried with backoff, MAX_ATTEMPTS times in all, then abandoned (logged).

Front-channel logout (OpenID Connect Front-Channel Logout 1.0) is a page: ``signed_out_page``
renders one hidden frame per application of the ended session that registered a
``frontchannel_logout_uri``, with a Content-Security-Policy that lets exactly those origins be
framed, then continues to where the logout was going.
"""

import logging
import os
import re
import threading
import urllib.error
import urllib.request
import uuid
import weakref
from datetime import datetime
from datetime import timedelta
from urllib.parse import urlencode
from urllib.parse import urlsplit

from authlib.common.urls import add_params_to_uri
from flask import Flask
from flask import current_app
from flask import has_request_context
from flask import render_template
from sqlalchemy import or_
from sqlalchemy import select
from sqlalchemy import update
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects import sqlite

from app.clock import now
from app.extensions import db
from app.web.headers import CONTENT_SECURITY_POLICY
from keys import ring

from .models import Application
from .models import LogoutDelivery
from .models import SessionApplication

log = logging.getLogger(__name__)

# OpenID Connect Back-Channel Logout §2.4: the member of ``events`` that makes a JWT a logout token.
BACKCHANNEL_LOGOUT_EVENT = "http://schemas.openid.net/event/backchannel-logout"
LOGOUT_TOKEN_TTL = timedelta(minutes=2)
DELIVERY_TIMEOUT = 5.0
# Seconds before the 2nd, 3rd, ... attempt: five attempts over about four minutes.
BACKOFF = (10, 30, 60, 120)
MAX_ATTEMPTS = len(BACKOFF) + 1
# A claimed row whose worker stopped before recording the outcome is due again after this.
CLAIM_LEASE = timedelta(seconds=60)
BATCH = 20
# How long the logged-out page waits for the front-channel frames before it continues anyway.
FRAME_WAIT_MS = 5000
_ORIGIN = re.compile(r"^https?://[A-Za-z0-9.\-\[\]:]+$")


# --- which applications a session signed in to -----------------------------------------------------

def record_sign_in(session_id: uuid.UUID, application_id: uuid.UUID) -> None:
    """Remember that ``session_id`` signed the user in to ``application_id`` (once); the caller commits."""
    insert = postgresql.insert if db.session.get_bind().dialect.name == "postgresql" else sqlite.insert
    at = now()
    db.session.execute(insert(SessionApplication)
                       .values(session_id=session_id, application_id=application_id, created_at=at, updated_at=at)
                       .on_conflict_do_nothing())


def _signed_in_to(session_ids, uri_column) -> list[tuple[uuid.UUID, Application]]:
    """(session id, application) for the live applications of these sessions that registered ``uri_column``."""
    return [(row.session_id, row.Application) for row in db.session.execute(
        select(SessionApplication.session_id, Application)
        .join(Application, Application.id == SessionApplication.application_id)
        .where(SessionApplication.session_id.in_(list(session_ids)), uri_column.is_not(None), uri_column != "",
               Application.deleted_at.is_(None))
        .order_by(Application.client_id))]


# --- back-channel logout: the outbox ---------------------------------------------------------------

def enqueue(user_id: uuid.UUID, session_ids) -> int:
    """Queue a back-channel notice for each application these ended sessions signed in to; returns how
    many. The caller's unit of work commits them with the sessions' end, then calls ``wake``."""
    if not session_ids:
        return 0
    at = now()
    found = _signed_in_to(session_ids, Application.backchannel_logout_uri)
    for session_id, application in found:
        db.session.add(LogoutDelivery(application_id=application.id, user_id=user_id, session_id=session_id,
                                      state="pending", attempts=0, next_attempt_at=at))
    return len(found)


def logout_token(application: Application, user_id: uuid.UUID, session_id: uuid.UUID, at: datetime) -> str:
    """A signed logout token (OpenID Connect Back-Channel Logout §2.4) for one application."""
    issued = int(at.timestamp())
    claims = {
        "iss": current_app.config["ISSUER"],
        "aud": application.client_id,
        "iat": issued,
        "exp": issued + int(LOGOUT_TOKEN_TTL.total_seconds()),
        "jti": uuid.uuid4().hex,
        # §2.4: sub or sid, or both; we always know both. sid is the ID token's sid.
        "sub": str(user_id),
        "sid": str(session_id),
        "events": {BACKCHANNEL_LOGOUT_EVENT: {}},
        # §2.4: a logout token MUST NOT contain a nonce claim (none is added here).
    }
    # §2.4: explicitly typed, so it cannot be taken for an ID token (RFC 8725 §3.11).
    return ring.sign(claims, typ="logout+jwt")


def deliver_pending(at: datetime | None = None, limit: int | None = None) -> int:
    """Send the notices due at ``at`` (now), claiming each first; returns how many were attempted.

    Runs in an application context (the delivery thread; tests call it to run deliveries now).
    """
    attempted = 0
    while limit is None or attempted < limit:
        when = at or now()
        claimed = _claim(when, BATCH if limit is None else min(BATCH, limit - attempted))
        if not claimed:
            break
        for delivery in claimed:
            _attempt(delivery, when)
        attempted += len(claimed)
    return attempted


def _claim(at: datetime, limit: int) -> list[LogoutDelivery]:
    """Take up to ``limit`` due rows for this worker: one conditional UPDATE, so of two workers (threads
    or processes) only one gets a row. PostgreSQL skips rows another worker is claiming."""
    claim_id = uuid.uuid4()
    free = or_(LogoutDelivery.claimed_until.is_(None), LogoutDelivery.claimed_until <= at)
    due = (select(LogoutDelivery.id)
           .where(LogoutDelivery.state == "pending", LogoutDelivery.next_attempt_at <= at, free)
           .order_by(LogoutDelivery.next_attempt_at).limit(limit))
    if db.session.get_bind().dialect.name == "postgresql":
        due = due.with_for_update(skip_locked=True)
    try:
        won = db.session.execute(
            update(LogoutDelivery)
            # The same conditions again: a row claimed meanwhile no longer matches (PostgreSQL re-checks
            # them on the row it waited for; SQLite runs the whole statement under its write lock).
            .where(LogoutDelivery.id.in_(due), LogoutDelivery.state == "pending", free)
            .values(claim_id=claim_id, claimed_until=at + CLAIM_LEASE, attempts=LogoutDelivery.attempts + 1,
                    updated_at=at)
            .execution_options(synchronize_session=False)).rowcount
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    if not won:
        return []
    return list(db.session.scalars(select(LogoutDelivery).where(LogoutDelivery.claim_id == claim_id)))


def _attempt(delivery: LogoutDelivery, at: datetime) -> None:
    """Post one notice and record the outcome; a failure of any kind is recorded, never raised."""
    application = db.session.get(Application, delivery.application_id)
    if application is None or application.deleted_at or not application.backchannel_logout_uri:
        _record(delivery, application, at, "the application is gone or no longer has a backchannel_logout_uri",
                final=True)
        return
    try:
        token = logout_token(application, delivery.user_id, delivery.session_id, now())
        error = post(application.backchannel_logout_uri, token)
    except Exception as failure:  # the key ring away, say: retried like a failed post
        error = f"{type(failure).__name__}: {failure}"
    _record(delivery, application, at, error)


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None  # a 3xx is an answer like any other: not delivered


_opener = urllib.request.build_opener(_NoRedirects)


def post(uri: str, token: str) -> str | None:
    """POST the logout token (§2.5, form-encoded) to ``uri``; None when the RP answered 200 or 204
    (§2.8; some frameworks turn 200 with no body into 204), else why not."""
    request = urllib.request.Request(
        uri, data=urlencode({"logout_token": token}).encode(), method="POST",
        headers={"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"})
    try:
        with _opener.open(request, timeout=DELIVERY_TIMEOUT) as response:
            status = response.status
    except urllib.error.HTTPError as answer:
        status = answer.code
        answer.close()
    except (urllib.error.URLError, OSError, ValueError) as failure:
        return f"{type(failure).__name__}: {getattr(failure, 'reason', failure)}"
    return None if status in (200, 204) else f"HTTP {status}"


def _record(delivery: LogoutDelivery, application: Application | None, at: datetime, error: str | None,
            final: bool = False) -> None:
    """The outcome of one attempt; ``at`` is the time the attempt was due at (retries count from it)."""
    values: dict = {"claim_id": None, "claimed_until": None, "updated_at": at}
    client_id = application.client_id if application is not None else "-"
    if error is None:
        values.update(state="delivered", delivered_at=at, last_error=None)
        log.info("backchannel_logout.delivered client_id=%s sid=%s attempt=%d", client_id, delivery.session_id,
                 delivery.attempts)
    elif final or delivery.attempts >= MAX_ATTEMPTS:
        values.update(state="abandoned", last_error=error[:200])
        log.error("backchannel_logout.abandoned client_id=%s sid=%s attempts=%d error=%s", client_id,
                  delivery.session_id, delivery.attempts, error)
    else:
        values.update(next_attempt_at=at + timedelta(seconds=BACKOFF[delivery.attempts - 1]), last_error=error[:200])
        log.warning("backchannel_logout.failed client_id=%s sid=%s attempt=%d error=%s", client_id,
                    delivery.session_id, delivery.attempts, error)
    # Only while the claim is still ours: after the lease another worker may own the row.
    db.session.execute(update(LogoutDelivery)
                       .where(LogoutDelivery.id == delivery.id, LogoutDelivery.claim_id == delivery.claim_id)
                       .values(**values).execution_options(synchronize_session=False))
    db.session.commit()


# --- the delivery thread ---------------------------------------------------------------------------

class _Worker:
    """One application's delivery thread in this process (started again in a forked worker process,
    which inherits no threads). Woken after a commit that queued notices; else it polls."""

    def __init__(self, app: Flask):
        self._app = app
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._pid = None

    def ensure_running(self) -> None:
        if self._pid == os.getpid() and self._thread is not None and self._thread.is_alive():
            return  # the common case, at every request: no lock taken
        with self._lock:
            if self._pid == os.getpid() and self._thread is not None and self._thread.is_alive():
                return
            self._pid = os.getpid()
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="backchannel-logout", daemon=True)
            self._thread.start()

    def wake(self) -> None:
        self.ensure_running()
        self._wake.set()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._wake.set()
        thread = self._thread
        if thread is not None and thread.is_alive():
            thread.join(timeout)

    def _run(self) -> None:
        interval = self._app.config["BACKCHANNEL_LOGOUT_POLL_INTERVAL"]
        while not self._stop.is_set():
            self._wake.clear()
            try:
                with self._app.app_context():
                    deliver_pending()
            except Exception:
                # The thread must outlive any one failure (the database away, say): the next poll retries.
                log.exception("backchannel_logout.worker_error")
            self._wake.wait(interval)


_workers: "weakref.WeakSet[_Worker]" = weakref.WeakSet()


def _worker(app: Flask) -> _Worker:
    worker = app.extensions.get("backchannel_logout_worker")
    if worker is None:
        worker = app.extensions.setdefault("backchannel_logout_worker", _Worker(app))
        _workers.add(worker)
    return worker


def wake(app: Flask) -> None:
    """Notices were committed: deliver them now (when this process runs a delivery thread).

    Only a process serving requests does: a command (``flask users set-password``, ``deactivate``)
    exits as soon as it is done, and a thread it started would claim the notices and die with the
    process, holding them for the claim's lease. The servers' threads send them at their next poll.
    """
    if app.config["BACKCHANNEL_LOGOUT_WORKER"] and has_request_context():
        _worker(app).wake()


def ensure_worker(app: Flask) -> None:
    """Start this process's delivery thread, if configured and not running (at each request: cheap)."""
    if app.config["BACKCHANNEL_LOGOUT_WORKER"]:
        _worker(app).ensure_running()


def stop_worker(app: Flask, timeout: float = 10.0) -> None:
    worker = app.extensions.get("backchannel_logout_worker")
    if worker is not None:
        worker.stop(timeout)


# --- front-channel logout --------------------------------------------------------------------------

def frontchannel_frames(session_id: uuid.UUID) -> list[str]:
    """The URIs to render in frames for an ended session (OpenID Connect Front-Channel Logout §2):
    with ``iss`` and ``sid`` when the application registered frontchannel_logout_session_required."""
    issuer = current_app.config["ISSUER"]
    frames = []
    for _, application in _signed_in_to([session_id], Application.frontchannel_logout_uri):
        uri = application.frontchannel_logout_uri
        if _origin(uri) is None:
            log.warning("frontchannel_logout.bad_uri client_id=%s", application.client_id)
            continue
        if application.frontchannel_logout_session_required:
            uri = add_params_to_uri(uri, [("iss", issuer), ("sid", str(session_id))])
        frames.append(uri)
    return frames


def _origin(uri: str) -> str | None:
    """The origin of an http(s) URI as a CSP source expression, or None if it is not one."""
    try:
        parts = urlsplit(uri)
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    origin = f"{parts.scheme}://{host}" + (f":{port}" if port else "")
    return origin if _ORIGIN.match(origin) else None


def signed_out_page(session_id: uuid.UUID | None, continue_to: str | None = None, status: int = 200):
    """The logged-out page with the front-channel frames of an ended session, continuing to
    ``continue_to`` once they loaded; None when no application of the session asked for a frame."""
    frames = frontchannel_frames(session_id) if session_id is not None else []
    if not frames:
        return None
    response = current_app.make_response((render_template(
        "oauth/logged_out.html", frames=frames, continue_to=continue_to, wait_ms=FRAME_WAIT_MS), status))
    origins = sorted({_origin(uri) for uri in frames})
    # Exactly the applications' origins may be framed here; everything else stays as on every page.
    response.headers["Content-Security-Policy"] = f"{CONTENT_SECURITY_POLICY}; frame-src {' '.join(origins)}"
    return response
