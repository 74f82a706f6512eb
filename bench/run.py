"""make bench: our server beside node-oidc-provider, same loads, same run (see bench/README.md).

Default run: our server on PostgreSQL + Redis with two workers unpinned (cold start, memory, the
protocol loads) and with one worker pinned to core 1 (the protocol loads, /currentuser, userinfo,
the password sign-in), the bare argon2id verify rate, then node-oidc-provider with its Redis
adapter pinned the same way; one table at the end. Exits 1 if any answer of any load failed.

--scale: the token, introspection and /currentuser loads with 1k users, then with 1M users, 100k
applications and 10M revoked or expired token records, and the difference.
"""

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from . import loads
from . import ours
from . import seed
from .procs import cpu_ticks
from .procs import on_termination
from .procs import pss_mib
from .procs import stop
from .procs import stop_all

KIT = Path(os.environ.get("PEERS_BENCH") or ours.ROOT.parent / "shared" / "peers-bench").resolve()
WORK = Path(os.environ.get("PEERBENCH_WORK", "/tmp/peerbench-idp"))
PORT = int(os.environ.get("BENCH_PORT", "7130"))
BASE = f"http://127.0.0.1:{PORT}"
DATABASE_URL = os.environ.get("BENCH_DATABASE_URL", "postgresql://postgres:postgres@127.0.0.1:5432/idp_bench")
# Unset: the bench runs a redis-server of its own on BENCH_REDIS_PORT, pinned with the server.
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "")
# --scale: the database with the large data set, beside BENCH_DATABASE_URL's small one.
SCALE_DATABASE_URL = DATABASE_URL + "_scale"
SCALE_ROUNDS = int(os.environ.get("SCALE_ROUNDS", "3"))
REDIS_PORT = int(os.environ.get("BENCH_REDIS_PORT", "7180"))
SERVER_CPU, WRK_CPU = "1", "0"
PROTOCOL_LOADS = os.environ.get("LOADS", "token introspect jwks discovery")
# The targets: ours / node CPU per request.
TARGETS = {"token(jwt)": 1.5, "introspect": 1.5, "jwks": 2.0, "discovery": 2.0}
# Two sign-ins in flight keep the pinned core busy through each one's round trips (one leaves it idle
# 15-20% of the time; four make the hashes' 19 MiB each crowd each other out of the cache). Each wrk
# thread has one connection and its own two of the four accounts (bench/request.lua): the server
# checks one password per account at a time and answers an overlapping check with 429.
SIGN_IN_CONNECTIONS = 2
NOTHING = {"users": 0, "applications": 0, "tokens": 0}
SMALL = {"users": 1_000, "applications": 100, "tokens": 10_000}
LARGE = {"users": 1_000_000, "applications": 100_000, "tokens": 10_000_000}


def load_name(row: dict) -> str:
    return row["label"].rsplit(" ", 1)[1]


def step(text: str) -> None:
    print(f"\n== {time.strftime('%H:%M:%S')} {text}", flush=True)


class Ours:
    """One configuration of our server, started for a block of loads and always stopped after."""

    def __init__(self, env: dict, clients: dict, workers: int, pinned: bool):
        self.env, self.clients, self.workers = env, clients, workers
        self.redis_url = env["REDIS_URL"]
        self.cpus = SERVER_CPU if pinned else ""
        self.wrk_cpus = WRK_CPU if pinned else ""
        self.label = f"ours {workers}w {'pinned' if pinned else 'unpinned'}"

    def __enter__(self):
        step(f"{self.label}: starting {' '.join(str(p) for p in ours.server_command(self.workers, PORT))}")
        self.server, self.cold_ms = ours.start(self.env, KIT, self.workers, PORT, self.cpus, WORK / "server.log")
        print(f"    first 200 after {self.cold_ms} ms", flush=True)
        return self

    def settle(self) -> None:
        """Wait until the server is idle: the first 200 comes from the first worker ready, while
        the others may still be importing the application (at most 30 s)."""
        deadline, before = time.monotonic() + 30, cpu_ticks([self.server.pid])
        while time.monotonic() < deadline:
            time.sleep(0.5)
            now = cpu_ticks([self.server.pid])
            if now - before <= 1:
                return
            before = now

    def count_stores(self) -> None:
        backends, redis_pid = ours.stores(self.env["DATABASE_URL"], self.redis_url, BASE, self.clients["api"],
                                          self.cpus)
        if not REDIS_URL:  # ours: pinned with the server (a shared one is left alone)
            subprocess.run(["taskset", "-a", "-p", "-c", self.cpus or "0-1", str(redis_pid)], capture_output=True,
                           check=True)
        self.roots = [self.server.pid, *backends, redis_pid]
        print(f"    CPU counted for pids {' '.join(map(str, self.roots))} (server, PostgreSQL backends, Redis)")

    def kit(self, which: str = PROTOCOL_LOADS) -> list[dict]:
        return loads.kit_loads(KIT, WORK, self.label, BASE, self.clients["api"], self.roots, self.wrk_cpus, which)

    def wrk(self, name: str, path: str, **request) -> dict:
        conc = request.pop("conc", None) or int(loads.settings()["CONCS"].split()[0])
        return loads.wrk(f"{self.label} {name}", BASE + path, self.roots, self.wrk_cpus, conc, **request)

    def __exit__(self, *exc):
        stop(self.server)


def user_loads(server: Ours, userinfo: bool = True) -> list[dict]:
    """/currentuser with the super admin's session cookie; userinfo with its access token."""
    browser = ours.signed_in(BASE)
    rows = [server.wrk("currentuser", "/currentuser", headers=(f"Cookie: {ours.session_cookie(browser)}",))]
    if userinfo:
        token = ours.user_access_token(BASE, browser, server.clients["web"])
        rows.append(server.wrk("userinfo", "/oauth/userinfo", headers=(f"Authorization: Bearer {token}",)))
    return rows


def sign_in_load(server: Ours) -> dict:
    bodies, cookie = ours.login_form(BASE, ours.SIGN_IN_ACCOUNTS)
    return server.wrk("login", "/login", method="POST", body="\n".join(bodies), conc=SIGN_IN_CONNECTIONS,
                      threads=SIGN_IN_CONNECTIONS,
                      headers=(f"Cookie: {cookie}", "Content-Type: application/x-www-form-urlencoded"))


def peak_rss_mib(pid: int) -> str:
    """The kit's peak RSS: VmHWM summed over the process tree."""
    return subprocess.run(["bash", "-c", '. "$1/lib.sh" && peak_rss_mib "$2"', "-", KIT, str(pid)],
                          capture_output=True, text=True, check=True).stdout.strip()


def fresh(database_url: str = DATABASE_URL, redis_url: str = "") -> tuple[dict, dict]:
    redis_url = redis_url or REDIS_URL
    if not redis_url:
        _server, redis_url = ours.private_redis(REDIS_PORT, WORK / "redis")
    step(f"fresh database {database_url.rsplit('/', 1)[1]} and Redis {redis_url}; migrate, bootstrap, clients")
    ours.reset_stores(database_url, redis_url)
    env = ours.environment(database_url, redis_url, PORT)
    return env, ours.prepare(env)


def default_run() -> tuple[list[dict], dict]:
    env, clients = fresh()
    rows, figures = [], {}
    with Ours(env, clients, workers=2, pinned=False) as server:
        figures["cold_ms"] = server.cold_ms
        server.settle()
        figures["pss_idle"] = pss_mib(server.server.pid)
        server.count_stores()
        rows += server.kit() + user_loads(server)
        figures["pss_after"] = pss_mib(server.server.pid)
        rows.append(sign_in_load(server))  # argon2id's 19 MiB per hash: measured apart
        figures["pss_after_sign_in"] = pss_mib(server.server.pid)
        figures["peak_rss"] = peak_rss_mib(server.server.pid)
    with Ours(env, clients, workers=1, pinned=True) as server:
        server.settle()
        server.count_stores()
        rows += server.kit()
        rows += user_loads(server)
        rows.append(sign_in_load(server))
    step(f"bare argon2id verify, one process on core {SERVER_CPU}")
    figures["argon2"] = ours.argon2_rate(env, SERVER_CPU)
    print(f"    {figures['argon2']['per_s']:.1f} verifies/s, {figures['argon2']['cpu_us']:.0f} µs CPU each "
          f"({figures['argon2']['params']})")
    step(f"node-oidc-provider, Redis adapter, pinned (the kit's node_oidc_bench.sh from {KIT})")
    node_rows, figures["node"] = loads.node_loads(KIT, WORK, PROTOCOL_LOADS)
    return rows + node_rows, figures


def ratio(a: str, b: str) -> str:
    try:
        return f"{float(a) / float(b):.2f}x"
    except (ValueError, ZeroDivisionError):
        return "-"


def print_default(rows: list[dict], figures: dict) -> None:
    by = {(row["label"].rsplit(" ", 1)[0], load_name(row)): row for row in rows}
    mine, node, two = "ours 1w pinned", "node redis pinned", "ours 2w unpinned"
    print("\nAll rows (srv_us: server + store CPU µs per request; srv, wrk, si, st, other: cores busy; "
          "check st and other before trusting a row):")
    print("| " + " | ".join(loads.COLUMNS) + " |")
    print("|" + "---|" * len(loads.COLUMNS))
    for row in rows:
        print("| " + " | ".join(row[name] for name in loads.COLUMNS) + " |")

    print(f"\nOne worker pinned to core {SERVER_CPU} (server, PostgreSQL backends, Redis counted), wrk on core "
          f"{WRK_CPU}; node-oidc-provider the same:")
    print("| load | conc | ours req/s | ours µs/req | ours non2xx+serr | node req/s | node µs/req | node non2xx+serr "
          "| ours/node CPU | target | ours 2w unpinned req/s | st / other (ours ; node) |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    at = {(row["label"].rsplit(" ", 1)[0], load_name(row), row["conc"]): row for row in rows}
    for conc in loads.settings()["CONCS"].split():
        for load in ["token(jwt)", "introspect", "jwks", "discovery", "token(opaque)"]:
            a, b, c = (at.get((config, load, conc)) for config in (mine, node, two))
            if not (a or b):
                continue

            def cell(row, *names):
                return [row[name] if row else "-" for name in names]
            bad = [str(int(r["non2xx"]) + int(r["serr"])) if r else "-" for r in (a, b)]
            target = TARGETS.get(load)
            print(f"| {load} | {conc} | " + " | ".join([
                *cell(a, "rps", "srv_us"), bad[0], *cell(b, "rps", "srv_us"), bad[1],
                ratio(a["srv_us"], b["srv_us"]) if a and b else "-", f"≤ {target}x" if target else "(node only)",
                c["rps"] if c else "-",
                " ; ".join(f"{r['st']}/{r['other']}" if r else "-" for r in (a, b))]) + " |")

    print("\nOurs, other figures:")
    print("| figure | value | target |")
    print("|---|---:|---|")
    for load in ("currentuser", "userinfo"):
        row = by.get((mine, load))
        if row:
            print(f"| {load}: CPU µs/request (1 worker pinned; {row['rps']} req/s, "
                  f"{int(row['non2xx']) + int(row['serr'])} failed) | {row['srv_us']} | < 400 |")
    node_start = figures.get("node", {})
    print(f"| cold start: server command to first 200, 2 workers (node: {node_start.get('cold_ms', '-')} ms) "
          f"| {figures['cold_ms']} ms | < 1000 ms |")
    print(f"| PSS, 2 workers, idle | {figures['pss_idle']:.1f} MiB | |")
    print(f"| PSS, 2 workers, after the protocol loads, /currentuser and userinfo | {figures['pss_after']:.1f} MiB "
          f"| ≤ 150 MiB |")
    print(f"| PSS, 2 workers, after the sign-in load too | {figures['pss_after_sign_in']:.1f} MiB | |")
    print(f"| peak RSS summed, 2 workers, all loads (node: {node_start.get('peak_rss_mib', '-')} MiB) "
          f"| {figures['peak_rss']} MiB | |")
    login, argon2 = by.get((mine, "login")), figures["argon2"]
    if login:
        print(f"| sign-in: POST /login per s vs bare argon2id verifies per s ({argon2['params']}) "
              f"| {login['rps']} vs {argon2['per_s']:.1f} ({float(login['rps']) / argon2['per_s']:.0%}) "
              f"| ≥ 90% |")
        print(f"| sign-in: CPU µs per login vs per bare verify | {login['srv_us']} vs {argon2['cpu_us']:.0f} "
              f"({ratio(login['srv_us'], argon2['cpu_us'])}) | ≤ 1.1x |")


def scale_run() -> tuple[list[dict], dict]:
    """Two databases, one with the small data set and one with the large, seeded first; then the
    server on each in turn, SCALE_ROUNDS times, so that a drift of the machine's speed over the
    run (seeding takes a quarter of an hour) falls on both sides alike."""
    small_env, small_clients = fresh()
    notes = seed.seed(DATABASE_URL, NOTHING, SMALL)
    large_env, large_clients = fresh(SCALE_DATABASE_URL, small_env["REDIS_URL"])
    step(f"seeding {SCALE_DATABASE_URL.rsplit('/', 1)[1]} with {LARGE['users']:,} users, "
         f"{LARGE['applications']:,} applications, {LARGE['tokens']:,} token records")
    notes += seed.seed(SCALE_DATABASE_URL, NOTHING, LARGE)
    rows = []
    for round_ in range(1, SCALE_ROUNDS + 1):
        for label, env, clients in (("1k", small_env, small_clients), ("scaled", large_env, large_clients)):
            with Ours(env, clients, workers=1, pinned=True) as server:
                server.settle()
                server.count_stores()
                measured = server.kit("token introspect") + user_loads(server, userinfo=False)
            for row in measured:
                row["label"] = f"{label}#{round_} {load_name(row)}"
            rows += measured
    return rows, {"notes": notes}


def print_scale(rows: list[dict], figures: dict) -> None:
    by = {tuple(row["label"].split(" ", 1)): row for row in rows}
    print(f"\nData scale, one worker pinned: CPU µs per request with 1k users vs {LARGE['users']:,} users, "
          f"{LARGE['applications']:,} applications, {LARGE['tokens']:,} token records (target: within 10%), "
          f"{SCALE_ROUNDS} rounds, each measuring both:")
    print("| load | 1k µs/req (each round) | scaled µs/req (each round) | difference (least of each) | "
          "1k req/s | scaled req/s | st/other |")
    print("|---|---:|---:|---:|---:|---:|---|")
    for load in ("token(jwt)", "introspect", "currentuser"):
        small = [by[(f"1k#{n}", load)] for n in range(1, SCALE_ROUNDS + 1) if (f"1k#{n}", load) in by]
        large = [by[(f"scaled#{n}", load)] for n in range(1, SCALE_ROUNDS + 1) if (f"scaled#{n}", load) in by]
        if not small or len(small) != len(large):
            continue

        def listed(measured, field):
            return " ; ".join(str(row[field]) for row in measured)

        # The least CPU each side measured: whatever else the machine does only ever adds to a figure.
        change = min(float(row["srv_us"]) for row in large) / min(float(row["srv_us"]) for row in small) - 1
        print(f"| {load} | {listed(small, 'srv_us')} | {listed(large, 'srv_us')} | {change:+.1%} "
              f"| {listed(small, 'rps')} | {listed(large, 'rps')} "
              f"| {' ; '.join(row['st'] + '/' + row['other'] for row in small + large)} |")
    for note in dict.fromkeys(figures["notes"]):
        print(f"note: {note}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", action="store_true", help="the data-scale comparison instead of the default run")
    parser.add_argument("--scale-factor", type=float, default=1.0,
                        help="multiplies the large data set of --scale (e.g. 0.01 for a quick try)")
    args = parser.parse_args()
    for name in LARGE:
        LARGE[name] = max(SMALL[name], int(LARGE[name] * args.scale_factor))
    if not (KIT / "oauth_loads.sh").exists():
        raise SystemExit(f"the peer kit is not at {KIT}: set PEERS_BENCH")
    WORK.mkdir(parents=True, exist_ok=True)
    on_termination()
    began = time.monotonic()
    try:
        rows, figures = scale_run() if args.scale else default_run()
    finally:
        stop_all()
    (WORK / ("scale.json" if args.scale else "bench.json")).write_text(json.dumps({"rows": rows, **figures},
                                                                                  indent=1, default=str))
    print(f"\n{time.strftime('%Y-%m-%d %H:%M %Z')}, {os.cpu_count()} cores, the whole run took "
          f"{(time.monotonic() - began) / 60:.1f} min; raw figures in {WORK}")
    (print_scale if args.scale else print_default)(rows, figures)
    failed = [row for row in rows if int(row["non2xx"]) or int(row["serr"])]
    for row in failed:
        print(f"FAILED: {row['label']} c={row['conc']}: {row['non2xx']} non-2xx/3xx answers, {row['serr']} socket "
              f"errors", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
