"""Load benchmark: gunicorn with the production settings on PostgreSQL + Redis, loaded by wrk.

Starts its own server on a free loopback port against BENCH_DATABASE_URL / BENCH_REDIS_URL,
signs in once to get a session cookie, then runs wrk against each endpoint for a bounded
time and prints requests/s and p50/p99 latency. It fails if any response was not a success.
"""

import argparse
import base64
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
PASSWORD = "benchmark super admin passphrase"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_server(env: dict, port: int, workers: int) -> subprocess.Popen:
    subprocess.run([BIN / "flask", "db", "upgrade"], cwd=ROOT, env=env, check=True, capture_output=True)
    subprocess.run([BIN / "flask", "bootstrap"], cwd=ROOT, env=env, check=True, capture_output=True)
    server = subprocess.Popen(
        [BIN / "gunicorn", "--bind", f"127.0.0.1:{port}", "--workers", str(workers), "wsgi:app"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(200):
        try:
            if requests.get(f"http://127.0.0.1:{port}/health", timeout=1).ok:
                return server
        except requests.RequestException:
            time.sleep(0.05)
    server.terminate()
    raise SystemExit("the server did not start")


def session_cookie(base: str) -> str:
    browser = requests.Session()
    page = browser.get(f"{base}/login")
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page.text).group(1)
    browser.post(f"{base}/login", data={"csrf_token": token, "email": "admin@admin.com", "password": PASSWORD},
                 allow_redirects=False).raise_for_status()
    return f"idp_session={browser.cookies['idp_session']}"


def server_cpu_seconds(server: subprocess.Popen) -> float:
    """CPU time (user + system) used so far by the gunicorn workers, from /proc."""
    children = subprocess.run(["pgrep", "-P", str(server.pid)], capture_output=True, text=True).stdout.split()
    ticks = 0
    for pid in children:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        ticks += int(fields[11]) + int(fields[12])  # utime, stime
    return ticks / os.sysconf("SC_CLK_TCK")


def register_client(env: dict) -> dict:
    """A client_credentials client that may introspect (a resource server), made with the CLI."""
    output = subprocess.run([BIN / "flask", "clients", "create", "--name", "Benchmark API", "--grant-type",
                             "client_credentials", "--introspect", "--json"], cwd=ROOT, env=env, check=True,
                            capture_output=True, text=True).stdout
    return json.loads(output.strip().splitlines()[-1])


def post_script(folder: Path, name: str, body: str, headers: dict) -> Path:
    """A wrk Lua script that POSTs a form."""
    lines = ['wrk.method = "POST"', f"wrk.body = {json.dumps(body)}",
             'wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"']
    lines += [f"wrk.headers[{json.dumps(key)}] = {json.dumps(value)}" for key, value in headers.items()]
    path = folder / f"{name}.lua"
    path.write_text("\n".join(lines) + "\n")
    return path


def run_wrk(url: str, seconds: int, connections: int, headers: list[str], script: Path | None = None) -> dict:
    command = ["wrk", "--latency", "-t", "1", "-c", str(connections), "-d", f"{seconds}s", url]
    for header in headers:
        command[1:1] = ["-H", header]
    if script is not None:
        command[1:1] = ["-s", str(script)]
    output = subprocess.run(command, check=True, capture_output=True, text=True, timeout=seconds + 30).stdout
    requests_total = int(re.search(r"(\d+) requests in", output).group(1))
    failures = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    errors = re.search(r"Socket errors: (.*)", output)
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1)),
        "p50": re.search(r"\s50%\s+(\S+)", output).group(1),
        "p99": re.search(r"\s99%\s+(\S+)", output).group(1),
        "requests": requests_total,
        "failures": int(failures.group(1)) if failures else 0,
        "errors": errors.group(1) if errors else "",
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=10, help="duration per endpoint")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "FLASK_APP": "wsgi",
        "DATABASE_URL": os.environ.get("BENCH_DATABASE_URL", "postgresql://postgres:postgres@127.0.0.1:5432/idp_bench"),
        "REDIS_URL": os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14"),
        "ISSUER": base,
        "SECRET_KEY": "benchmark-secret-key-that-is-long-enough-0000",
        "KEY_ENCRYPTION_SECRET": "benchmark-key-encryption-secret-long-enough-00",
        "SUPERADMIN_PASSWORD": PASSWORD,
    }
    server = start_server(env, port, args.workers)
    try:
        cookie = session_cookie(base)
        client = register_client(env)
        basic = base64.b64encode(f"{client['client_id']}:{client['client_secret']}".encode()).decode()
        token = requests.post(f"{base}/oauth/token", data={"grant_type": "client_credentials"},
                              headers={"Authorization": f"Basic {basic}"}).json()["access_token"]
        scripts = Path(tempfile.mkdtemp(prefix="bench-"))
        endpoints = [
            ("POST /oauth/token (cc)", f"{base}/oauth/token", [],
             post_script(scripts, "token", "grant_type=client_credentials", {"Authorization": f"Basic {basic}"})),
            ("POST /oauth/introspect", f"{base}/oauth/introspect", [],
             post_script(scripts, "introspect", f"token={token}", {"Authorization": f"Basic {basic}"})),
            ("GET /.well-known/jwks.json", f"{base}/.well-known/jwks.json", [], None),
            ("GET /.well-known/openid-conf", f"{base}/.well-known/openid-configuration", [], None),
            ("GET /currentuser (session)", f"{base}/currentuser", [f"Cookie: {cookie}"], None),
            ("GET /health", f"{base}/health", [], None),
        ]
        print(f"{'endpoint':<30} {'req/s':>9} {'p50':>9} {'p99':>9} {'requests':>9} {'CPU/req':>9}")
        failed = False
        for name, url, headers, script in endpoints:
            cpu_before = server_cpu_seconds(server)
            result = run_wrk(url, args.seconds, args.connections, headers, script)
            cpu = (server_cpu_seconds(server) - cpu_before) / max(result["requests"], 1) * 1000
            print(f"{name:<30} {result['rps']:>9.1f} {result['p50']:>9} {result['p99']:>9} {result['requests']:>9}"
                  f" {cpu:>7.2f}ms")
            if result["failures"] or result["errors"]:
                print(f"  FAILED: {result['failures']} non-2xx/3xx, socket errors: {result['errors'] or 'none'}")
                failed = True
        return 1 if failed else 0
    finally:
        server.terminate()
        server.wait(timeout=10)


if __name__ == "__main__":
    sys.exit(main())
