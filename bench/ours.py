"""Our server for the bench: its database and Redis, its start command, its clients, and the
credentials the loads need (a session cookie, a user's access token, a sign-in form)."""

import base64
import hashlib
import json
import os
import re
import secrets
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import parse_qs
from urllib.parse import urlencode
from urllib.parse import urlsplit

import psycopg2
import redis
import requests

from .procs import spawn

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
PASSWORD = "benchmark super admin passphrase"
ADMIN = "admin@admin.com"
# The sign-in load takes turns between accounts: the server checks one password per account at a
# time and answers 429 to a second check of the same account that overlaps the first.
SIGN_IN_ACCOUNTS = [f"sign-in-{n}@bench.example.com" for n in range(1, 5)]
REDIRECT_URI = "http://127.0.0.1:9/callback"
# High enough never to refuse the sign-in load (the limits are per IP and per account).
NO_LOGIN_LIMIT = "1000000 per minute"


def server_command(workers: int, port: int) -> list:
    """The command `make run` serves with (the Makefile's `run` target): keep the two the same."""
    return [BIN / "python", "wsgi.py", "--port", str(port), "--workers", str(workers), "--threads", "8"]


def environment(database_url: str, redis_url: str, port: int) -> dict:
    return {
        **os.environ,
        "FLASK_APP": "wsgi",
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "ISSUER": f"http://127.0.0.1:{port}",
        "SECRET_KEY": "benchmark-secret-key-that-is-long-enough-0000",
        "KEY_ENCRYPTION_SECRET": "benchmark-key-encryption-secret-long-enough-00",
        "SUPERADMIN_EMAIL": ADMIN,
        "SUPERADMIN_PASSWORD": PASSWORD,
        "LOGIN_RATE_LIMIT_IP": NO_LOGIN_LIMIT,
        "LOGIN_RATE_LIMIT_ACCOUNT": NO_LOGIN_LIMIT,
    }


def reset_stores(database_url: str, redis_url: str) -> None:
    """A fresh bench database (dropped and created again) and an empty bench Redis db."""
    name = urlsplit(database_url).path.lstrip("/")
    if not re.fullmatch(r"\w+", name):
        raise SystemExit(f"BENCH_DATABASE_URL names no plain database: {database_url}")
    admin = psycopg2.connect(database_url.rsplit("/", 1)[0] + "/postgres")
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        cursor.execute(f"CREATE DATABASE {name}")
    admin.close()
    redis.Redis.from_url(redis_url).flushdb()


def flask(env: dict, *args: str) -> str:
    done = subprocess.run([BIN / "flask", *args], cwd=ROOT, env=env, capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"flask {' '.join(args)} failed:\n{done.stdout}{done.stderr}")
    return done.stdout


def prepare(env: dict) -> dict:
    """Migrate, bootstrap the super admin, register the clients the loads use."""
    flask(env, "db", "upgrade")
    flask(env, "bootstrap")
    for email in SIGN_IN_ACCOUNTS:
        flask(env, "users", "create", "--email", email, "--password", PASSWORD, "--verified")

    def create(*options):
        return json.loads(flask(env, "clients", "create", *options, "--json").strip().splitlines()[-1])
    return {
        # A resource server: client_credentials, and may introspect.
        "api": create("--name", "Benchmark API", "--grant-type", "client_credentials", "--introspect"),
        # A first-party web application: the code flow with PKCE, without a consent page.
        "web": create("--name", "Benchmark web", "--grant-type", "authorization_code", "--redirect-uri",
                      REDIRECT_URI, "--scope", "openid profile email", "--skip-consent"),
    }


def start(env: dict, kit: Path, workers: int, port: int, cpus: str, log: Path):
    """Start the server command (pinned to cpus if given); returns it and the ms from the start to
    its first 200 (the kit's wait_first_200, polling the discovery document)."""
    pin = ["taskset", "-c", cpus] if cpus else []
    url = f"http://127.0.0.1:{port}/.well-known/openid-configuration"
    with open(log, "ab") as output:
        began = time.time_ns()
        server = spawn([*pin, *server_command(workers, port)], cwd=ROOT, env=env, stdout=output,
                       stderr=subprocess.STDOUT)
    waited = subprocess.run(["bash", "-c", '. "$1/lib.sh" && wait_first_200 "$2" "$3"', "-", kit, url, str(began)],
                            capture_output=True, text=True)
    if waited.returncode or server.poll() is not None:
        raise SystemExit(f"the server did not answer 200 at {url}; see {log}")
    return server, int(waited.stdout.strip())


def stores(database_url: str, redis_url: str, base: str, client: dict, pin: str) -> tuple[list[int], int]:
    """The processes serving our server: the PostgreSQL backends of its connections (opened first
    by concurrent requests, pinned like the server when pin is set), and the redis-server's pid."""
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(lambda _: mint(base, client), range(64)))
    connection = psycopg2.connect(database_url)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
                       " AND backend_type = 'client backend' AND pid <> pg_backend_pid()")
        backends = [row[0] for row in cursor.fetchall()]
    connection.close()
    if pin:
        for pid in backends:
            subprocess.run(["taskset", "-p", "-c", pin, str(pid)], capture_output=True, check=True)
    return backends, int(redis.Redis.from_url(redis_url).info("server")["process_id"])


def private_redis(port: int, folder: Path):
    """A redis-server of the bench's own (nothing else's traffic counted as ours), without persistence."""
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "redis.log", "ab") as output:
        server = spawn(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly",
                        "no", "--dir", folder], stdout=output, stderr=subprocess.STDOUT)
    url = f"redis://127.0.0.1:{port}/0"
    for _ in range(100):
        try:
            redis.Redis.from_url(url).ping()
            return server, url
        except redis.ConnectionError:
            time.sleep(0.05)
    raise SystemExit(f"redis-server did not start on port {port}; see {folder / 'redis.log'}")


def mint(base: str, client: dict, **form) -> str:
    answer = requests.post(f"{base}/oauth/token", data={"grant_type": "client_credentials", **form},
                           auth=(client["client_id"], client["client_secret"]), timeout=30)
    answer.raise_for_status()
    return answer.json()["access_token"]


def login_form(base: str, emails: list[str]) -> tuple[list[str], str]:
    """Sign-in forms a load generator can post again and again: one body per account, with the
    CSRF token, and the cookie that holds the token's secret (neither expires)."""
    browser = requests.Session()
    page = browser.get(f"{base}/login", timeout=30)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page.text).group(1)
    bodies = [urlencode({"csrf_token": token, "email": email, "password": PASSWORD}) for email in emails]
    cookie = "; ".join(f"{name}={value}" for name, value in browser.cookies.items())
    return bodies, cookie


def signed_in(base: str) -> requests.Session:
    browser = requests.Session()
    bodies, cookie = login_form(base, [ADMIN])
    answer = browser.post(f"{base}/login", data=bodies[0], allow_redirects=False, timeout=30,
                          headers={"Cookie": cookie, "Content-Type": "application/x-www-form-urlencoded"})
    if answer.status_code not in (302, 303):
        raise SystemExit(f"signing in failed: HTTP {answer.status_code}")
    return browser


def session_cookie(browser: requests.Session) -> str:
    return f"idp_session={browser.cookies['idp_session']}"


def user_access_token(base: str, browser: requests.Session, client: dict) -> str:
    """The super admin's access token from the code flow with PKCE (S256), driven with requests."""
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    url = (f"{base}/oauth/authorize?" + urlencode({
        "response_type": "code", "client_id": client["client_id"], "redirect_uri": REDIRECT_URI,
        "scope": "openid profile email", "state": "bench", "code_challenge": challenge,
        "code_challenge_method": "S256"}))
    for _ in range(5):
        answer = browser.get(url, allow_redirects=False, timeout=30)
        url = answer.headers.get("Location", "")
        if url.startswith(REDIRECT_URI):
            break
        if answer.status_code not in (301, 302, 303) or not url:
            raise SystemExit(f"the authorization did not redirect back: HTTP {answer.status_code}")
        if url.startswith("/"):
            url = base + url
    else:
        raise SystemExit("the authorization did not redirect back within 5 hops")
    code = parse_qs(urlsplit(url).query)["code"][0]
    answer = requests.post(f"{base}/oauth/token", timeout=30, auth=(client["client_id"], client["client_secret"]),
                           data={"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI,
                                 "code_verifier": verifier})
    answer.raise_for_status()
    return answer.json()["access_token"]


def argon2_rate(env: dict, cpus: str, seconds: float = 5) -> dict:
    """The bare argon2id verify rate at the project's own parameters (its settings, read from the
    same environment), in one process pinned like the server: verifies/s and CPU µs per verify."""
    sys.path.insert(0, str(ROOT))
    from app.config import load_settings
    config = load_settings(env)
    code = (
        "import sys, time\n"
        "from argon2 import PasswordHasher, Type\n"
        "m, t, p, seconds = (int(x) for x in sys.argv[1:5])\n"
        "hasher = PasswordHasher(time_cost=t, memory_cost=m, parallelism=p, type=Type.ID)\n"
        "stored = hasher.hash('benchmark password')\n"
        "count, wall, cpu = 0, time.monotonic(), time.process_time()\n"
        "while time.monotonic() - wall < seconds:\n"
        "    hasher.verify(stored, 'benchmark password')\n"
        "    count += 1\n"
        "print(count, time.monotonic() - wall, time.process_time() - cpu)\n")
    pin = ["taskset", "-c", cpus] if cpus else []
    params = [config["PASSWORD_ARGON2_MEMORY_KIB"], config["PASSWORD_ARGON2_TIME_COST"],
              config["PASSWORD_ARGON2_PARALLELISM"], seconds]
    out = subprocess.run([*pin, sys.executable, "-c", code, *map(str, params)], capture_output=True, text=True,
                         check=True).stdout.split()
    count, wall, cpu = int(out[0]), float(out[1]), float(out[2])
    return {"per_s": count / wall, "cpu_us": cpu / count * 1e6, "params": f"m={params[0]} KiB, t={params[1]}, "
            f"p={params[2]}"}
