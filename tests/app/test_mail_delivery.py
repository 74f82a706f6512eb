"""Mail goes out after the request: a slow mail server costs no request anything, so the time an
answer takes cannot tell whether a message was due (whether an address has an account).

The mail server here holds every message for DELAY seconds before accepting it; each request must
answer before one such delay has passed, whether it queued a message or not, and the message must
still arrive. DELAY is far above what a request costs, so this checks where delivery happens, not
how fast anything is.
"""

import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
import requests
from sqlalchemy import event
from sqlalchemy import select

from app.extensions import db
from app.models import VerificationCode

from ..helpers import AuthActions
from ..helpers import Mailbox
from ..helpers import csrf_token
from ..helpers import free_port
from ..helpers import start_smtp
from ..helpers import wait_until_up

DELAY = 1.5
WRITES = {"INSERT", "UPDATE", "DELETE"}
API = "/api/v1/auth"


@pytest.fixture(scope="module")
def slow_smtp():
    mailbox = Mailbox(delay=DELAY)
    controller, port = start_smtp(mailbox)
    yield SimpleNamespace(port=port, mailbox=mailbox)
    controller.stop()


@pytest.fixture
def slow(make_app, slow_smtp):
    """An app whose mail server takes DELAY seconds per message, and that server's mailbox."""
    slow_smtp.mailbox.clear()
    slow_smtp.mailbox.apps.clear()
    app = make_app(MAIL_PORT=slow_smtp.port)
    slow_smtp.mailbox.watch(app)
    yield SimpleNamespace(app=app, mailbox=slow_smtp.mailbox)
    slow_smtp.mailbox.apps.clear()


def timed(request, *args, **kwargs):
    started = time.monotonic()
    response = request(*args, **kwargs)
    return response, time.monotonic() - started


def subjects(mailbox, address):
    return [message["Subject"] for message in mailbox.to(address)]


def test_forgot_answers_before_the_mail_goes_out(slow, make_user):
    user = make_user()
    client = slow.app.test_client()
    for email in (user.email, "nobody@example.com"):
        response, took = timed(client.post, f"{API}/password/forgot", json={"email": email})
        assert response.status_code == 202 and response.get_json() == {"status": "sent_if_registered"}
        assert took < DELAY, f"{email}: {took:.2f} s"
    assert subjects(slow.mailbox, user.email) == ["Reset your password"]
    assert slow.mailbox.to("nobody@example.com") == []


def test_forgot_page_answers_before_the_mail_goes_out(slow, make_user):
    user = make_user()
    client = slow.app.test_client()
    token = csrf_token(client.get("/password/forgot").text)
    for email in (user.email, "nobody@example.com"):
        response, took = timed(client.post, "/password/forgot", data={"csrf_token": token, "email": email})
        assert response.status_code == 303
        assert took < DELAY, f"{email}: {took:.2f} s"
    assert subjects(slow.mailbox, user.email) == ["Reset your password"]


def test_verification_resend_answers_before_the_mail_goes_out(slow, make_user):
    waiting, verified = make_user(verified=False), make_user()
    client = slow.app.test_client()
    for email in (waiting.email, verified.email, "nobody@example.com"):
        response, took = timed(client.post, f"{API}/verify/resend", json={"email": email})
        assert response.status_code == 202 and response.get_json() == {"status": "sent_if_waiting"}
        assert took < DELAY, f"{email}: {took:.2f} s"
    assert subjects(slow.mailbox, waiting.email) == ["Confirm your email address"]
    assert slow.mailbox.to(verified.email) == []


def test_verification_resend_page_answers_before_the_mail_goes_out(slow, make_user):
    waiting = make_user(verified=False)
    client = slow.app.test_client()
    for email in (waiting.email, "nobody@example.com"):
        token = csrf_token(client.get(f"/verify-email?email={email}").text)
        response, took = timed(client.post, "/verify-email/resend",
                               data={"csrf_token": token, "email": email, "next": ""})
        assert response.status_code == 303 and "Retry-After" not in response.headers
        assert took < DELAY, f"{email}: {took:.2f} s"
    assert subjects(slow.mailbox, waiting.email) == ["Confirm your email address"]


def test_email_change_answers_before_the_mail_goes_out_for_a_taken_and_a_free_address(slow, make_user):
    """A taken address gets no code (one mail: the notice), a free one two mails: neither waits."""
    taker, other, owner = make_user(), make_user(), make_user()
    for user, new_email in ((taker, owner.email), (other, "free@example.com")):
        client = slow.app.test_client()
        assert AuthActions(client).login(user.email, user.password).status_code == 303
        token = csrf_token(client.get("/logout").text)
        response, took = timed(client.post, "/api/v1/me/email", json={"email": new_email, "password": user.password},
                               headers={"X-CSRFToken": token})
        assert response.status_code == 202 and response.get_json()["pendingEmail"] == new_email
        assert took < DELAY, f"{new_email}: {took:.2f} s"
    notice = "A new email address was requested for your account"
    assert subjects(slow.mailbox, taker.email) == [notice]
    assert subjects(slow.mailbox, other.email) == [notice]
    assert subjects(slow.mailbox, "free@example.com") == ["Confirm your new email address"]
    assert slow.mailbox.to(owner.email) == []


@pytest.mark.parametrize("path, verified", [("/password/forgot", True), ("/verify/resend", False)],
                         ids=["forgot", "resend"])
def test_a_registered_address_writes_what_an_unknown_one_writes(app, make_user, mailbox, path, verified):
    """Not only the mail: the code's row is written after the request too, so the request itself
    writes to the database the same (nothing) for an address with an account waiting for a code as
    for none. (Reads differ only by the found account's eagerly loaded roles.)"""
    user = make_user(verified=verified)
    client, request_thread, seen = app.test_client(), threading.get_ident(), []

    def record(connection, cursor, statement, parameters, context, executemany):
        if threading.get_ident() == request_thread and statement.split()[0].upper() in WRITES:
            seen.append(statement)

    with app.app_context():
        engine = db.engine
    # The first request loads the key ring: a warm-up takes that out of the comparison.
    assert client.post(f"{API}{path}", json={"email": "warm-up@example.com"}).status_code == 202
    event.listen(engine, "before_cursor_execute", record)
    try:
        runs = []
        for email in (user.email, "nobody@example.com"):
            seen.clear()
            assert client.post(f"{API}{path}", json={"email": email}).status_code == 202
            runs.append(list(seen))
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert runs[0] == runs[1] == []
    assert len(mailbox.to(user.email)) == 1


def test_a_code_issued_after_the_request_runs_from_the_request(clock, slow, make_user):
    """The sender may reach a queued reset late (here: behind another message to a slow server,
    while a minute passes); the code's resend window and lifetime still run from the request."""
    first, second = make_user(), make_user()
    client = slow.app.test_client()
    asked = time.time()
    for user in (first, second):
        assert client.post(f"{API}/password/forgot", json={"email": user.email}).status_code == 202
    clock.shift(61)
    assert len(slow.mailbox.to(second.email)) == 1
    with slow.app.app_context():
        code = db.session.scalar(select(VerificationCode).where(VerificationCode.user_id == second.id))
        assert code.sent_at.timestamp() == asked
        assert (code.expires_at - code.sent_at).total_seconds() == slow.app.config["EMAIL_CODE_TTL"]


# --- a stopping process delivers what it queued ------------------------------------------------------

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


@pytest.fixture
def environment(backend, slow):
    """The settings of a separate process on the test database, mailing to the slow server."""
    settings = {key: str(value) for key, value in backend.config.items() if value}
    return {**os.environ, **settings, "FLASK_APP": "wsgi", "MAIL_SERVER": "127.0.0.1",
            "MAIL_PORT": str(slow.app.config["MAIL_PORT"]), "MAIL_DEFAULT_SENDER": "idp@example.com"}


def test_a_command_delivers_its_mail_before_it_exits(environment, slow, make_user):
    """`flask users set-password` queues the owner's notice and ends at once: the exit waits for it."""
    user = make_user()
    done = subprocess.run([BIN / "flask", "users", "set-password", "--email", user.email, "--password",
                           "plum tractor origami lantern 42"], cwd=ROOT, env=environment, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert [message["Subject"] for message in slow.mailbox.received] == ["Your password was changed"]


def test_a_gunicorn_worker_delivers_its_mail_when_stopped(environment, slow, make_user, tmp_path):
    """SIGTERM right after a reset request: the worker sends the queued code before it exits (a
    slower mail server here, so that nothing else in the exit could have waited long enough)."""
    user = make_user()
    slow.mailbox.handler.delay = 6
    port = free_port()
    log = tmp_path / "gunicorn.log"
    with open(log, "w") as output:
        process = subprocess.Popen(
            [BIN / "gunicorn", "--bind", f"127.0.0.1:{port}", "--workers", "1", "--threads", "2", "wsgi:app"],
            cwd=ROOT, env={**environment, "ISSUER": f"http://127.0.0.1:{port}"}, stdout=output, stderr=output)
    try:
        wait_until_up(f"http://127.0.0.1:{port}", process, log)
        response = requests.post(f"http://127.0.0.1:{port}{API}/password/forgot", json={"email": user.email},
                                 timeout=10)
        assert response.status_code == 202
    finally:
        process.terminate()
        process.wait(timeout=30)
        slow.mailbox.handler.delay = DELAY
    assert [message["Subject"] for message in slow.mailbox.received] == ["Reset your password"], log.read_text()
