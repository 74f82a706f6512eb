"""`make run` from nothing and again: the first start migrates an empty database, bootstraps and
serves; the next one, on a database at head, serves without running Alembic at all."""

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from ..helpers import free_port
from ..helpers import make_run
from ..helpers import require
from ..helpers import reset_postgres
from ..helpers import stop_make_run
from ..helpers import wait_until
from ..helpers import wait_until_up

ROOT = Path(__file__).resolve().parents[2]
ADMIN_PASSWORD = "the super admin passphrase for a fresh start"
# What Alembic logs whenever it runs (app/__init__.py leaves its runtime's INFO lines on).
ALEMBIC_RAN = "alembic.runtime.migration"


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_database(request, tmp_path) -> str:
    """A database no migration has touched."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'fresh.sqlite3'}"
    url = os.environ.get("TEST_MIGRATIONS_DATABASE_URL")
    require(bool(url), "TEST_MIGRATIONS_DATABASE_URL is not set")
    reset_postgres(url)
    return url


def start_and_sign_in(settings: dict, log) -> None:
    port = free_port()
    process = make_run(settings, port, log)
    try:
        url = f"http://127.0.0.1:{port}"
        assert requests.get(f"{url}/health", timeout=10).json() == {"status": "ok"}
        assert requests.get(f"{url}/.well-known/jwks.json", timeout=10).json()["keys"]  # bootstrap made a key
        signed_in = requests.post(f"{url}/api/v1/auth/login", timeout=10,
                                  json={"email": "admin@admin.com", "password": ADMIN_PASSWORD})
        assert signed_in.status_code == 200, signed_in.text  # and the super admin
    finally:
        stop_make_run(process)


def test_the_first_start_migrates_and_the_next_does_not(empty_database, secrets_config, tmp_path):
    settings = {**secrets_config, "DATABASE_URL": empty_database, "SUPERADMIN_PASSWORD": ADMIN_PASSWORD}
    first, second = tmp_path / "first.log", tmp_path / "second.log"

    start_and_sign_in(settings, first)
    assert "Running upgrade  -> 865652c55660" in first.read_text()  # from nothing to head
    assert "schema.upgraded" in first.read_text()

    start_and_sign_in(settings, second)
    assert ALEMBIC_RAN not in second.read_text() and "schema.upgraded" not in second.read_text()
    assert "Super admin admin@admin.com exists." in second.read_text()

    # Keys sealed with another secret: the start stops before serving, with one line saying why.
    inherited = {key: value for key, value in os.environ.items() if key not in ("DATABASE_URL", "REDIS_URL")}
    wrong = {**settings, "KEY_ENCRYPTION_SECRET": "not the secret the keys were sealed with, at all"}
    refused = subprocess.run([sys.executable, "wsgi.py", "--port", str(free_port())], cwd=ROOT, timeout=120,
                             env={**inherited, **wrong}, capture_output=True, text=True)
    assert refused.returncode == 1 and "Traceback" not in refused.stderr
    assert "Error: KEY_ENCRYPTION_SECRET does not open the stored signing keys" in refused.stderr


def test_the_workers_end_when_the_serving_process_is_killed(empty_database, secrets_config, tmp_path):
    """SIGKILL (or the OOM killer) on the process that forked the workers: they stop too, never serving
    on as orphans that hold the port."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    inherited = {key: value for key, value in os.environ.items() if key not in ("DATABASE_URL", "REDIS_URL")}
    settings = {**inherited, **secrets_config, "DATABASE_URL": empty_database, "ISSUER": url,
                "SUPERADMIN_PASSWORD": ADMIN_PASSWORD}
    log = tmp_path / "server.log"
    with open(log, "w") as output:
        process = subprocess.Popen([sys.executable, "wsgi.py", "--port", str(port)], cwd=ROOT, env=settings,
                                   stdout=output, stderr=output, start_new_session=True)
    try:
        wait_until_up(url, process, log)
        workers = Path(f"/proc/{process.pid}/task/{process.pid}/children").read_text().split()
        assert workers
        process.send_signal(signal.SIGKILL)
        process.wait()
        wait_until(lambda: not any(Path(f"/proc/{worker}").exists() for worker in workers))
    finally:
        with contextlib.suppress(ProcessLookupError):  # what is left of the group, if the test failed
            os.killpg(process.pid, signal.SIGKILL)


def test_a_stop_while_the_workers_are_forked_ends_the_server(empty_database, secrets_config, tmp_path):
    """SIGTERM as the second worker is being forked (a stop right after a start): the worker gets it
    before Granian has set its own handlers. The server ends anyway; it used to wait for that worker
    forever (5 stops in 6). At worst a stuck worker is killed after serve.WORKERS_KILL_TIMEOUT."""
    from app.serve import WORKERS_KILL_TIMEOUT

    inherited = {key: value for key, value in os.environ.items() if key not in ("DATABASE_URL", "REDIS_URL")}
    settings = {**inherited, **secrets_config, "DATABASE_URL": empty_database, "SUPERADMIN_PASSWORD": ADMIN_PASSWORD}
    for attempt in range(3):
        port = free_port()
        log = tmp_path / f"stop-{attempt}.log"
        with open(log, "w") as output:
            process = subprocess.Popen([sys.executable, "wsgi.py", "--port", str(port), "--workers", "2"], cwd=ROOT,
                                       env={**settings, "ISSUER": f"http://127.0.0.1:{port}"}, stdout=output,
                                       stderr=output, start_new_session=True)
        try:
            deadline = time.monotonic() + 120
            while "Spawning worker-2" not in log.read_text():  # polled tightly: the moment is brief
                assert process.poll() is None and time.monotonic() < deadline, log.read_text()
                time.sleep(0.002)
            process.send_signal(signal.SIGTERM)
            assert process.wait(timeout=WORKERS_KILL_TIMEOUT + 10) == 0, log.read_text()
        finally:
            with contextlib.suppress(ProcessLookupError):  # what is left of the group, if the test failed
                os.killpg(process.pid, signal.SIGKILL)


def test_two_first_starts_at_once_both_serve(empty_database, secrets_config, tmp_path):
    """Two servers started together on an empty database (a deployment of two machines): one
    migrates, the other waits for it; both serve, neither fails."""
    inherited = {key: value for key, value in os.environ.items() if key not in ("DATABASE_URL", "REDIS_URL")}
    started = []
    try:
        for name in ("one", "two"):
            port = free_port()
            url = f"http://127.0.0.1:{port}"
            settings = {**inherited, **secrets_config, "DATABASE_URL": empty_database, "ISSUER": url,
                        "SUPERADMIN_PASSWORD": ADMIN_PASSWORD}
            log = tmp_path / f"{name}.log"
            with open(log, "w") as output:
                process = subprocess.Popen([sys.executable, "wsgi.py", "--port", str(port)], cwd=ROOT, env=settings,
                                           stdout=output, stderr=output, start_new_session=True)
            started.append((url, process, log))
        for url, process, log in started:
            wait_until_up(url, process, log)
            assert "Traceback" not in log.read_text()
            assert requests.get(f"{url}/.well-known/jwks.json", timeout=10).json()["keys"]
    finally:
        for _, process, _ in started:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=20)
