"""Running loads: the peer kit's scripts (its wrk loads against us and against node-oidc-provider),
and the bench's own wrk runner for the loads the kit has no knob for (a cookie, a form post).

Every load gives one row with the kit's columns, so that all rows print in one table:
req/s, p50/p99 ms, requests, non2xx (non-2xx/3xx answers), serr (socket errors and timeouts),
srv_us (CPU µs of the server and its stores per request), then the cores busy during the measured
run: srv, wrk, si (softirq), st (steal), other (every other process on the machine)."""

import os
import re
import resource
import subprocess
import time
from pathlib import Path

from .procs import CLOCK_TICKS
from .procs import cpu_ticks
from .procs import machine_ticks
from .procs import spawn
from .procs import stop

HERE = Path(__file__).resolve().parent
COLUMNS = ["label", "conc", "rps", "p50", "p99", "requests", "non2xx", "serr", "srv_us", "srv", "wrk", "si", "st",
           "other"]


def settings() -> dict:
    """The load shape, shared with the kit through the same variables (CONCS, WARMUP_S, ...)."""
    return {
        "CONCS": os.environ.get("CONCS", "16"),
        "WARMUP_S": os.environ.get("WARMUP_S", "5"),
        "DURATION_S": os.environ.get("DURATION_S", "15"),
        "WRK_THREADS": os.environ.get("WRK_THREADS", "2"),
    }


def read_rows(path: Path) -> list[dict]:
    rows = []
    for line in path.read_text().splitlines():
        parts = line.split("\t")
        if len(parts) == len(COLUMNS):
            rows.append(dict(zip(COLUMNS, parts)))
    return rows


def kit_loads(kit: Path, work: Path, label: str, base: str, client: dict, roots: list[int], wrk_cpus: str,
              loads: str) -> list[dict]:
    """The kit's oauth_loads.sh against our server (every access token of ours is a JWT: one token
    variant, named jwt to line up with node's JWT row)."""
    results = work / f"{label.replace(' ', '-')}.tsv"
    results.unlink(missing_ok=True)
    env = {
        **os.environ, **settings(),
        "BASE_URL": base, "TOKEN_PATH": "/oauth/token", "INTROSPECT_PATH": "/oauth/introspect",
        "JWKS_PATH": "/.well-known/jwks.json", "DISCOVERY_PATH": "/.well-known/openid-configuration",
        "CLIENT_ID": client["client_id"], "CLIENT_SECRET": client["client_secret"],
        "TOKEN_VARIANTS": "jwt|grant_type=client_credentials",
        "SERVER_PID": " ".join(str(pid) for pid in roots), "LABEL": label, "WRK_CPUS": wrk_cpus,
        "RESULTS": str(results), "LOADS": loads,
    }
    run_logged([kit / "oauth_loads.sh"], env, work / f"{label.replace(' ', '-')}.log")
    return read_rows(results)


def node_loads(kit: Path, work: Path, loads: str) -> tuple[list[dict], dict]:
    """node-oidc-provider with the Redis adapter, pinned like ours, through the kit's own script
    (which installs it with npm ci and starts its own Redis): its rows and its start figures."""
    env = {**os.environ, **settings(), "NODE_CONFIGS": "redis:pinned", "PEERBENCH_WORK": str(work),
           "LOADS": loads}
    output = run_logged([kit / "node_oidc_bench.sh"], env, work / "node.log")
    found = re.search(r"^raw rows: (\S+)$", output, re.MULTILINE)
    if not found:
        raise SystemExit(f"the node bench printed no results; see {work / 'node.log'}")
    rows = read_rows(Path(found.group(1)))
    start = {}
    started = re.search(r"first 200 after (\S+) ms, RSS idle (\S+) MiB", output)
    if started:
        start = {"cold_ms": started.group(1), "rss_idle_mib": started.group(2)}
    summary = Path(found.group(1)[:-len(".tsv")] + ".summary.tsv")
    if summary.exists():
        for line in summary.read_text().splitlines():
            _label, _cold, peak, redis_peak = line.split("\t")
            start.update(peak_rss_mib=peak, redis_peak_rss_mib=redis_peak)
    return rows, start


def run_logged(command: list, env: dict, log: Path) -> str:
    """Run a kit script to the end, its output echoed and kept in log; a failure stops the bench."""
    with open(log, "w") as sink:
        process = spawn(["bash", *command], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        lines = []
        try:
            for line in process.stdout:
                sink.write(line)
                lines.append(line)
                if line.startswith(("check ok", "CHECK FAILED", "==", "wrk failed")) or "\t" in line:
                    print("   ", line.rstrip()[:160], flush=True)
            process.wait()
        finally:
            stop(process)
    if process.returncode:
        raise SystemExit(f"{command[0]} failed ({process.returncode}); see {log}")
    return "".join(lines)


def wrk(label: str, url: str, roots: list[int], wrk_cpus: str, conc: int, method: str = "GET", body: str = "",
        headers: tuple = (), threads: int | None = None) -> dict:
    """Warm up, then one measured wrk run with request.lua; the server's CPU is read from /proc."""
    shape = settings()
    threads = threads or shape["WRK_THREADS"]
    env = {**os.environ, "BENCH_METHOD": method, "BENCH_BODY": body, "BENCH_HEADERS": "\n".join(headers),
           "BENCH_THREADS": str(threads)}
    pin = ["taskset", "-c", wrk_cpus] if wrk_cpus else []

    def command(seconds):
        return [*pin, "wrk", "-t", str(threads), "-c", str(conc), "-d", f"{seconds}s",
                "--timeout", "10s", "-s", str(HERE / "request.lua"), url]

    subprocess.run(command(shape["WARMUP_S"]), env=env, capture_output=True, check=False)
    time.sleep(1)  # the requests wrk cut off at the end of the warm-up finish first
    children_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    machine_before, server_before, start = machine_ticks(), cpu_ticks(roots), time.monotonic()
    output = subprocess.run(command(shape["DURATION_S"]), env=env, capture_output=True, text=True, check=False,
                            timeout=int(shape["DURATION_S"]) + 60).stdout
    machine_after, server_after, wall = machine_ticks(), cpu_ticks(roots), time.monotonic() - start
    children_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    found = re.search(r"^BENCH (\d+) (\d+) (\d+) (\d+) (\S+) (\S+)$", output, re.MULTILINE)
    if not found:
        raise SystemExit(f"wrk gave no result for {label}: {output[-500:]}")
    count, duration_us, non2xx, socket_errors = (int(x) for x in found.groups()[:4])
    server = (server_after - server_before) / CLOCK_TICKS
    wrk_cpu = (children_after.ru_utime + children_after.ru_stime
               - children_before.ru_utime - children_before.ru_stime)
    busy = (machine_after[0] - machine_before[0]) / CLOCK_TICKS
    softirq = (machine_after[1] - machine_before[1]) / CLOCK_TICKS
    steal = (machine_after[2] - machine_before[2]) / CLOCK_TICKS
    row = {
        "label": label, "conc": str(conc), "rps": f"{count / (duration_us / 1e6):.0f}",
        "p50": found.group(5), "p99": found.group(6), "requests": str(count), "non2xx": str(non2xx),
        "serr": str(socket_errors), "srv_us": f"{server / count * 1e6:.0f}" if count else "nan",
        **{name: f"{value / wall:.2f}" for name, value in (
            ("srv", server), ("wrk", wrk_cpu), ("si", softirq), ("st", steal),
            ("other", max(0.0, busy - server - wrk_cpu)))},
    }
    print("   ", "\t".join(row[name] for name in COLUMNS), flush=True)
    return row
