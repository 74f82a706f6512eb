"""The production server for real: gunicorn serving wsgi:app, driven over HTTP with requests."""

import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
ADMIN_PASSWORD = "the super admin passphrase for e2e"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def server(app, backend, tmp_path):
    """`flask bootstrap`, then gunicorn with two workers, as `make run` does."""
    port = free_port()
    settings = {key: value for key, value in backend.config.items() if value}
    env = {**os.environ, **settings, "FLASK_APP": "wsgi", "SUPERADMIN_PASSWORD": ADMIN_PASSWORD,
           "ISSUER": f"http://127.0.0.1:{port}"}
    subprocess.run([BIN / "flask", "bootstrap"], cwd=ROOT, env=env, check=True, capture_output=True)
    log = tmp_path / "gunicorn.log"
    with open(log, "w") as output:
        process = subprocess.Popen(
            [BIN / "gunicorn", "--bind", f"127.0.0.1:{port}", "--workers", "2", "wsgi:app"],
            cwd=ROOT, env=env, stdout=output, stderr=output)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(url, process, log)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


def wait_until_up(url, process, log):
    for _ in range(150):
        if process.poll() is not None:
            break
        try:
            if requests.get(f"{url}/health", timeout=1).status_code == 200:
                return
        except requests.RequestException:
            time.sleep(0.1)
    pytest.fail("gunicorn did not start: " + log.read_text())


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
