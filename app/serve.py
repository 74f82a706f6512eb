"""``make run`` (``python wsgi.py``): one process builds the application, brings the database to
the migrations' head (only when it is behind), runs the first-start setup, then serves with
Granian, whose worker processes are forked from this one.

The workers share the imported code and everything built at start with this process, page for
page, until they write to it: the garbage collector stays off while the application is built (wsgi.py:
no freed holes among those objects for a worker's new ones to fill) and their generation is frozen
before the fork, without a collection first (the garbage is a few hundred objects), so a collection
in a worker does not touch (and so copy) them. What is per process is
made after the fork, on first use in each worker: database connections (the pool is emptied here
first), Redis connections (redis-py opens new ones in a new process), the change-notice
subscription, the back-channel logout and mail threads.
"""

import argparse
import ctypes
import ctypes.util
import fcntl
import gc
import logging
import multiprocessing.util
import os
import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click
import sqlalchemy as sa
from flask import Flask
from sqlalchemy.engine import make_url

from . import schema
from .cli import first_start
from .extensions import db
from .services import mailer
from .services import notices

log = logging.getLogger(__name__)

# glibc's mallopt parameter: how many heaps (arenas) threads may allocate from.
M_ARENA_MAX = -8
# prctl(2): the signal this process gets when the thread that forked it ends.
PR_SET_PDEATHSIG = 1
# How long a stop waits for the workers to finish before it kills them.
WORKERS_KILL_TIMEOUT = 10
# The PostgreSQL advisory lock a start holds while it migrates and runs the first-start setup.
SETUP_LOCK = 0x69647073657475


def main(app: Flask, argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python wsgi.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5000)
    parser.add_argument("--workers", type=int, default=1, help="worker processes (more than one needs REDIS_URL)")
    parser.add_argument("--threads", type=int, default=8, help="threads running requests in each worker")
    parser.add_argument("--access-log", action=argparse.BooleanOptionalAction, default=True)
    args = parser.parse_args(argv)
    try:
        prepare(app)
    except click.ClickException as error:  # what `flask bootstrap` refuses (keys that do not open): one line
        error.show()
        sys.exit(error.exit_code)
    serve(app, args.host, args.port, args.workers, args.threads, args.access_log)


def prepare(app: Flask) -> None:
    """Migrate if behind and run the first-start setup, then leave nothing a fork must not share."""
    with app.app_context():
        with _setting_up_alone(app):
            if schema.upgrade_if_behind(app):
                log.info("schema.upgraded heads=%s", ",".join(sorted(schema.heads())))
            first_start()
        db.session.remove()
        for engine in db.engines.values():
            engine.dispose()  # each worker opens its own connections
    client = app.extensions["redis"]
    if client is not None:
        client.connection_pool.disconnect()
    notices.close(app)  # a worker subscribes on its first use
    share_one_heap()
    gc.freeze()
    gc.enable()  # off while the application was built (wsgi.py)


def share_one_heap() -> None:
    """Every thread allocates from one heap, which gives a freed large block back to the system.

    Each argon2id verify allocates its memory cost (19 MiB by default). glibc gives each thread
    that allocates at the same time as another a heap of its own and keeps the freed blocks there:
    with 8 threads per worker a burst of sign-ins left ~75 MiB per worker (measured: 172 MiB RSS in
    a process after 8 threads verified, 16 MiB with one heap, at the same CPU per verify). Making
    such blocks mappings of their own (M_MMAP_THRESHOLD) would free them too, but costs each verify
    ~11 ms more in page faults. Set before the fork, inherited by the workers. Other C libraries
    (musl) have no mallopt: nothing to do.
    """
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c"))
        libc.mallopt(M_ARENA_MAX, 1)
    except (OSError, AttributeError):
        log.info("memory.mallopt_unavailable")


@contextmanager
def _setting_up_alone(app: Flask) -> Iterator[None]:
    """Servers started at once on one database (two machines of a deployment, a restart overlapping
    the old process): one migrates and makes the first keys and super admin, the others wait for it
    and then find them, instead of creating the same tables or keys side by side and failing.
    PostgreSQL: an advisory lock on a connection of its own; an SQLite file: a lock file beside it."""
    url = make_url(app.config["SQLALCHEMY_DATABASE_URI"])
    if url.get_backend_name() == "postgresql":
        with db.engine.connect() as connection:
            connection.execute(sa.text("SELECT pg_advisory_lock(:key)"), {"key": SETUP_LOCK})
            connection.commit()  # the lock is the session's: no transaction stays open meanwhile
            try:
                yield
            finally:
                connection.execute(sa.text("SELECT pg_advisory_unlock(:key)"), {"key": SETUP_LOCK})
        return
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        yield
        return
    with open(Path(url.database).resolve().with_name(Path(url.database).name + ".setup-lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        yield


def serve(app: Flask, host: str, port: int, workers: int, threads: int, access_log: bool) -> None:
    from granian.constants import Interfaces
    from granian.server import Server

    class Stoppable(Server):
        """Granian's server, with a stop that reaches a worker forked a moment before it.

        A worker keeps this process's signal handlers until Granian sets its own, after the worker
        has loaded the application: a SIGTERM in between (a stop right after ``make run`` started)
        ran the parent's handler in the worker, which marked a stop nobody there waits for, and this
        process waited for that worker forever (measured: 5 stops of 6 sent as the second worker was
        forked hung). In a worker the handler now takes the signal's default action, which ends a
        worker that has served nothing yet. ``WORKERS_KILL_TIMEOUT`` bounds any other stuck stop."""

        def signal_handler_interrupt(self, number=signal.SIGTERM, *args, **kwargs):
            if os.getpid() == parent:
                return super().signal_handler_interrupt(number, *args, **kwargs)
            signal.signal(number, signal.SIG_DFL)
            os.kill(os.getpid(), number)

    server = Stoppable("wsgi:app", address=host, port=port, interface=Interfaces.WSGI, workers=workers,
                       blocking_threads=threads, log_access=access_log, respawn_failed_workers=True,
                       workers_kill_timeout=WORKERS_KILL_TIMEOUT)
    parent = os.getpid()
    server.serve(target_loader=lambda _target: _in_worker(app, parent))


def _end_with_parent(parent: int) -> None:
    """A worker stops (SIGTERM: gracefully) when the process that forked it dies, even by SIGKILL or
    the OOM killer, instead of serving on as an orphan nobody supervises (Linux; Granian forks the
    workers from its main thread, which lives as long as that process). A parent gone before the
    request was made is seen by the worker's parent process id."""
    if sys.platform == "linux":
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != parent:
        os.kill(os.getpid(), signal.SIGTERM)


def _in_worker(app: Flask, parent: int) -> Flask:
    """Each worker's start. The workers are forked (Linux's default start method), so the app is the one
    built here. A worker ends with ``os._exit`` (multiprocessing), which runs no ``atexit`` handler: the
    mail still queued is flushed where multiprocessing runs a process's last steps. Background threads
    registered as ``worker_starts`` (the back-channel logout delivery) start here, so a worker whose
    first requests all go to the prebuilt documents (which skip Flask's hooks) runs them too."""
    _end_with_parent(parent)
    multiprocessing.util.Finalize(None, mailer.flush_at_exit, exitpriority=0)
    with app.app_context():
        for start in app.extensions.get("worker_starts", []):
            start()
    return app
