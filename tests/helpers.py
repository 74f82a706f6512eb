"""Test helpers: the real login form, CSRF tokens, and a TCP proxy that can cut a dependency."""

import os
import re
import selectors
import socket
import threading

import pytest
import sqlalchemy as sa

CI = os.environ.get("CI", "").lower() == "true"
CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')


def require(condition: bool, reason: str) -> None:
    """Skip when ``condition`` is false, except under CI, where the run fails instead."""
    if not condition:
        if CI:
            pytest.fail(f"CI=true and {reason}")
        pytest.skip(reason)


def reset_postgres(url: str) -> None:
    engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg2://", 1))
    with engine.begin() as connection:
        connection.execute(sa.text("DROP SCHEMA public CASCADE"))
        connection.execute(sa.text("CREATE SCHEMA public"))
    engine.dispose()


# For tests of PostgreSQL and Redis themselves, which have no SQLite twin.
production_only = pytest.mark.parametrize("backend", ["postgresql"], indirect=True)


def csrf_token(html: str) -> str:
    match = CSRF.search(html)
    assert match, "the page has no CSRF token"
    return match.group(1)


class AuthActions:
    """Signs in and out through the real pages, CSRF token included."""

    def __init__(self, client):
        self.client = client

    def login(self, email, password, next_path=None, **headers):
        page = self.client.get("/login")
        form = {"csrf_token": csrf_token(page.text), "email": email, "password": password,
                "next": next_path or ""}
        return self.client.post("/login", data=form, headers=headers)

    def logout(self):
        page = self.client.get("/logout")
        return self.client.post("/logout", data={"csrf_token": csrf_token(page.text)})


class TcpProxy:
    """Forwards 127.0.0.1:<port> to a real server; ``cut()`` drops every connection and
    refuses new ones until ``restore()``, like a dependency that went away and came back."""

    def __init__(self, target_host: str, target_port: int):
        self.target = (target_host, target_port)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.cut_off = threading.Event()
        self.pairs: list[tuple[socket.socket, socket.socket]] = []
        self.lock = threading.Lock()
        self.closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self.closed:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if self.cut_off.is_set():
                client.close()
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            with self.lock:
                self.pairs.append((client, upstream))
            threading.Thread(target=self._pump, args=(client, upstream), daemon=True).start()

    def _pump(self, client, upstream):
        selector = selectors.DefaultSelector()
        selector.register(client, selectors.EVENT_READ, upstream)
        selector.register(upstream, selectors.EVENT_READ, client)
        try:
            while not self.cut_off.is_set():
                for key, _ in selector.select(timeout=0.2):
                    data = key.fileobj.recv(65536)
                    if not data:
                        return
                    key.data.sendall(data)
        except OSError:
            return
        finally:
            selector.close()
            for sock in (client, upstream):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                sock.close()

    def cut(self):
        self.cut_off.set()
        with self.lock:
            pairs, self.pairs = self.pairs, []
        for client, upstream in pairs:
            for sock in (client, upstream):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def restore(self):
        self.cut_off.clear()

    def close(self):
        self.closed = True
        self.cut()
        self.listener.close()
