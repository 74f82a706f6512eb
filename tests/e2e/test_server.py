"""The production server for real: `make run` (Granian serving the app), driven over HTTP with requests."""

import re
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from sqlalchemy import select

from app.extensions import db
from app.models import VerificationCode
from app.services import accounts
from app.services import verification

from ..helpers import free_port
from ..helpers import make_run
from ..helpers import stop_make_run

ADMIN_PASSWORD = "the super admin passphrase for e2e"


@pytest.fixture
def server(app, backend, tmp_path, request):
    """The server exactly as `make run` starts it, on the test backend: one worker process with threads on
    SQLite, two workers forked from the process that loaded the app with Redis. Parametrised
    indirectly, it gets these settings on top."""
    port = free_port()
    settings = {key: value for key, value in backend.config.items() if value}
    extra = getattr(request, "param", {})
    process = make_run({**settings, "SUPERADMIN_PASSWORD": ADMIN_PASSWORD, **extra}, port,
                       tmp_path / "make-run.log")
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        stop_make_run(process)


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
    assert me["email"] == "admin@admin.com" and [role["name"] for role in me["roles"]] == ["superAdmin", "user"]
    assert me["roleId"] == me["roles"][0]["id"]
    health = requests.get(f"{server}/admin/health")
    assert health.status_code == 200 and health.json()["status"] == "ok"

    logout_page = browser.get(f"{server}/logout")
    browser.post(f"{server}/logout", data={"csrf_token": csrf(logout_page.text)})
    assert browser.get(f"{server}/currentuser").status_code == 401


def test_a_chunked_body_over_the_limit_is_refused_not_cut(server):
    """A body without Content-Length (chunked) past MAX_CONTENT_LENGTH: 413, as with a declared length,
    never its first megabyte taken for the whole; one within the limit is read whole."""
    def chunked(*parts):
        return requests.post(f"{server}/api/v1/auth/login", data=iter(parts), timeout=30,
                             headers={"Content-Type": "application/x-www-form-urlencoded"})

    assert chunked(b"x=", *[b"a" * 100_000] * 20, b"&email=a@b.c").status_code == 413
    assert chunked(b"x=", *[b"a" * 100_000] * 5, b"&email=a@b.c").status_code == 415  # read whole: not JSON


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


def in_parallel(count: int, send) -> list[requests.Response]:
    """``send()`` from ``count`` threads released together by a barrier, each on its own connection."""
    barrier = threading.Barrier(count)

    def one(_):
        barrier.wait()
        return send()

    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(one, range(count)))


def test_parallel_wrong_passwords_never_pass_the_account_limit(server):
    """Waves of 24 simultaneous wrong passwords for one account: at most one is checked at a time,
    so exactly LOGIN_RATE_LIMIT_ACCOUNT (10) are ever checked (401); the rest answer 429; then the
    right password does not sign in either."""
    login = f"{server}/api/v1/auth/login"
    checked, busy = 0, []
    for _ in range(12):  # every wave checks at least one password until the account is locked
        answers = in_parallel(24, lambda: requests.post(
            login, json={"email": "admin@admin.com", "password": "not the admin password"}))
        statuses = [answer.status_code for answer in answers]
        assert set(statuses) <= {401, 429}
        checked += statuses.count(401)
        if checked < 10:  # not locked yet: each 429 says the account was busy, try again in a second
            busy += [answer for answer in answers if answer.status_code == 429]
        if 401 not in statuses:
            break
    assert checked == 10
    assert busy and all(answer.headers["Retry-After"] == "1" for answer in busy)
    assert all(answer.headers["Content-Type"] == "application/problem+json" for answer in busy)
    right = requests.post(login, json={"email": "admin@admin.com", "password": ADMIN_PASSWORD})
    assert right.status_code == 429 and "Set-Cookie" not in right.headers


# The brute-force limits raised out of the way: how many wrong codes a wave gets checked (rather
# than refused by the account hold) depends on the machine's speed, and the right code must be
# refused by the code's own attempt count, not by a limit the wrong ones used up.
@pytest.mark.parametrize("server", [{"LOGIN_RATE_LIMIT_IP": "1000 per minute",
                                     "LOGIN_RATE_LIMIT_ACCOUNT": "1000 per minute"}], indirect=True)
def test_parallel_wrong_reset_codes_never_pass_the_code_attempts(app, server):
    """Waves of 20 simultaneous wrong reset codes: the code's stored attempts never exceed
    CODE_MAX_ATTEMPTS (5), and once they reach it the right code is refused too."""
    with app.app_context():
        admin_id = accounts.find_by_email("admin@admin.com").id
        code = verification.issue(admin_id, "password_reset")
    wrong = "000000" if code != "000000" else "111111"

    def attempts() -> int:
        with app.app_context():
            return db.session.scalar(select(VerificationCode.attempts).where(
                VerificationCode.user_id == admin_id, VerificationCode.purpose == "password_reset"))

    def reset(guess: str) -> requests.Response:
        return requests.post(f"{server}/api/v1/auth/password/reset",
                             json={"email": "admin@admin.com", "code": guess, "password": "a brand new passphrase 42"})

    for _ in range(8):  # every wave checks at least one code until the code is dead
        statuses = {answer.status_code for answer in in_parallel(20, lambda: reset(wrong))}
        assert statuses <= {400, 429}
        assert attempts() <= 5
        if attempts() == 5:
            break
    assert attempts() == 5
    dead = reset(code)
    assert dead.status_code == 400 and attempts() == 5
