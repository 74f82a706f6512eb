"""The processes the bench starts (each in its own process group, all ended on exit, Ctrl-C or
failure), and what it reads about processes from /proc: CPU time, PSS, the machine's CPU split."""

import os
import signal
import subprocess
from pathlib import Path

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
_started: list[subprocess.Popen] = []


def spawn(command: list, **options) -> subprocess.Popen:
    """Start a command in a process group of its own; stop_all() ends it if nothing else does."""
    process = subprocess.Popen([str(part) for part in command], start_new_session=True, **options)
    _started.append(process)
    return process


def stop(process: subprocess.Popen, timeout: float = 20) -> None:
    """End a started process and everything in its group (server workers, wrk, node, redis)."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            break
        try:
            process.wait(timeout)
            break
        except subprocess.TimeoutExpired:
            continue
    if process in _started:
        _started.remove(process)


def stop_all() -> None:
    for process in reversed(list(_started)):
        stop(process)


def on_termination() -> None:
    """Ctrl-C, SIGTERM and SIGHUP unwind (even where SIGINT was ignored, as in a background job), so
    that the finally blocks end what was started."""
    def interrupt(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, interrupt)


def descendants(pid: int) -> list[int]:
    """pid and every process below it."""
    found = [pid]
    for children in Path(f"/proc/{pid}/task").glob("*/children"):
        try:
            for child in children.read_text().split():
                found += descendants(int(child))
        except OSError:
            continue
    return found


def cpu_ticks(roots: list[int]) -> int:
    """User + system clock ticks used so far by the process trees under roots."""
    total = 0
    for pid in {p for root in roots for p in descendants(root)}:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total


def machine_ticks() -> tuple[int, int, int]:
    """From /proc/stat: (busy ticks without softirq and steal, softirq, steal) over all cores."""
    fields = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields[:8]
    return user + nice + system + irq, softirq, steal


def pss_mib(root: int) -> float:
    """Proportional set size summed over a process tree: pages shared between the master and its
    workers counted once in total, split between the processes that map them."""
    kib = 0
    for pid in descendants(root):
        try:
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    kib += int(line.split()[1])
        except OSError:
            continue
    return kib / 1024
