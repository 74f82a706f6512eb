"""The production server for real: gunicorn serving wsgi:app, driven over HTTP with requests."""

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from ..helpers import free_port
from ..helpers import wait_until_up

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
ADMIN_PASSWORD = "the super admin passphrase for e2e"


@pytest.fixture
def server(app, backend, tmp_path):
    """The server exactly as `make run` starts it (migrations, bootstrap, gunicorn with the Makefile's
    flags), on the test backend: one process with threads on SQLite, two workers with Redis."""
    port = free_port()
    settings = {key: value for key, value in backend.config.items() if value}
    inherited = {key: value for key, value in os.environ.items()
                 if key not in ("REDIS_URL", "WORKERS", "THREADS", "MAKEFLAGS", "MAKELEVEL", "MFLAGS")}
    env = {**inherited, **settings, "SUPERADMIN_PASSWORD": ADMIN_PASSWORD, "ISSUER": f"http://127.0.0.1:{port}"}
    log = tmp_path / "make-run.log"
    with open(log, "w") as output:
        # -o: the test's virtualenv is already installed; BIN: run its flask and gunicorn.
        process = subprocess.Popen(["make", "--no-print-directory", "-o", ".venv/.installed", "run",
                                    f"PORT={port}", f"BIN={BIN}"],
                                   cwd=ROOT, env=env, stdout=output, stderr=output, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(url, process, log)
        yield url
    finally:
        os.killpg(process.pid, signal.SIGTERM)  # make, gunicorn and its workers: one process group
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def csrf(html: str) -> str:
    return re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html).group(1)


def test_super_admin_signs_in_and_out_over_real_http(server):
    browser = requests.Session()
    page = browser.get(f"{server}/login")
    assert page.status_code == 200 and page.headers["X-Frame-Options"] == "DENY"
    signed_in = browser.post(f"{server}/login", data={"csrf_token": csrf(page.text), "email": "admin@admin.com",
                                                      "password": ADMIN_PASSWORD, "next": ""})
    assert signed_in.status_code == 200 and signed_in.url == f"{server}/account"
    assert "admin@admin.com" in signed_in.text
    me = browser.get(f"{server}/currentuser").json()
    assert me["email"] == "admin@admin.com" and me["roles"] == ["superAdmin", "user"]
    health = requests.get(f"{server}/admin/health")
    assert health.status_code == 200 and health.json()["status"] == "ok"

    logout_page = browser.get(f"{server}/logout")
    browser.post(f"{server}/logout", data={"csrf_token": csrf(logout_page.text)})
    assert browser.get(f"{server}/currentuser").status_code == 401


def test_wrong_password_over_real_http(server):
    browser = requests.Session()
    page = browser.get(f"{server}/login")
    response = browser.post(f"{server}/login", data={"csrf_token": csrf(page.text), "email": "admin@admin.com",
                                                     "password": "not the admin password"})
    assert response.status_code == 400 and "Incorrect email address or password." in response.text


def test_the_sign_in_limit_is_exact_across_the_whole_server(server):
    """From one IP the 31st sign-in attempt in a minute is refused (LOGIN_RATE_LIMIT_IP, 30 per minute),
    whichever process or thread answers: the limit counts for the server, not per worker."""
    browser = requests.Session()
    token = csrf(browser.get(f"{server}/login").text)
    # A different unknown account each time, so only the per-IP limit applies.
    statuses = [browser.post(f"{server}/login", data={"csrf_token": token, "email": f"nobody-{n}@example.com",
                                                      "password": "not a password"}).status_code
                for n in range(31)]
    assert statuses == [400] * 30 + [429]
