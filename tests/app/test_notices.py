"""Change notices inside one process: generation files, the Redis listener and its lifecycle.

Notices between real processes (gunicorn and `flask ...` commands) are in
tests/e2e/test_change_notices.py.
"""

import threading
from urllib.parse import urlsplit

import pytest

from app.services import notices
from keys import ring
from keys import rotation
from oauth import clients

from ..helpers import TcpProxy
from ..helpers import production_only
from ..helpers import wait_until

HOUR = {"CLIENT_CACHE_CHECK_INTERVAL": 3600, "KEY_RING_CHECK_INTERVAL": 3600}
embedded_only = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)


def listeners() -> list[threading.Thread]:
    return [thread for thread in threading.enumerate() if thread.name == "change-notices"]


def secret_hash(app, client_id) -> str:
    with app.app_context():
        return clients.find(client_id).client_secret_hash


def signing_kid(app) -> str:
    with app.app_context():
        return ring.current_kid()


@embedded_only
def test_generation_files_reach_another_app_object_at_once(make_app):
    """Without Redis, each change appends to a file beside the database that every cache stats."""
    server, operator = make_app(**HOUR), make_app(**HOUR)
    with operator.app_context():
        application, _ = clients.register("API", [], grant_types=["client_credentials"])
        client_id = application.client_id
    before, kid = secret_hash(server, client_id), signing_kid(server)
    with operator.app_context():
        clients.rotate_secret(client_id)
        rotation.rotate_now(operator.config["KEY_ENCRYPTION_SECRET"], revoke=True)
    assert secret_hash(server, client_id) != before
    assert signing_kid(server) != kid


@production_only
def test_after_a_lost_redis_connection_every_cache_is_dropped(backend, make_app):
    """Pub/sub keeps nothing for a subscriber that is away: a notice sent then is lost, so the
    listener that gets back forgets everything it holds."""
    parts = urlsplit(backend.redis_url)
    proxy = TcpProxy(parts.hostname, parts.port or 6379)
    try:
        server = make_app(REDIS_URL=parts._replace(netloc=f"127.0.0.1:{proxy.port}").geturl(), **HOUR)
        operator = make_app(**HOUR)
        with operator.app_context():
            application, _ = clients.register("API", [], grant_types=["client_credentials"])
            client_id = application.client_id
        before = secret_hash(server, client_id)  # cached, and the server listens through the proxy
        proxy.cut()
        with operator.app_context():
            clients.rotate_secret(client_id)  # announced while the server cannot hear it
        assert secret_hash(server, client_id) == before
        proxy.restore()
        wait_until(lambda: secret_hash(server, client_id) != before)
    finally:
        proxy.close()


@production_only
def test_one_listening_thread_per_redis_url_that_ends_with_its_apps(make_app):
    wait_until(lambda: not listeners())  # an earlier test's listener ends after its apps closed
    apps = [make_app() for _ in range(4)]
    for app in apps:
        with app.app_context():
            clients.find("no-such-client")  # first use of the cache: the app listens
    assert len(listeners()) == 1
    for app in apps:
        notices.close(app)
    wait_until(lambda: not listeners())


def test_epochs_refuse_a_store_only_for_what_was_dropped_since_the_read_began():
    epochs = notices.Epochs()
    started = epochs.start()
    epochs.drop({"a"})
    assert not epochs.unchanged("a", started) and epochs.unchanged("b", started)
    assert epochs.unchanged("a", epochs.start())  # a read begun after the drop may store
    started = epochs.start()
    epochs.drop(None)
    assert not epochs.unchanged("b", started) and epochs.unchanged("b", epochs.start())
    started = epochs.start()
    epochs.drop({str(n) for n in range(notices.Epochs.LIMIT + 1)})  # too many to remember: all count
    assert not epochs.unchanged("never named", started)
