"""Changes made by one process take effect at once in a running server: real processes.

The server runs as `make run` starts it (two worker processes forked from the one that loaded the
app with Redis, one on SQLite); the changes come from `flask ...` commands run as separate processes,
as an operator runs them. The server's check intervals are an hour, so only a change notice
(Redis pub/sub with REDIS_URL, else the generation files beside the SQLite database) can
explain what the very next request sees.
"""

import json
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import redis
import requests

from app.services import notices

from ..helpers import csrf_token
from ..helpers import free_port
from ..helpers import make_run
from ..helpers import production_only
from ..helpers import stop_make_run
from ..helpers import wait_until
from ..helpers import wait_until_up

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
HOUR = {"CLIENT_CACHE_CHECK_INTERVAL": "3600", "KEY_RING_CHECK_INTERVAL": "3600", "DENYLIST_SYNC_INTERVAL": "3600"}


@pytest.fixture
def environment(app, backend):
    """The settings every process of the deployment shares (``app`` empties the tables after)."""
    settings = {key: str(value) for key, value in backend.config.items() if value}
    return {**os.environ, **settings, **HOUR, "FLASK_APP": "wsgi"}


@pytest.fixture
def running(environment, tmp_path):
    """`make run`: migrations (none due), bootstrap, then the workers; its URL and its make process."""
    port = free_port()
    environment["ISSUER"] = f"http://127.0.0.1:{port}"
    process = make_run(environment, port, tmp_path / "make-run.log")
    try:
        yield SimpleNamespace(url=environment["ISSUER"], make=process)
    finally:
        stop_make_run(process)


@pytest.fixture
def server(running):
    return running.url


@pytest.fixture
def second_server(running, environment, tmp_path):
    """Another server of the same deployment (same issuer, database and Redis) on its own port,
    started with the command `make run` serves with (the setup before it finds nothing to do)."""
    port = free_port()
    log = tmp_path / "second-server.log"
    with open(log, "w") as output:
        process = subprocess.Popen([sys.executable, "wsgi.py", "--port", str(port), "--workers", "1"],
                                   cwd=ROOT, env=environment, stdout=output, stderr=output)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(url, process, log)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=20)


def flask(*args, env) -> str:
    """Run a `flask` command as its own process; its output."""
    done = subprocess.run([BIN / "flask", *args], cwd=ROOT, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return done.stdout


def create_client(env, name="API", *options) -> dict:
    return json.loads(flask("clients", "create", "--name", name, "--grant-type", "client_credentials",
                            *options, "--json", env=env))


def token_request(server, client_id, secret):
    return requests.post(f"{server}/oauth/token", data={"grant_type": "client_credentials"},
                         auth=(client_id, secret), timeout=10)


def test_a_rotated_secret_stops_at_once(server, environment):
    api = create_client(environment)
    assert token_request(server, api["client_id"], api["client_secret"]).status_code == 200  # cached now
    rotated = json.loads(flask("clients", "rotate-secret", api["client_id"], "--json", env=environment))
    refused = token_request(server, api["client_id"], api["client_secret"])
    assert refused.status_code == 401 and refused.json()["error"] == "invalid_client"
    assert token_request(server, api["client_id"], rotated["client_secret"]).status_code == 200


def test_a_deleted_application_stops_at_once(server, environment):
    api = create_client(environment)
    assert token_request(server, api["client_id"], api["client_secret"]).status_code == 200  # cached now
    flask("clients", "delete", api["client_id"], env=environment)
    refused = token_request(server, api["client_id"], api["client_secret"])
    assert refused.status_code == 401 and refused.json()["error"] == "invalid_client"


def test_a_revoked_key_stops_verifying_at_once(server, environment):
    api = create_client(environment)
    resource_server = create_client(environment, "Resource server", "--introspect")

    def introspect(token):
        return requests.post(f"{server}/oauth/introspect", data={"token": token}, timeout=10,
                             auth=(resource_server["client_id"], resource_server["client_secret"])).json()

    token = token_request(server, api["client_id"], api["client_secret"]).json()["access_token"]
    assert introspect(token)["active"] is True
    flask("keys", "rotate", "--revoke", env=environment)
    assert introspect(token) == {"active": False}
    fresh = token_request(server, api["client_id"], api["client_secret"]).json()["access_token"]
    assert introspect(fresh)["active"] is True  # signed by the successor, which the server loaded


@production_only
def test_each_forked_worker_listens_on_its_own_connection(running, environment, backend):
    """The workers are forked from the process that built the app and ran the first-start setup: each
    subscribes to the notices itself on its own connection (the parent keeps none), so a change reaches both."""
    (master,) = children(running.make.pid)  # make runs python wsgi.py, which forks the workers
    workers = children(master)
    assert len(workers) == 2
    api = create_client(environment)
    store = redis.Redis.from_url(backend.redis_url)

    def listening() -> set[int]:
        names = [client["name"] for client in store.client_list()]
        return {int(name.removeprefix(notices.LISTENER_NAME)) for name in names
                if name.startswith(notices.LISTENER_NAME)}

    def both_workers_served_a_token():  # a worker subscribes at its first token request
        assert token_request(running.url, api["client_id"], api["client_secret"]).status_code == 200
        return workers <= listening()

    wait_until(both_workers_served_a_token)
    assert master not in listening()
    flask("clients", "delete", api["client_id"], env=environment)
    for _ in range(20):  # new connections, spread over both workers
        assert token_request(running.url, api["client_id"], api["client_secret"]).status_code == 401


@production_only
def test_a_token_revoked_at_one_forked_worker_stops_at_the_other_at_once(running, environment, backend):
    """The workers are forked with a copy of the parent's notice hub: a revocation one worker commits
    must still reach the other (an hour from its next denylist read), not be taken for its own."""
    workers = children(next(iter(children(running.make.pid))))
    api = create_client(environment)
    resource_server = create_client(environment, "Resource server", "--introspect")
    store = redis.Redis.from_url(backend.redis_url)

    def introspect(token):  # a new connection each time: spread over both workers
        return requests.post(f"{running.url}/oauth/introspect", data={"token": token}, timeout=10,
                             auth=(resource_server["client_id"], resource_server["client_secret"])).json()

    token = token_request(running.url, api["client_id"], api["client_secret"]).json()["access_token"]

    def both_workers_listen():  # and both have read the denylist, with this token live
        assert introspect(token)["active"] is True
        names = {client["name"] for client in store.client_list()}
        return all(f"{notices.LISTENER_NAME}{worker}" in names for worker in workers)

    wait_until(both_workers_listen)
    assert requests.post(f"{running.url}/oauth/revoke", data={"token": token}, timeout=10,
                         auth=(api["client_id"], api["client_secret"])).status_code == 200
    for _ in range(20):
        assert introspect(token) == {"active": False}


def children(pid: int) -> set[int]:
    return {int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()}


def test_a_token_revoked_on_one_server_stops_on_another_at_once(server, second_server, environment):
    """RFC 7009 revocation at one gunicorn; the other, whose denylist read is an hour away and
    which has checked the token before, refuses it as soon as the notice arrives."""
    api = create_client(environment)
    resource_server = create_client(environment, "Resource server", "--introspect")

    def introspect(url, token):
        return requests.post(f"{url}/oauth/introspect", data={"token": token}, timeout=10,
                             auth=(resource_server["client_id"], resource_server["client_secret"])).json()

    revoked = token_request(server, api["client_id"], api["client_secret"]).json()["access_token"]
    live = token_request(server, api["client_id"], api["client_secret"]).json()["access_token"]
    assert introspect(second_server, revoked)["active"] is True  # its denylist is loaded
    assert requests.post(f"{server}/oauth/revoke", data={"token": revoked}, timeout=10,
                         auth=(api["client_id"], api["client_secret"])).status_code == 200
    assert introspect(server, revoked) == {"active": False}  # the revoking process: at once
    wait_until(lambda: introspect(second_server, revoked) == {"active": False})
    assert introspect(second_server, live)["active"] is True


PASSPHRASE = "a long enough passphrase for these tests"


def signed_in(server, env, email) -> str:
    """A user made with `flask users create`, signed in through the login form; the session cookie."""
    flask("users", "create", "--email", email, "--password", PASSPHRASE, "--verified", env=env)
    browser = requests.Session()
    token = csrf_token(browser.get(f"{server}/login", timeout=10).text)
    answer = browser.post(f"{server}/login", data={"csrf_token": token, "email": email, "password": PASSPHRASE},
                          allow_redirects=False, timeout=10)
    assert answer.status_code == 303, answer.text
    return browser.cookies["idp_session"]


def current_user(server, cookie) -> int:
    """/currentuser with the cookie, on a new connection (spread over the workers)."""
    return requests.get(f"{server}/currentuser", cookies={"idp_session": cookie}, timeout=10).status_code


def test_a_deactivation_signs_the_user_out_at_once(server, environment):
    """The server holds the session and the account in memory; `flask users deactivate`, run as
    its own process, ends both, and the very next request is refused."""
    cookie = signed_in(server, environment, "leaving@example.com")
    assert current_user(server, cookie) == 200  # cached now
    flask("users", "deactivate", "--email", "leaving@example.com", env=environment)
    assert current_user(server, cookie) == 401


@production_only
def test_a_sign_out_at_one_forked_worker_holds_at_the_other_at_once(running, environment, backend):
    """Both workers have resolved the cookie; the sign-out one of them commits is refused by the
    other on the very next request, not once its notice thread gets a turn."""
    workers = children(next(iter(children(running.make.pid))))
    cookie = signed_in(running.url, environment, "two-workers@example.com")
    store = redis.Redis.from_url(backend.redis_url)

    def both_workers_listen():  # and, after a few requests on new connections, both hold the session
        assert current_user(running.url, cookie) == 200
        names = {client["name"] for client in store.client_list()}
        return all(f"{notices.LISTENER_NAME}{worker}" in names for worker in workers)

    wait_until(both_workers_listen)
    for _ in range(6):
        assert current_user(running.url, cookie) == 200
    answer = requests.post(f"{running.url}/api/v1/auth/logout", json={}, cookies={"idp_session": cookie}, timeout=10)
    assert answer.status_code == 204
    for _ in range(20):
        assert current_user(running.url, cookie) == 401
