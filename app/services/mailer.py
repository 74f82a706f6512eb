"""Outgoing mail: text and HTML from templates; SMTP when MAIL_SERVER is set, else the log.

Mail goes out after the request, from a small sender per application (a bounded queue and one
worker thread), so that a request costs the same whether or not it sends a message: the mail
server's latency would otherwise tell who has an account (forgot, resend, email change). The
request only queues what to send; rendering and delivery happen in the worker, inside an app
context. A failed delivery is logged and runs the caller's ``on_failure`` there (a code becomes
resendable at once); the answer the request gave does not change. Only ``wait=True`` (the sign-in
code, asked for after a right password) delivers inside the request and raises MessageNotSent.
"""

import atexit
import logging
import os
import smtplib
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable
from uuid import UUID

from flask import Flask
from flask import current_app
from flask import render_template
from flask_mail import Message

from ..clock import now
from ..extensions import mail
from . import verification
from .errors import MessageNotSent
from .errors import ResendTooSoon

log = logging.getLogger(__name__)
security = logging.getLogger("security")
outbox = logging.getLogger("mail")

# An idle worker ends after this long; the next mail starts a new one.
IDLE_SECONDS = 5.0


class _Delivery:
    """One message to send: its address, template and context, and what to do if it fails."""

    def __init__(self, to: str, subject: str, template: str, context: dict, user_id: UUID | None,
                 on_failure: Callable[[], None] | None):
        self.to, self.subject, self.template, self.context = to, subject, template, context
        self.user_id, self.on_failure = user_id, on_failure

    def __call__(self) -> None:
        """Render and deliver; MessageNotSent (logged with ids only, never the code) if delivery fails."""
        config = current_app.config
        text = render_template(f"mail/{self.template}.txt", subject=self.subject, issuer=config["ISSUER"],
                               **self.context)
        if not config["MAIL_SERVER"]:
            # Development: no mail server, so the message (and any code in it) is written to the log.
            outbox.info("mail to=%s subject=%r\n%s", self.to, self.subject, text)
            return
        html = render_template(f"mail/{self.template}.html", subject=self.subject, issuer=config["ISSUER"],
                               **self.context)
        try:
            mail.send(Message(self.subject, recipients=[self.to], body=text, html=html))
        except (smtplib.SMTPException, OSError) as error:
            log.error("mail.failed template=%s user_id=%s error=%s", self.template, self.user_id,
                      type(error).__name__)
            raise MessageNotSent() from None

    def in_background(self) -> None:
        try:
            self()
        except MessageNotSent:
            if self.on_failure is not None:
                self.on_failure()


class _CodeDelivery(_Delivery):
    """A code issued and mailed after the request (``send_code_after``)."""

    def __init__(self, to: str, subject: str, template: str, user_id: UUID, purpose: str,
                 on_failure: Callable[[], None]):
        super().__init__(to, subject, template, {}, user_id, on_failure)
        # The code's resend window and lifetime run from the request, however long the queue was.
        self.purpose, self.requested_at = purpose, now()

    def in_background(self) -> None:
        try:
            code = verification.issue(self.user_id, self.purpose, at=self.requested_at)
        except ResendTooSoon:
            # The code sent moments ago stands; the answer was the same either way.
            security.info("code.resend_too_soon purpose=%s user_id=%s", self.purpose, self.user_id)
            return
        self.context = {"code": code, "expires_in": verification.lifetime_text(self.purpose)}
        super().in_background()


class _Sender:
    """One application's queue of deliveries and its worker thread.

    The thread starts with the first mail (and again in a forked worker process, which inherits no
    threads) and ends after IDLE_SECONDS without mail, so an idle application holds no thread.
    """

    def __init__(self, app: Flask):
        self._app = app
        self._size = app.config["MAIL_QUEUE_SIZE"]
        self._jobs: deque[_Delivery] = deque()
        self._changed = threading.Condition()
        self._pending = 0  # queued or being delivered
        self._running = False
        self._pid = os.getpid()

    def submit(self, delivery: _Delivery) -> bool:
        """Queue ``delivery``; False when the queue is full."""
        with self._changed:
            if self._pid != os.getpid():  # a forked child: the parent delivers what it queued
                self._jobs.clear()
                self._pending, self._running, self._pid = 0, False, os.getpid()
            if self._pending >= self._size:
                return False
            self._jobs.append(delivery)
            self._pending += 1
            if not self._running:
                self._running = True
                threading.Thread(target=self._work, name="mail-sender", daemon=True).start()
            self._changed.notify_all()
        return True

    def _work(self) -> None:
        while True:
            with self._changed:
                if not self._jobs:
                    self._changed.wait(IDLE_SECONDS)
                if not self._jobs:
                    self._running = False
                    return
                delivery = self._jobs.popleft()
            try:
                with self._app.app_context():
                    delivery.in_background()
            except Exception:
                # The worker must outlive any one message (an outage in on_failure's database, say).
                log.exception("mail.background_error template=%s user_id=%s", delivery.template, delivery.user_id)
            finally:
                with self._changed:
                    self._pending -= 1
                    self._changed.notify_all()

    def wait_until_idle(self, timeout: float) -> bool:
        """Wait until everything queued was delivered or failed; False if ``timeout`` ran out first."""
        with self._changed:
            if self._pid != os.getpid():
                return True
            return self._changed.wait_for(lambda: self._pending == 0, timeout)

    @property
    def pending(self) -> int:
        return self._pending if self._pid == os.getpid() else 0


_senders: "weakref.WeakSet[_Sender]" = weakref.WeakSet()


def _sender(app: Flask) -> _Sender:
    sender = app.extensions.get("mail_sender")
    if sender is None:
        sender = app.extensions.setdefault("mail_sender", _Sender(app))
        _senders.add(sender)
    return sender


def wait_until_idle(app: Flask, timeout: float = 10.0) -> bool:
    """Wait until ``app`` has delivered (or failed) every mail it queued; False on timeout."""
    return _sender(app).wait_until_idle(timeout)


@atexit.register
def flush_at_exit() -> None:
    """A stopping process (a server's worker, the end of a command) delivers what it queued, within
    MAIL_FLUSH_TIMEOUT (below the server's graceful timeout); what is left is logged and lost."""
    senders = [sender for sender in list(_senders) if sender.pending]
    if not senders:
        return
    deadline = time.monotonic() + max(sender._app.config["MAIL_FLUSH_TIMEOUT"] for sender in senders)
    for sender in senders:
        if not sender.wait_until_idle(max(0.0, deadline - time.monotonic())):
            log.error("mail.unsent_at_exit pending=%d", sender.pending)


def send(to: str, subject: str, template: str, *, user_id: UUID | None = None,
         on_failure: Callable[[], None] | None = None, wait: bool = False, **context) -> None:
    """Mail ``mail/<template>.txt`` and ``.html`` after the request; ``on_failure`` runs if delivery fails.

    ``wait=True`` delivers now and raises MessageNotSent on failure, for a flow whose answer may
    say so because it reveals nothing (the sign-in code, after a right password).
    """
    delivery = _Delivery(to, subject, template, context, user_id, on_failure)
    if wait:
        delivery()
        return
    _queue(delivery)


def _queue(delivery: _Delivery) -> None:
    if not _sender(current_app._get_current_object()).submit(delivery):
        # The answer stays the same: telling the caller would tell whether a message was due.
        log.error("mail.dropped reason=queue_full template=%s user_id=%s", delivery.template, delivery.user_id)


def send_code_after(user_id: UUID, to: str, purpose: str, template: str, subject: str,
                    on_failure: Callable[[], None] | None = None) -> None:
    """Issue a code and mail it, both after the request: for a flow that answers an address anyone
    can type the same whether or not a code is due (reset request, verification resend).

    The code's row is written by the sender too, so a request for a registered address writes
    nothing that one for an unknown address does not. Inside the resend window nothing is sent.
    """
    def unsent() -> None:
        verification.unsent(user_id, purpose)
        if on_failure is not None:
            on_failure()

    _queue(_CodeDelivery(to, subject, template, user_id, purpose, unsent))


def send_code(user_id, to: str, purpose: str, template: str, subject: str, target: str | None = None,
              on_failure: Callable[[], None] | None = None, wait: bool = False) -> None:
    """Issue a verification code and mail it (ResendTooSoon inside the window). If delivery fails the
    code becomes resendable at once and ``on_failure`` runs; with ``wait=True`` MessageNotSent follows."""
    code = verification.issue(user_id, purpose, target=target)

    def unsent() -> None:
        verification.unsent(user_id, purpose)
        if on_failure is not None:
            on_failure()

    try:
        send(to, subject, template, user_id=user_id, on_failure=unsent, wait=wait, code=code,
             expires_in=verification.lifetime_text(purpose))
    except MessageNotSent:
        unsent()
        raise
