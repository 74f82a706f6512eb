"""Changes made by one process take effect at once in a running server: real processes.

gunicorn serves wsgi:app; the changes come from `flask ...` commands run as separate processes,
as an operator runs them. The server's check intervals are an hour, so only a change notice
(Redis pub/sub with REDIS_URL, else the generation files beside the SQLite database) can
explain what the very next request sees.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from ..helpers import free_port
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
def server(environment, tmp_path):
    """`flask bootstrap`, then gunicorn: one worker process with threads, every request to it."""
    port = free_port()
    environment["ISSUER"] = f"http://127.0.0.1:{port}"
    flask("bootstrap", env=environment)
    yield from _serve(port, environment, tmp_path / "gunicorn.log")


@pytest.fixture
def second_server(server, environment, tmp_path):
    """Another gunicorn of the same deployment (same issuer, database and Redis) on its own port."""
    yield from _serve(free_port(), environment, tmp_path / "gunicorn-second.log")


def _serve(port, environment, log):
    with open(log, "w") as output:
        process = subprocess.Popen(
            [BIN / "gunicorn", "--bind", f"127.0.0.1:{port}", "--workers", "1", "--threads", "4", "wsgi:app"],
            cwd=ROOT, env=environment, stdout=output, stderr=output)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(url, process, log)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


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
