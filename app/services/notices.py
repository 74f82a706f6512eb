"""Change notices: every process learns at once that applications or signing keys changed.

Each process keeps the applications it has looked up and the key ring in memory. A change made
anywhere (a request in another worker, an instance on another machine, a CLI command run as its
own process) is announced on its topic once committed; every process holding a copy drops it and
reads the database again on next use. The periodic version checks (CLIENT_CACHE_CHECK_INTERVAL,
KEY_RING_CHECK_INTERVAL) stay as a safety net for a notice that never arrives.

- With REDIS_URL: Redis pub/sub, one channel per Redis database. A process listens in one daemon
  thread per Redis URL, started on first use and shared by every application object of the
  process; the first use waits (briefly) for the subscription. Pub/sub keeps nothing for a
  subscriber that is away, so each resubscription after a lost connection drops every cache:
  notices may have been missed meanwhile.
- Without Redis (one machine): a generation file per topic beside the SQLite database (in the
  instance folder for another database). An announcement appends one byte; a cache compares the
  file's inode, size and mtime on use, one ``os.stat``. The size only grows, so two changes
  within one tick of the file system clock still read as two.
"""

import logging
import os
import secrets
import threading
import time
import weakref
from collections.abc import Callable
from pathlib import Path

import redis
from flask import Flask
from redis.backoff import NoBackoff
from redis.retry import Retry
from sqlalchemy.engine import make_url

log = logging.getLogger(__name__)

Callback = Callable[[], None]
# Waits between attempts to reach Redis again, doubling from the first to the last.
RETRY_DELAYS = (0.1, 2.0)
# How long the first use of an application object waits for its subscription.
SUBSCRIBE_WAIT = 2.0
# The Redis client name of a listening connection, followed by its process id.
LISTENER_NAME = "idp-notices-"


class Channel:
    """One topic as a cache sees it: listen to it, poll it on use, announce a change on it."""

    def __init__(self, hub: "_Hub", topic: str):
        self._hub = hub
        self.topic = topic

    def listen(self, callback: Callback) -> None:
        """Call ``callback`` (from any thread) whenever the topic may have changed."""
        self._hub.callbacks.setdefault(self.topic, []).append(callback)

    def poll(self) -> None:
        """On cache use: deliver a change announced since the last poll (cheap; no database)."""
        self._hub.poll(self.topic)

    def announce(self) -> None:
        """After a committed change: tell every other process and application object (the
        caller has already dropped its own copy)."""
        self._hub.announce(self.topic)


def init_app(app: Flask) -> None:
    """Set up the application's notices; needs the Redis handle of ``app.extensions``."""
    app.extensions["change_notices"] = _Hub(app)


def channel(app: Flask, topic: str) -> Channel:
    """The channel of ``topic`` for ``app``."""
    return Channel(app.extensions["change_notices"], topic)


def close(app: Flask) -> None:
    """Stop listening for ``app`` (an application object is disposed of, as in the tests)."""
    hub = app.extensions.get("change_notices")
    if hub is not None and hub.redis_url:
        _subscriber(hub.redis_url).leave(hub)
        hub.listening_in = None


class _Hub:
    """The notices of one application object: its callbacks by topic, and how notices travel."""

    def __init__(self, app: Flask):
        self.callbacks: dict[str, list[Callback]] = {}
        self.redis_url: str | None = app.config["REDIS_URL"]
        self.publisher: redis.Redis | None = app.extensions["redis"]
        self.listening_in: int | None = None  # the process whose subscriber delivers to this hub
        self.folder, self.prefix = _generation_files(app)
        self.seen: dict[str, tuple | None] = {}
        self.random_origin = secrets.token_hex(8)

    @property
    def origin(self) -> str:
        """Names this hub's own announcements on Redis. With the process id: the workers are
        forked with a copy of this hub, and each must hear the others' announcements."""
        return f"{self.random_origin}.{os.getpid()}"

    def fire(self, topic: str) -> None:
        for callback in self.callbacks.get(topic, ()):
            callback()

    def receive(self, data: bytes) -> None:
        topic, _, origin = data.decode().partition(" ")
        if origin != self.origin:
            self.fire(topic)

    def fire_all(self) -> None:
        for topic in list(self.callbacks):
            self.fire(topic)

    def poll(self, topic: str) -> None:
        if self.redis_url:
            # A worker forked from a process that listened has no subscriber thread: it joins its own.
            if self.listening_in != os.getpid():
                self.listening_in = os.getpid()
                _subscriber(self.redis_url).join(self)
            return
        mark = _mark(self._file(topic))
        if self.seen.setdefault(topic, mark) != mark:
            self.seen[topic] = mark
            self.fire(topic)

    def announce(self, topic: str) -> None:
        if self.publisher is not None:
            try:
                self.publisher.publish(_channel_name(self.publisher), f"{topic} {self.origin}")
            except redis.RedisError as error:
                log.warning("notices.announce_failed topic=%s error=%s; other processes see the change "
                            "at their next periodic check", topic, type(error).__name__)
            return
        path = self._file(topic)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            descriptor = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                os.write(descriptor, b".")
                after = os.fstat(descriptor)
            finally:
                os.close(descriptor)
            # Skip our own byte, unless another process's came since the last poll: those wait.
            seen = self.seen.get(topic)
            if after.st_size == (seen[1] if seen else 0) + 1:
                self.seen[topic] = (after.st_ino, after.st_size, after.st_mtime_ns)
        except OSError as error:
            log.warning("notices.announce_failed topic=%s error=%s; other processes see the change "
                        "at their next periodic check", topic, error)

    def _file(self, topic: str) -> Path:
        return self.folder / f"{self.prefix}{topic}-changes"


def _generation_files(app: Flask) -> tuple[Path, str]:
    """Where the generation files live: beside an SQLite file, whoever opens it; else instance/."""
    url = make_url(app.config["SQLALCHEMY_DATABASE_URI"])
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        database = Path(url.database).resolve()
        return database.parent, database.name + "."
    return Path(app.instance_path), ""


def _mark(path: Path) -> tuple | None:
    try:
        status = os.stat(path)
    except OSError:
        return None
    return status.st_ino, status.st_size, status.st_mtime_ns


def _channel_name(client: redis.Redis) -> str:
    # Pub/sub channels span every database of a server; the one in REDIS_URL scopes the notices
    # like the rest of the server's keys.
    return f"idp:changes:{client.connection_pool.connection_kwargs.get('db', 0)}"


_subscribers: dict[tuple[int, str], "_Subscriber"] = {}
_subscribers_lock = threading.Lock()


def _subscriber(url: str) -> "_Subscriber":
    # Keyed by process id too: a worker forked from a parent that listened starts its own thread.
    with _subscribers_lock:
        return _subscribers.setdefault((os.getpid(), url), _Subscriber(url))


class _Subscriber:
    """One listening thread per Redis URL and process; it ends when no application listens."""

    def __init__(self, url: str):
        self.url = url
        self.hubs: weakref.WeakSet[_Hub] = weakref.WeakSet()
        self.lock = threading.Lock()
        self.running = False
        self.subscribed = threading.Event()

    def join(self, hub: _Hub) -> None:
        with self.lock:
            self.hubs.add(hub)
            if not self.running:
                self.running = True
                self.subscribed.clear()
                threading.Thread(target=self._run, name="change-notices", daemon=True).start()
        # Caches are read only once notices can arrive; with Redis away, they are read anyway
        # and the periodic checks cover the gap until the subscription.
        self.subscribed.wait(SUBSCRIBE_WAIT)

    def leave(self, hub: _Hub) -> None:
        with self.lock:
            self.hubs.discard(hub)

    def _listeners(self) -> list[_Hub] | None:
        """The hubs to deliver to; None (and the thread must end) when there are none."""
        with self.lock:
            if not self.hubs:
                self.running = False
                return None
            return list(self.hubs)

    def _run(self) -> None:
        # No retries inside redis-py: a lost connection surfaces here, to be logged and retried.
        # Named after its process, so that Redis's CLIENT LIST shows which processes listen.
        client = redis.Redis.from_url(self.url, socket_connect_timeout=2, socket_timeout=5,
                                      health_check_interval=10, retry=Retry(NoBackoff(), 0),
                                      client_name=f"{LISTENER_NAME}{os.getpid()}")
        delay = RETRY_DELAYS[0]
        try:
            while self._listeners() is not None:
                pubsub = client.pubsub()
                try:
                    pubsub.subscribe(_channel_name(client))
                    while self._listeners() is not None:
                        message = pubsub.get_message(timeout=1.0)
                        # Read after the wait: a hub that joined during it gets this message too.
                        hubs = self._listeners()
                        if message is None or hubs is None:
                            continue
                        delay = RETRY_DELAYS[0]
                        _deliver(message, hubs)
                        if message["type"] == "subscribe":
                            self.subscribed.set()
                    return
                except redis.RedisError as error:
                    self.subscribed.clear()
                    log.warning("notices.redis_unavailable error=%s; listening again in %.1f s",
                                type(error).__name__, delay)
                    time.sleep(delay)
                    delay = min(delay * 2, RETRY_DELAYS[1])
                finally:
                    pubsub.close()
        finally:
            client.close()


def _deliver(message: dict, hubs: list[_Hub]) -> None:
    for hub in hubs:
        try:
            if message["type"] == "subscribe":
                # (Re)subscribed: whatever was announced while away is lost, so forget everything.
                hub.fire_all()
            elif message["type"] == "message":
                hub.receive(message["data"])
        except Exception:  # a failing cache must not stop notices to the others
            log.exception("notices.callback_failed")
