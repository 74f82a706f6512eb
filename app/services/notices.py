"""Change notices: every process learns at once that something it keeps in memory changed.

Each process keeps in memory the applications it has looked up, the key ring, the token denylist,
the users and the sign-in sessions it has read. A change made anywhere (a request in another
worker, an instance on another machine, a CLI command run as its own process) is announced on its
topic once committed, optionally naming what changed (ids); every process holding a copy drops it
(or just the named entries) and reads the database again on next use.

- With REDIS_URL: Redis pub/sub, one channel per Redis database. A process listens in one daemon
  thread per Redis URL, started on first use and shared by every application object of the
  process; the first use waits (briefly) for the subscription. Delivery does not wait for that
  thread: each use of a cache first delivers whatever notice has already reached the process's
  socket (one ``poll`` of it; the thread and the request read it under one lock). Redis writes a
  notice to its subscribers before it answers the PUBLISH, so once the announcing request has
  returned, a process on the same host applies it before its next cache read, and one elsewhere as
  soon as the bytes arrive. Pub/sub keeps nothing for a subscriber that is away, so each
  resubscription after a lost connection drops every cache: notices may have been missed
  meanwhile; and while the subscription is down, ``poll`` says so, and the caches that have no
  periodic check of their own (users, sessions) read the database instead. A notice that could
  not be published is kept and sent again; one lost all the same is outlived by each cache's own
  bound (its entries' lifetime, or its periodic check).
- Without Redis (one machine): a generation file per topic beside the SQLite database (in the
  instance folder for another database). An announcement appends one byte; a cache compares the
  file's inode, size and mtime on use, one ``os.stat``. The size only grows, so two changes
  within one tick of the file system clock still read as two. Files carry no ids: every entry of
  the topic is dropped.
"""

import logging
import os
import secrets
import select
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

# Called with the ids a notice names, or None: anything of the topic may have changed.
Callback = Callable[[frozenset[str] | None], None]
# Waits between attempts to reach Redis again, doubling from the first to the last.
RETRY_DELAYS = (0.1, 2.0)
# How long the first use of an application object waits for its subscription.
SUBSCRIBE_WAIT = 2.0
# The Redis client name of a listening connection, followed by its process id.
LISTENER_NAME = "idp-notices-"
# The listener PINGs Redis when it has heard nothing for this long (s), and takes a subscription
# that has heard nothing, not even the answers, for SILENCE_LIMIT as lost: until it subscribes
# again, ``poll`` says notices are not live.
HEALTH_CHECK_INTERVAL = 1
SILENCE_LIMIT = 3
# How soon a notice that could not be published is tried again (s).
RESEND_DELAY = 0.5
# How long a read waits for the rest of a message whose first bytes have arrived.
PARTIAL_WAIT = 0.5
# A notice names at most this many ids; a change of more names none (every entry is dropped).
MAX_IDS = 64


class Channel:
    """One topic as a cache sees it: listen to it, poll it on use, announce a change on it."""

    def __init__(self, hub: "_Hub", topic: str):
        self._hub = hub
        self.topic = topic

    def listen(self, callback: Callback) -> None:
        """Call ``callback`` (from any thread) whenever the topic may have changed, with the ids
        the change names (None: drop everything)."""
        self._hub.callbacks.setdefault(self.topic, []).append(callback)

    def poll(self) -> bool:
        """On cache use: deliver a change announced since the last poll (cheap; no database).
        False while notices cannot arrive (Redis unreachable): a cache that has no periodic
        check of its own must then read the database."""
        return self._hub.poll(self.topic)

    def announce(self, ids=None) -> None:
        """After a committed change: tell every other process and application object (the
        caller has already dropped its own copy); ``ids`` names what changed (strings without
        spaces or commas), None anything."""
        self._hub.announce(self.topic, ids)


class Epochs:
    """When each key of a cache was last dropped, so that a read begun before a change is not stored
    after the change dropped the key: ``start()`` before reading the database, ``unchanged(key,
    started)`` before storing, ``drop(keys)`` (None: every key) on each invalidation. Per key, so a
    change of one user or session does not throw away the loads of all others under way. The
    caller holds its own lock around all three."""

    # Past this many remembered keys, a drop counts as a drop of every key (and the memory is freed).
    LIMIT = 10000

    def __init__(self):
        self.now = 0
        self.everything = 0
        self.keys: dict[str, int] = {}

    def start(self) -> int:
        return self.now

    def unchanged(self, key: str, started: int) -> bool:
        return self.everything <= started and self.keys.get(key, 0) <= started

    def drop(self, keys) -> None:
        self.now += 1
        if keys is None or len(self.keys) + len(keys) > self.LIMIT:
            self.everything = self.now
            self.keys.clear()
            return
        for key in keys:
            self.keys[str(key)] = self.now


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
        self.subscriber: _Subscriber | None = None
        # Notices that could not be published yet, by topic: the ids, or None for everything.
        self.unsent: dict[str, frozenset[str] | None] = {}
        self.unsent_lock = threading.Lock()
        self.retry_at = 0.0
        self.folder, self.prefix = _generation_files(app)
        self.seen: dict[str, tuple | None] = {}
        self.random_origin = secrets.token_hex(8)

    @property
    def origin(self) -> str:
        """Names this hub's own announcements on Redis. With the process id: the workers are
        forked with a copy of this hub, and each must hear the others' announcements."""
        return f"{self.random_origin}.{os.getpid()}"

    def fire(self, topic: str, ids: frozenset[str] | None = None) -> None:
        for callback in self.callbacks.get(topic, ()):
            callback(ids)

    def receive(self, data: bytes) -> None:
        topic, origin, ids = (data.decode().split(" ", 2) + [""])[:3]
        if origin != self.origin:
            self.fire(topic, frozenset(ids.split(",")) if ids else None)

    def fire_all(self) -> None:
        for topic in list(self.callbacks):
            self.fire(topic)

    def poll(self, topic: str) -> bool:
        if self.redis_url:
            # A worker forked from a process that listened has no subscriber thread: it joins its own.
            if self.listening_in != os.getpid():
                self.listening_in = os.getpid()
                self.subscriber = _subscriber(self.redis_url)
                self.subscriber.join(self)
            self.send_unsent_if_due()
            return self.subscriber.catch_up()
        mark = _mark(self._file(topic))
        if self.seen.setdefault(topic, mark) != mark:
            self.seen[topic] = mark
            self.fire(topic)
        return True

    def announce(self, topic: str, ids=None) -> None:
        if self.publisher is not None:
            with self.unsent_lock:
                known = self.unsent.get(topic, frozenset())
                self.unsent[topic] = None if ids is None or known is None else known | {str(item) for item in ids}
            self._send_unsent()
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

    def send_unsent_if_due(self) -> None:
        if self.unsent and time.monotonic() >= self.retry_at:
            self._send_unsent()

    def _send_unsent(self) -> None:
        """Publish the notices not yet sent, one message per topic; what fails stays for the next
        attempt (at most every RESEND_DELAY seconds, at a cache use here or from the listening
        thread, or at the next announcement):
        a notice that never leaves would leave the other processes' caches stale until their
        entries expire."""
        with self.unsent_lock:
            pending, self.unsent = self.unsent, {}
        failed = {}
        for topic, ids in pending.items():
            named = sorted(ids) if ids is not None else []
            message = f"{topic} {self.origin}"
            if named and len(named) <= MAX_IDS:
                message += " " + ",".join(named)
            try:
                self.publisher.publish(_channel_name(self.publisher), message)
            except redis.RedisError as error:
                failed[topic] = ids
                log.warning("notices.announce_failed topic=%s error=%s; sent again at the next attempt, and the "
                            "other processes' cached entries expire meanwhile", topic, type(error).__name__)
        if failed:
            with self.unsent_lock:
                for topic, ids in failed.items():
                    known = self.unsent.get(topic, frozenset())
                    self.unsent[topic] = None if ids is None or known is None else known | ids
                self.retry_at = time.monotonic() + RESEND_DELAY

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
    """One listening thread per Redis URL and process; it ends when no application listens.

    The thread waits for the socket to be readable without reading it, then reads and delivers
    under ``reading``; a cache use (``catch_up``) does the same when it finds the socket readable,
    so a notice that has arrived is applied before the read it concerns, whichever thread gets to
    it first."""

    def __init__(self, url: str):
        self.url = url
        self.hubs: weakref.WeakSet[_Hub] = weakref.WeakSet()
        self.lock = threading.Lock()
        self.running = False
        self.subscribed = threading.Event()
        self.reading = threading.Lock()
        self.pubsub = None
        self.heard_at = 0.0
        self.broken = False  # a cache read failed on the subscription: the thread must subscribe again

    def join(self, hub: _Hub) -> None:
        with self.lock:
            self.hubs.add(hub)
            if not self.running:
                self.running = True
                self.subscribed.clear()
                threading.Thread(target=self._run, name="change-notices", daemon=True).start()
        # Caches are read only once notices can arrive; with Redis away, the caches with a periodic
        # check are read anyway (the check covers the gap), the others not at all (``poll``).
        self.subscribed.wait(SUBSCRIBE_WAIT)

    def leave(self, hub: _Hub) -> None:
        with self.lock:
            self.hubs.discard(hub)

    def catch_up(self) -> bool:
        """Deliver the notices that have reached this process; whether notices are live."""
        if not self.subscribed.is_set():
            return False
        pubsub = self.pubsub
        try:
            if pubsub is not None and (self.reading.locked() or _readable(pubsub, 0)):
                with self.reading:
                    self._drain()
        except (redis.RedisError, OSError, ValueError) as error:
            # Not live until the thread has subscribed again on a new connection (dropping every cache).
            self.subscribed.clear()
            self.broken = True
            log.warning("notices.redis_unavailable error=%s", type(error).__name__)
        return self.subscribed.is_set()

    def _listeners(self) -> list[_Hub] | None:
        """The hubs to deliver to; None (and the thread must end) when there are none."""
        with self.lock:
            if not self.hubs:
                self.running = False
                return None
            return list(self.hubs)

    def _drain(self) -> None:
        """Deliver every message read or readable now (the caller holds ``reading``)."""
        pubsub = self.pubsub
        if pubsub is None or self.broken:
            return
        while _connected(pubsub).can_read(timeout=0):
            self.heard_at = time.monotonic()
            # The rest of a message split over two packets is waited for, briefly.
            message = pubsub.get_message(timeout=PARTIAL_WAIT)
            if message is None:  # the answer to a health check
                continue
            _deliver(message, self._listeners() or [])
            if message["type"] == "subscribe":
                self.subscribed.set()

    def _run(self) -> None:
        # No retries inside redis-py: a lost connection surfaces here, to be logged and retried.
        # Named after its process, so that Redis's CLIENT LIST shows which processes listen.
        client = redis.Redis.from_url(self.url, socket_connect_timeout=2, socket_timeout=5,
                                      health_check_interval=HEALTH_CHECK_INTERVAL, retry=Retry(NoBackoff(), 0),
                                      client_name=f"{LISTENER_NAME}{os.getpid()}")
        delay = RETRY_DELAYS[0]
        try:
            while self._listeners() is not None:
                pubsub = client.pubsub()
                try:
                    with self.reading:
                        self.broken = False
                        pubsub.subscribe(_channel_name(client))
                        self.pubsub = pubsub
                    self.heard_at = time.monotonic()
                    while self._listeners() is not None:
                        # Waits without reading: a cache use may read (under the lock) meanwhile.
                        ready = _readable(pubsub, HEALTH_CHECK_INTERVAL)
                        with self.reading:
                            if not ready:
                                pubsub.check_health()  # a PING when idle: its answer proves the link
                            self._drain()
                        for hub in self._listeners() or []:
                            hub.send_unsent_if_due()  # a process that serves nothing sends them too
                        if self.broken:
                            raise redis.ConnectionError("a cache read found the subscription broken")
                        if time.monotonic() - self.heard_at > SILENCE_LIMIT:
                            # A link that drops packets without closing (a partition) is found
                            # here, not by the kernel's retransmissions minutes later.
                            raise redis.ConnectionError("no answer to the health checks")
                        if self.subscribed.is_set():
                            delay = RETRY_DELAYS[0]
                    return
                except (redis.RedisError, OSError, ValueError) as error:
                    self.subscribed.clear()
                    log.warning("notices.redis_unavailable error=%s; listening again in %.1f s",
                                type(error).__name__, delay)
                    time.sleep(delay)
                    delay = min(delay * 2, RETRY_DELAYS[1])
                finally:
                    with self.reading:
                        self.pubsub = None
                    pubsub.close()
        finally:
            client.close()


def _connected(pubsub):
    """The subscription's connection, if it is still open: redis-py would silently open a new one,
    subscribed to nothing, on the next read of a closed one."""
    connection = pubsub.connection
    if connection is None or getattr(connection, "_sock", None) is None:
        raise redis.ConnectionError("the subscription's connection is closed")
    return connection


def _readable(pubsub, timeout: float) -> bool:
    """Whether the subscription's socket has bytes to read (or the connection ended). poll(2), not
    select(2): a worker holding a thousand client connections has descriptors past select's limit."""
    poller = select.poll()
    poller.register(_connected(pubsub)._sock, select.POLLIN)
    return bool(poller.poll(timeout * 1000))


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
