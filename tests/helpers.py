"""Test helpers: the real login form, CSRF tokens, what an OAuth client does (authorize, exchange,
refresh, introspect), and a TCP proxy that can cut a dependency."""

import base64
import json
import os
import re
import selectors
import signal
import socket
import subprocess
import sys
import threading
import time

import pytest
import redis
import sqlalchemy as sa

from app.services import mailer
from oauth.clients import DEFAULT_SCOPE

CI = os.environ.get("CI", "").lower() == "true"
CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')
CONSENT_ACTION = re.compile(r'<form method="post" action="(/oauth/authorize/[^"]+)"')


def require(condition: bool, reason: str) -> None:
    """Skip when ``condition`` is false, except under CI, where the run fails instead."""
    if not condition:
        if CI:
            pytest.fail(f"CI=true and {reason}")
        pytest.skip(reason)


def reset_postgres(url: str) -> None:
    engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg2://", 1))
    with engine.begin() as connection:
        connection.execute(sa.text("DROP SCHEMA public CASCADE"))
        connection.execute(sa.text("CREATE SCHEMA public"))
    engine.dispose()


# For tests of PostgreSQL and Redis themselves, which have no SQLite twin.
production_only = pytest.mark.parametrize("backend", ["postgresql"], indirect=True)


def csrf_token(html: str) -> str:
    match = CSRF.search(html)
    assert match, "the page has no CSRF token"
    return match.group(1)


class AuthActions:
    """Signs in and out through the real pages, CSRF token included."""

    def __init__(self, client):
        self.client = client

    def login(self, email, password, next_path=None, **headers):
        page = self.client.get("/login")
        form = {"csrf_token": csrf_token(page.text), "email": email, "password": password,
                "next": next_path or ""}
        return self.client.post("/login", data=form, headers=headers)

    def logout(self):
        page = self.client.get("/logout")
        return self.client.post("/logout", data={"csrf_token": csrf_token(page.text)})


class Browser:
    """A test client signed in through the login page, sending the page's CSRF token on changes."""

    def __init__(self, app, user, **headers):
        self.http = app.test_client()
        response = AuthActions(self.http).login(user.email, user.password, **headers)
        assert response.status_code == 303, response.text
        self.token = csrf_token(self.http.get("/logout").text)

    def get(self, path):
        return self.http.get(path)

    def send(self, method, path, json=None, csrf=True):
        headers = {"X-CSRFToken": self.token} if csrf else {}
        return self.http.open(path, method=method, json=json, headers=headers)

    def session_id(self):
        return self.http.get("/currentuser").get_json()["session"]["id"]


class PrivateRedis:
    """A redis-server of this test alone, on a free loopback port, without persistence."""

    def __init__(self):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process = None
        self.start()

    def start(self):
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        probe = redis.Redis(port=self.port, socket_connect_timeout=1)
        for _ in range(100):  # readiness, not timing: wait until it answers
            try:
                probe.ping()
                return
            except redis.ConnectionError:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def stop(self):
        self.process.terminate()
        self.process.wait(timeout=10)

    def restart(self):
        self.stop()
        self.start()

    def client(self) -> redis.Redis:
        return redis.Redis(port=self.port)


class TcpProxy:
    """Forwards 127.0.0.1:<port> to a real server; ``cut()`` drops every connection and
    refuses new ones until ``restore()``, like a dependency that went away and came back."""

    def __init__(self, target_host: str, target_port: int):
        self.target = (target_host, target_port)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.cut_off = threading.Event()
        self.pairs: list[tuple[socket.socket, socket.socket]] = []
        self.lock = threading.Lock()
        self.closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self.closed:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if self.cut_off.is_set():
                client.close()
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            with self.lock:
                self.pairs.append((client, upstream))
            threading.Thread(target=self._pump, args=(client, upstream), daemon=True).start()

    def _pump(self, client, upstream):
        selector = selectors.DefaultSelector()
        selector.register(client, selectors.EVENT_READ, upstream)
        selector.register(upstream, selectors.EVENT_READ, client)
        try:
            while not self.cut_off.is_set():
                for key, _ in selector.select(timeout=0.2):
                    data = key.fileobj.recv(65536)
                    if not data:
                        return
                    key.data.sendall(data)
        except OSError:
            return
        finally:
            selector.close()
            for sock in (client, upstream):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                sock.close()

    def cut(self):
        self.cut_off.set()
        with self.lock:
            pairs, self.pairs = self.pairs, []
        for client, upstream in pairs:
            for sock in (client, upstream):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def restore(self):
        self.cut_off.clear()

    def close(self):
        self.closed = True
        self.cut()
        self.listener.close()


class AuthorizationRequest:
    """An authorization code request as a client makes it: state, nonce and a fresh S256 pair,
    and the checks a client makes on the way back (state and iss)."""

    def __init__(self, client, scope="openid profile email", redirect_uri=None, issuer="http://localhost:5000",
                 **extra):
        import base64
        import hashlib
        import secrets
        self.client = client
        self.issuer = issuer
        self.redirect_uri = redirect_uri or client.redirect_uris[0]
        self.state = secrets.token_urlsafe(16)
        self.nonce = secrets.token_urlsafe(16)
        self.verifier = secrets.token_urlsafe(48)
        challenge = base64.urlsafe_b64encode(hashlib.sha256(self.verifier.encode()).digest()).rstrip(b"=").decode()
        self.params = {"response_type": "code", "client_id": client.client_id, "redirect_uri": self.redirect_uri,
                       "scope": scope, "state": self.state, "nonce": self.nonce, "code_challenge": challenge,
                       "code_challenge_method": "S256", **extra}
        self.params = {key: value for key, value in self.params.items() if value is not None}

    @property
    def url(self):
        from urllib.parse import urlencode
        return "/oauth/authorize?" + urlencode(self.params)

    def callback(self, location: str) -> dict:
        """The query of a redirect back to the client, after checking it is ours, with state and iss."""
        from urllib.parse import parse_qs
        from urllib.parse import urlsplit
        assert location.startswith(self.redirect_uri + "?"), location
        query = {key: values[0] for key, values in parse_qs(urlsplit(location).query).items()}
        assert query.get("state") == self.state, query
        assert query.get("iss") == self.issuer, query  # RFC 9207
        return query


class Receiver:
    """The aiosmtpd handler: keeps each message, after ``delay`` seconds (a slow mail server)."""

    def __init__(self, received: list, delay: float = 0):
        self.received, self.delay = received, delay

    async def handle_DATA(self, server, session, envelope):
        import asyncio
        from email import message_from_bytes
        from email import policy
        await asyncio.sleep(self.delay)
        self.received.append(message_from_bytes(envelope.content, policy=policy.default))
        return "250 Message accepted for delivery"


class Mailbox:
    """Messages received by the test SMTP server (aiosmtpd, through ``handler``), newest last.

    The server mails after the request, from a background sender: reading the messages first waits
    until every watched application has delivered (or failed) all it queued, so "no mail" is known
    for certain and a message that is still on its way is never missed.
    """

    def __init__(self, delay: float = 0):
        self.received = []
        self.apps = []
        self.handler = Receiver(self.received, delay)

    def watch(self, app) -> None:
        self.apps.append(app)

    def settle(self) -> None:
        """Wait for the watched applications' pending mail."""
        for app in self.apps:
            assert mailer.wait_until_idle(app, timeout=30), "mail still pending after 30 s"

    @property
    def messages(self) -> list:
        self.settle()
        return self.received

    def clear(self):
        self.received.clear()

    def to(self, address: str) -> list:
        return [message for message in self.messages if message["To"] == address]

    def last_code(self, address: str) -> str:
        """The code in the latest message to ``address``."""
        found = self.to(address)
        assert found, f"no message to {address}; got {[message['To'] for message in self.messages]}"
        text = found[-1].get_body(preferencelist=("plain",)).get_content()
        match = re.search(r"^\s+(\d{6})\s*$", text, re.MULTILINE)
        assert match, text
        return match.group(1)


# --- the account API and pages ------------------------------------------------------------------------

FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
STRONG_PASSWORD = "plum tractor origami lantern 42"
# What an application acting on the account API asks for, and what it is registered with.
ACCOUNT_SCOPES = "openid profile email account"
ACCOUNT_CLIENT_SCOPE = DEFAULT_SCOPE + " account"


# --- what an OAuth client does, through a Flask test client ---------------------------------------

def token_request(http, application, **form):
    """POST /oauth/token as ``application``: the secret in Basic auth, or client_id alone if public.
    Members given as None are left out."""
    form = {key: value for key, value in form.items() if value is not None}
    if application.public:
        return http.post("/oauth/token", data={**form, "client_id": application.client_id})
    return http.post("/oauth/token", data=form, auth=(application.client_id, application.client_secret))


def exchange(http, application, request: AuthorizationRequest, code: str, changes: dict | None = None):
    """The code exchange for ``request``'s code, with its redirect URI and PKCE verifier; ``changes``
    replaces members (None leaves one out)."""
    return token_request(http, application, **{
        "grant_type": "authorization_code", "code": code, "redirect_uri": request.redirect_uri,
        "code_verifier": request.verifier, **(changes or {})})


def get_code(signed_in, application, scope="openid profile email", **extra):
    """An authorization code for a client that skips consent: the request and the code."""
    request = AuthorizationRequest(application, scope=scope, **extra)
    response = signed_in.get(request.url)
    assert response.status_code == 302, response.text
    return request, request.callback(response.headers["Location"])["code"]


def refresh(http, application, refresh_token: str, **changes):
    return token_request(http, application, grant_type="refresh_token", refresh_token=refresh_token, **changes)


def introspect(http, resource_server, token: str) -> dict:
    """RFC 7662 introspection as ``resource_server``; the answer's JSON (always 200, no-store)."""
    response = http.post("/oauth/introspect", data={"token": token},
                         auth=(resource_server.client_id, resource_server.client_secret))
    assert response.status_code == 200, response.get_json()
    assert response.headers["Cache-Control"] == "no-store"
    return response.get_json()


INACTIVE = {"active": False}


def revoke(http, application, token, **form):
    """RFC 7009 revocation as ``application`` (Basic auth, or client_id alone if public)."""
    if application.public:
        return http.post("/oauth/revoke", data={"token": token, "client_id": application.client_id, **form})
    return http.post("/oauth/revoke", data={"token": token, **form},
                     auth=(application.client_id, application.client_secret))


def grant_tokens(signed_in, application, scope="openid profile email") -> dict:
    """Authorization code flow with PKCE for a signed-in test client, allowing on the consent page
    when it is shown; the token response's JSON."""
    request = AuthorizationRequest(application, scope=scope)
    response = signed_in.get(request.url)
    if response.status_code == 200:  # the consent page, unless consent was given before
        action = CONSENT_ACTION.search(response.text).group(1)
        response = signed_in.post(action, data={"csrf_token": csrf_token(response.text), "decision": "allow"})
    assert response.status_code == (303 if response.request.method == "POST" else 302), response.text
    response = exchange(signed_in, application, request, request.callback(response.headers["Location"])["code"])
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def claims_of(jwt: str) -> tuple[dict, dict]:
    """A JWT's header and claims, unverified (tests check what a client would read)."""
    def part(text):
        return json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
    header, payload, _ = jwt.split(".")
    return part(header), part(payload)


# --- the ways a password changes (each returns the HTTP answer or the CLI result) ----------------------

NEW_PASSWORD = "a brand new and lengthy passphrase"


def change_on_the_account_page(app, client, user, mailbox):
    page = client.get("/account/password")
    return client.post("/account/password", data={"csrf_token": csrf_token(page.text),
                                                  "current_password": user.password,
                                                  "new_password": NEW_PASSWORD})


def change_through_the_api(app, client, user, mailbox):
    token = csrf_token(client.get("/account").text)
    return client.post("/api/v1/me/password", json={"currentPassword": user.password, "newPassword": NEW_PASSWORD},
                       headers={"X-CSRFToken": token})


def reset_by_code(app, client, user, mailbox):
    anonymous = app.test_client()
    anonymous.post("/api/v1/auth/password/forgot", json={"email": user.email})
    body = {"email": user.email, "password": NEW_PASSWORD, "code": mailbox.last_code(user.email)}
    return anonymous.post("/api/v1/auth/password/reset", json=body)


def set_on_the_command_line(app, client, user, mailbox):
    return app.test_cli_runner().invoke(args=["users", "set-password", "--email", user.email,
                                              "--password", NEW_PASSWORD])


def start_smtp(mailbox: "Mailbox"):
    """A real SMTP server (aiosmtpd) on a free loopback port delivering into ``mailbox``; the
    controller (stop it) and the port. aiosmtpd checks its own port at start, so it needs a real one."""
    from aiosmtpd.controller import Controller
    port = free_port()
    controller = Controller(mailbox.handler, hostname="127.0.0.1", port=port)
    controller.start()
    return controller, port


# --- real servers -------------------------------------------------------------------------------------

def free_port() -> int:
    """A loopback port nobody listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# What a shell that runs `make run` must not pass on: the test chooses the backend and the Makefile the workers.
_NOT_INHERITED = ("DATABASE_URL", "REDIS_URL", "WORKERS", "THREADS", "MAKEFLAGS", "MAKELEVEL", "MFLAGS")


def make_run(settings: dict, port: int, log) -> subprocess.Popen:
    """Start the server exactly as `make run` does (one process migrates if behind, bootstraps and serves;
    one worker on SQLite, two with Redis), on ``port``, its output in the file ``log``; stop it with
    ``stop_make_run``."""
    inherited = {key: value for key, value in os.environ.items() if key not in _NOT_INHERITED}
    env = {**inherited, **settings, "ISSUER": f"http://127.0.0.1:{port}"}
    with open(log, "a") as output:
        # -o: the test's virtualenv is already installed; BIN: run its python.
        process = subprocess.Popen(["make", "--no-print-directory", "-o", ".venv/.installed", "run", f"PORT={port}",
                                    f"BIN={os.path.dirname(sys.executable)}"],
                                   cwd=ROOT, env=env, stdout=output, stderr=output, start_new_session=True)
    wait_until_up(f"http://127.0.0.1:{port}", process, log)
    return process


def stop_make_run(process: subprocess.Popen) -> None:
    """Stop make, the server and its workers: one process group."""
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def wait_until_up(url: str, process, log) -> None:
    """Wait for a started server's /health; fail with its log if it exits or never answers."""
    import requests
    for _ in range(600):
        if process.poll() is not None:
            break
        try:
            if requests.get(f"{url}/health", timeout=1).status_code == 200:
                return
        except requests.RequestException:  # not listening yet, or workers still booting
            pass
        time.sleep(0.1)
    pytest.fail("the server did not start: " + log.read_text())


def wait_until(condition, seconds: float = 20.0) -> None:
    """Poll ``condition`` until it holds; fail after ``seconds``."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail("condition not met in time")
        time.sleep(0.05)


def audit_events(app, *actions: str) -> list:
    """The audit log's events, oldest first, with one of ``actions`` (all but sign-ins when none)."""
    from sqlalchemy import select

    from app.extensions import db
    from app.models import AuditEvent

    with app.app_context():
        query = select(AuditEvent).order_by(AuditEvent.created_at, AuditEvent.id)
        if actions:
            query = query.where(AuditEvent.action.in_(actions))
        else:
            query = query.where(AuditEvent.action.notlike("signin.%"))
        events = list(db.session.scalars(query))
        db.session.expunge_all()
        return events
