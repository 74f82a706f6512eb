"""A relying party's public keys: registered inline (``jwks``) or served at its ``jwks_uri``.

They verify what the client signs: request objects (RFC 9101) and ``private_key_jwt`` client
assertions (RFC 7523). A ``jwks_uri`` is fetched once and kept in this process for
``CLIENT_JWKS_TTL`` seconds; a signature by a key id the cached set lacks (the client rotated)
fetches again, at most once per ``REFETCH_INTERVAL`` per client, so a stream of forged key ids
cannot turn the server into a fetching machine. The URL was registered by an operator, never
taken from a request.
"""

import json
import threading
import time
import urllib.error
import urllib.request
from urllib.parse import urlsplit

from flask import current_app
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from app.services.errors import InvalidInput

# What a client may sign with, checked against its registered public keys (request objects and
# private_key_jwt assertions alike): RSA, RSA-PSS, ECDSA, and Ed25519 (RFC 9864's name for EdDSA with
# that curve). Never a MAC, never none: a public key is no secret.
ASYMMETRIC_ALGS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "Ed25519")
MAX_KEYS = 20
MAX_DOCUMENT_BYTES = 64 * 1024
FETCH_TIMEOUT = 3.0
REFETCH_INTERVAL = 30.0
# Members only a private or symmetric key has (RFC 7518 §6.2.2, §6.3.2, §6.4.1).
PRIVATE_MEMBERS = {"d", "p", "q", "dp", "dq", "qi", "oth", "k"}


class KeysUnavailable(Exception):
    """The client's keys cannot be had: none registered, or its jwks_uri failed."""


def check_jwks(document) -> dict:
    """A registrable public JWKS, or InvalidInput saying why not (only public asymmetric keys)."""
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list) or not document["keys"]:
        raise InvalidInput('jwks must be a JSON object with a non-empty "keys" array')
    if len(document["keys"]) > MAX_KEYS:
        raise InvalidInput(f"jwks may hold at most {MAX_KEYS} keys")
    for key in document["keys"]:
        if not isinstance(key, dict) or PRIVATE_MEMBERS & set(key):
            raise InvalidInput("jwks must hold public keys only (no private or symmetric key material)")
    try:
        KeySet.import_key_set(document)
    except (JoseError, ValueError, TypeError, KeyError) as error:
        raise InvalidInput(f"jwks holds a key that cannot be read: {error}") from None
    return document


def check_jwks_uri(uri: str, issuer_is_https: bool) -> str:
    """A registrable jwks_uri: https, or http on loopback while the issuer itself is http."""
    parts = urlsplit(uri)
    if parts.scheme == "https" and parts.hostname:
        return uri
    if parts.scheme == "http" and parts.hostname in ("localhost", "127.0.0.1", "::1") and not issuer_is_https:
        return uri
    raise InvalidInput("jwks_uri must be an https URL")


class _Cache:
    def __init__(self):
        self._lock = threading.Lock()
        self._entries: dict[tuple[str, str], tuple[float, float, dict]] = {}  # -> (fetched, tried, document)

    def get(self, client_id: str, uri: str, ttl: float, refresh: bool) -> dict:
        key = (client_id, uri)
        at = time.monotonic()
        with self._lock:
            entry = self._entries.get(key)
        if entry is not None:
            fetched, tried, document = entry
            fresh = at - fetched < ttl
            if fresh and (not refresh or at - tried < REFETCH_INTERVAL):
                return document
        try:
            document = _fetch(uri)
        except KeysUnavailable:
            if entry is not None and at - entry[0] < ttl:
                with self._lock:
                    self._entries[key] = (entry[0], at, entry[2])
                return entry[2]
            raise
        with self._lock:
            self._entries[key] = (at, at, document)
        return document

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


_cache = _Cache()


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None  # a 3xx is an error: the server fetches the registered URL only, never where it points


_opener = urllib.request.build_opener(_NoRedirects)


def _fetch(uri: str) -> dict:
    request = urllib.request.Request(uri, headers={"Accept": "application/json"})
    try:
        with _opener.open(request, timeout=FETCH_TIMEOUT) as response:
            body = response.read(MAX_DOCUMENT_BYTES + 1)
    except (urllib.error.URLError, OSError, ValueError) as error:
        raise KeysUnavailable(f"the client's jwks_uri could not be fetched: {error}") from None
    if len(body) > MAX_DOCUMENT_BYTES:
        raise KeysUnavailable("the client's jwks_uri document is too large")
    try:
        return check_jwks(json.loads(body))
    except (ValueError, InvalidInput) as error:
        raise KeysUnavailable(f"the client's jwks_uri document is not a usable JWKS: {error}") from None


def key_set(application, refresh: bool = False) -> dict:
    """The client's public JWKS document; KeysUnavailable when it has none or it cannot be had.

    ``refresh``: the caller met a key id the set lacks; fetch again (rate-limited) if the keys
    come from a jwks_uri.
    """
    if application.jwks:
        return application.jwks
    if application.jwks_uri:
        return _cache.get(application.client_id, application.jwks_uri,
                          current_app.config["CLIENT_JWKS_TTL"], refresh)
    raise KeysUnavailable("the client has registered no keys (jwks or jwks_uri)")


def forget() -> None:
    """Drop every cached jwks_uri document (tests; an operator changing a registration)."""
    _cache.clear()
