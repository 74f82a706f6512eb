"""A small relying party over real HTTP, for the logout tests.

It serves a back-channel logout endpoint (OpenID Connect Back-Channel Logout 1.0) that verifies
each logout token as a careful relying party does (against the provider's JWKS, fetched over
HTTP, with PyJWT), and a front-channel logout endpoint that records its query. Its answers can be
scripted (``statuses``: one HTTP status per back-channel request, then 200) and slowed (``delay``).
"""

import json
import threading
import time
from http.server import BaseHTTPRequestHandler
from http.server import ThreadingHTTPServer
from types import SimpleNamespace
from urllib.parse import parse_qs
from urllib.parse import urlsplit

import jwt

EVENT = "http://schemas.openid.net/event/backchannel-logout"


class RelyingParty:
    def __init__(self, jwks_url: str, issuer: str = "http://localhost:5000", statuses=(), delay: float = 0.0):
        self.jwks = jwt.PyJWKClient(jwks_url, cache_jwk_set=True, lifespan=60)
        self.issuer = issuer
        self.statuses = list(statuses)
        self.delay = delay
        self.backchannel = []   # one SimpleNamespace per back-channel request: form, claims, header, error
        self.frontchannel = []  # the query of each front-channel request
        self.events = []        # ("received" | "answered", client path) in the order they happened
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def backchannel_uri(self, client_id: str) -> str:
        return f"{self.url}/backchannel_logout/{client_id}"

    def frontchannel_uri(self, client_id: str) -> str:
        return f"{self.url}/frontchannel_logout/{client_id}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def verify(self, token: str, client_id: str) -> tuple[dict, dict]:
        """What a relying party checks (Back-Channel Logout §2.6), raising on any failure."""
        header = jwt.get_unverified_header(token)
        if header.get("typ") != "logout+jwt":
            raise ValueError(f"typ is {header.get('typ')!r}, not logout+jwt")
        key = self.jwks.get_signing_key_from_jwt(token)
        claims = jwt.decode(token, key.key, algorithms=["RS256", "ES256"], audience=client_id, issuer=self.issuer,
                            options={"require": ["iss", "aud", "iat", "exp", "jti", "events"]})
        if set(claims["events"]) != {EVENT} or claims["events"][EVENT] != {}:
            raise ValueError(f"events is {claims['events']!r}")
        if "nonce" in claims:
            raise ValueError("a logout token must not carry a nonce")
        if "sub" not in claims and "sid" not in claims:
            raise ValueError("neither sub nor sid")
        return header, claims

    def delivered(self, client_id: str | None = None) -> list:
        """The verified back-channel requests (for ``client_id``) answered 200, in arrival order."""
        with self.lock:
            return [entry for entry in self.backchannel if entry.error is None and entry.status == 200
                    and (client_id is None or entry.client_id == client_id)]

    def _handler(self):
        rp = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                parts = urlsplit(self.path)
                if not parts.path.startswith("/frontchannel_logout/"):
                    self._answer(404)
                    return
                with rp.lock:
                    rp.frontchannel.append(SimpleNamespace(
                        client_id=parts.path.rsplit("/", 1)[1],
                        query={key: values[0] for key, values in parse_qs(parts.query).items()}))
                body = b"<!doctype html><title>signed out</title>"
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.send_header("Cache-Control", "no-store")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self):
                parts = urlsplit(self.path)
                client_id = parts.path.rsplit("/", 1)[1]
                with rp.lock:
                    rp.events.append(("received", client_id))
                    status = rp.statuses.pop(0) if rp.statuses else 200
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length).decode()
                form = {key: values for key, values in parse_qs(raw, keep_blank_values=True).items()}
                entry = SimpleNamespace(client_id=client_id, form=form, content_type=self.headers.get("Content-Type"),
                                        header=None, claims=None, error=None, status=status)
                try:
                    if set(form) != {"logout_token"} or len(form["logout_token"]) != 1:
                        raise ValueError(f"the body is not exactly one logout_token: {sorted(form)}")
                    entry.header, entry.claims = rp.verify(form["logout_token"][0], client_id)
                except Exception as error:  # recorded: the test says what it expected
                    entry.error = f"{type(error).__name__}: {error}"
                    status = 400 if status == 200 else status
                if rp.delay:
                    time.sleep(rp.delay)
                with rp.lock:
                    rp.backchannel.append(entry)
                with rp.lock:  # before the answer leaves: a caller waiting for it comes after, always
                    rp.events.append(("answered", client_id))
                self._answer(status, json.dumps({"error": entry.error} if entry.error else {}).encode())

            def _answer(self, status, body=b""):
                self.send_response(status)
                self.send_header("Cache-Control", "no-store")
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        return Handler
