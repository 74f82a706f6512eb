"""The key ring as the rest of the server sees it: sign with the current key, verify against the
published set, publish the JWKS.

Each process holds the ring in memory: the unsealed signing key, the public keys by kid, and
the JWKS document with its ETag. Keys are made, named and sealed with jwcrypto (``crypto.py``);
tokens are signed and verified with joserfc, the JOSE library Authlib itself builds on, which
signs in about half of jwcrypto's time.

A change (rotation, revocation) is announced to every process, which reloads the ring on its
next use; the factory wires the notices in. As a safety net, at most every
KEY_RING_CHECK_INTERVAL seconds one cheap query (count and latest change of ``signing_keys``)
tells whether the ring changed unannounced. The ring reads and writes on its own short sessions,
never on the request's, whose unit of work it must not commit or roll back.

Rotation needs no scheduler: a due lifecycle step is taken when the ring is used outside a
request (start-up, CLI) or at the start of a request, before the request's own work holds any
database lock; in the middle of a request the ring only reads.
"""

import hashlib
import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from dataclasses import field
from datetime import datetime
from datetime import timedelta
from typing import Protocol

import click
from flask import Flask
from flask import current_app
from flask import has_request_context
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from joserfc.jwk import import_key
from jwcrypto import jwk
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from app.clock import now
from app.extensions import db

from . import crypto
from . import rotation
from .models import SigningKey

log = logging.getLogger(__name__)

PUBLISHED = ("current", "next", "retired")
ALGORITHMS = ["RS256", "ES256"]
# exp and nbf are checked when present, allowing verifiers' clocks 60 s of skew.
CLAIMS = jwt.JWTClaimsRegistry(leeway=60)
STATE_ORDER = {"current": 0, "next": 1, "retired": 2}


# How many verified tokens a ring keeps (see _Loaded.verified); when full it starts again.
VERIFIED_TOKENS = 1024


class KeyRingUnavailable(RuntimeError):
    """No key can sign: none exists yet, or KEY_ENCRYPTION_SECRET does not open it."""


class InvalidSignature(ValueError):
    """A JWT is malformed, expired, or not signed by a published key."""


@dataclass
class _Loaded:
    version: tuple
    signing: jwk.JWK | None
    signing_key: KeySet | None  # the same key for joserfc: only it, so its kid is in the header
    signing_kid: str | None
    signing_alg: str
    seal_error: str | None
    seal_broken: bool
    public: dict[str, dict]
    verification: KeySet
    jwks: bytes
    etag: str
    next_step_at: datetime | None
    pem: dict[str, bytes] = field(default_factory=dict)
    # Tokens whose signature checked out with these keys: compact JWS -> (header typ, claims, and once
    # the claims passed CLAIMS.validate, their exp, nbf and iat, which alone can change the verdict). A
    # resource server introspects, and a client presents at userinfo, the same token again and again;
    # the bytes cannot change, so neither can the signature's verdict. It goes with the ring: a key
    # that is removed or revoked takes its tokens' verdicts with it. Only valid tokens are kept, so
    # garbage cannot fill it.
    verified: dict[str, tuple[str | None, dict, tuple | None]] = field(default_factory=dict)


class Notices(Protocol):
    """How the ring hears of changes made by other processes and announces its own."""

    def listen(self, callback: Callable[[], None]) -> None: ...

    def poll(self) -> None: ...

    def announce(self) -> None: ...


class KeyRing:
    """One process's view of the ring; thread-safe."""

    def __init__(self, notices: Notices, config):
        self.config = config  # the application's (read per use; kept here so no use goes through current_app)
        self._lock = threading.Lock()
        self._loaded: _Loaded | None = None
        self._checked_at: datetime | None = None
        # Notices received, and how many of them the ring in memory has seen: a notice that
        # arrives while the ring is being read makes the next use read it again.
        self._notice_lock = threading.Lock()
        self._received = 0
        self._seen = 0
        self.notices = notices
        notices.listen(self.forget)

    def forget(self, _ids=None) -> None:
        """The ring changed: read it again on next use (called from any thread)."""
        with self._notice_lock:
            self._received += 1

    def changed(self) -> None:
        """This process committed a change: reload here, and tell every other process."""
        self.forget()
        self.notices.announce()

    def loaded(self, step: bool, force: bool = False) -> _Loaded:
        """The ring, read again after a notice or the check interval; with ``step``, due
        lifecycle steps are taken first."""
        self.notices.poll()
        config = self.config
        interval = timedelta(seconds=config["KEY_RING_CHECK_INTERVAL"])
        if not force and self._fresh(interval, step):
            return self._loaded
        with self._lock:
            if not force and self._fresh(interval, step):
                return self._loaded
            try:
                self._loaded, self._seen = self._refresh(config, step)
            except SQLAlchemyError:
                if self._loaded is None:
                    raise
                # The database is away: keep signing and publishing with what this process
                # holds (stale by at most one change) rather than failing every request.
                log.warning("keys.refresh_failed; serving the ring loaded at %s", self._checked_at)
            self._checked_at = now()
            return self._loaded

    def _fresh(self, interval: timedelta, step: bool) -> bool:
        if self._loaded is None or self._received != self._seen:
            return False
        at = now()
        if at - self._checked_at >= interval:
            return False
        return not step or self._loaded.next_step_at is None or at < self._loaded.next_step_at

    def _refresh(self, config, step: bool) -> tuple[_Loaded, int]:
        """The ring as stored now, and the count of notices it reflects."""
        loaded = self._loaded
        received = self._received
        with Session(db.engine) as session:
            version = _version(session)
            if received != self._seen or loaded is None or loaded.version != version:
                loaded = _load(session, config, version)
        due = step and loaded.next_step_at is not None and now() >= loaded.next_step_at
        # Never take a step while the stored keys do not open: that would mint keys
        # under a wrong KEY_ENCRYPTION_SECRET instead of reporting it.
        if due and not loaded.seal_broken and rotation.step(config["KEY_ENCRYPTION_SECRET"]):
            received = self._received  # the step's own notice: what is read next includes it
            with Session(db.engine) as session:
                loaded = _load(session, config, _version(session))
        return loaded, received


def _version(session: Session) -> tuple:
    return tuple(session.execute(select(func.count(), func.max(SigningKey.updated_at))).one())


def _load(session: Session, config, version: tuple) -> _Loaded:
    keys = list(session.scalars(select(SigningKey).where(SigningKey.state.in_(PUBLISHED))))
    keys.sort(key=lambda key: (STATE_ORDER[key.state], key.created_at))
    alg = config["SIGNING_ALG"]
    current = next((key for key in keys if key.state == "current" and key.alg == alg), None)
    signing, seal_error = None, None
    if current is None:
        seal_error = "no current signing key"
    else:
        try:
            signing = crypto.unseal(current.private_jwe, config["KEY_ENCRYPTION_SECRET"])
        except crypto.SealBroken as error:
            seal_error = str(error)
            log.error("keys.unseal_failed kid=%s", current.kid)
    document = json.dumps({"keys": [key.public_jwk for key in keys]}, separators=(",", ":")).encode()
    return _Loaded(
        version=version, signing=signing, signing_kid=current.kid if current else None, signing_alg=alg,
        signing_key=KeySet([import_key({**signing.export_private(as_dict=True), "kid": current.kid,
                                        "alg": alg})]) if signing else None,
        seal_error=seal_error, seal_broken=signing is None and current is not None,
        public={key.kid: key.public_jwk for key in keys},
        verification=KeySet([import_key(key.public_jwk) for key in keys]),
        jwks=document, etag='"' + hashlib.sha256(document).hexdigest()[:32] + '"',
        next_step_at=rotation.next_step_at(keys, rotation.Schedule.from_config(config)),
    )


def _ring() -> KeyRing:
    return current_app.extensions["key_ring"]


def _use() -> _Loaded:
    # Outside a request no unit of work of ours is open; inside one, steps wait for the next.
    return _ring().loaded(step=not has_request_context())


def init_app(app: Flask, notices: Notices) -> None:
    app.extensions["key_ring"] = KeyRing(notices, app.config)
    app.before_request(_check_at_request_start)


def _check_at_request_start() -> None:
    """Take a due step before the request starts its own work (and may lock what a step writes)."""
    try:
        _ring().loaded(step=True)
    except SQLAlchemyError as error:  # the request decides whether it needs the ring
        log.warning("keys.check_failed error=%s", type(error).__name__)


def ensure_ready() -> SigningKey:
    """Start-up: take any due step (the first key on a new install) and check the key opens."""
    loaded = _ring().loaded(step=True, force=True)
    if loaded.seal_broken:
        raise KeyRingUnavailable(
            "KEY_ENCRYPTION_SECRET does not open the stored signing keys: set the secret they were "
            "sealed with (to change the secret, use `flask keys reencrypt`)")
    if loaded.signing is None:
        raise KeyRingUnavailable(loaded.seal_error)
    with Session(db.engine) as session:
        return session.scalar(select(SigningKey).where(SigningKey.kid == loaded.signing_kid))


def sign(claims: dict, typ: str = "JWT") -> str:
    """A compact JWS of ``claims`` by the current key; the header carries kid, alg and typ."""
    loaded = _use()
    if loaded.signing is None:
        raise KeyRingUnavailable(loaded.seal_error)
    return jwt.encode({"alg": loaded.signing_alg, "typ": typ}, claims, loaded.signing_key,
                      algorithms=[loaded.signing_alg])


def signing_key_set() -> KeySet:
    """The current private key as a joserfc key set (for Authlib's ID tokens)."""
    loaded = _use()
    if loaded.signing is None:
        raise KeyRingUnavailable(loaded.seal_error)
    return loaded.signing_key


def signing_jwk() -> dict:
    """The current private key as a JWK dict (with kid and alg), for Authlib."""
    loaded = _use()
    if loaded.signing is None:
        raise KeyRingUnavailable(loaded.seal_error)
    return {**loaded.signing.export_private(as_dict=True), "kid": loaded.signing_kid, "alg": loaded.signing_alg}


def current_kid() -> str:
    """The kid of the key that signs now."""
    loaded = _use()
    if loaded.signing is None:
        raise KeyRingUnavailable(loaded.seal_error)
    return loaded.signing_kid


def verify(token: str, typ: str | None = None, *, accept_expired: bool = False) -> dict:
    """The claims of a JWT signed by a published key; InvalidSignature otherwise.

    ``exp`` and ``nbf`` are checked when present, unless ``accept_expired`` (an ID token hint may
    have expired, OIDC Core §3.1.2.1); with ``typ``, the header must carry it. The caller checks
    iss, aud and the rest.
    """
    loaded = _use()
    try:
        verified = loaded.verified.get(token)
        if verified is None:
            decoded = jwt.decode(token, loaded.verification, algorithms=ALGORITHMS)
            kid = decoded.header.get("kid")
            if kid not in loaded.public or loaded.public[kid]["alg"] != decoded.header.get("alg"):
                raise InvalidSignature("unknown or removed key, or not its algorithm")
            verified = (decoded.header.get("typ"), decoded.claims, None)
            if len(loaded.verified) >= VERIFIED_TOKENS:
                loaded.verified.clear()
            loaded.verified[token] = verified
        header_typ, claims, times = verified
        if typ is not None and header_typ != typ:
            raise InvalidSignature(f"not a {typ} token")
        # Expiry is checked at every use, cached or not.
        if not accept_expired and times is not None:
            _check_times(*times)
        elif not accept_expired:
            CLAIMS.validate(claims)
            if token in loaded.verified:  # the claims are well formed: only the clock can change the verdict now
                loaded.verified[token] = (header_typ, claims, (claims.get("exp"), claims.get("nbf"), claims.get("iat")))
        return dict(claims)
    except (JoseError, ValueError, TypeError) as error:
        raise InvalidSignature(str(error)) from None


def _check_times(exp, nbf, iat) -> None:
    """What ``CLAIMS.validate`` checks against the clock (joserfc's rules, its leeway and its clock),
    for claims that passed it whole before: RFC 7519 §4.1.4 exp, §4.1.5 nbf, and no iat in the future."""
    at = int(time.time())
    if exp is not None and exp <= at - CLAIMS.leeway:
        raise InvalidSignature("the token has expired")
    if nbf is not None and nbf > at + CLAIMS.leeway:
        raise InvalidSignature("the token is not yet valid")
    if iat is not None and iat > at + CLAIMS.leeway:
        raise InvalidSignature("the token was issued in the future")


def verification_key_set() -> KeySet:
    """Every published public key as a joserfc key set."""
    return _use().verification


def jwks() -> tuple[bytes, str]:
    """The public JWKS document and its ETag."""
    loaded = _use()
    return loaded.jwks, loaded.etag


def public_pem(kid: str) -> bytes | None:
    """One published key as PEM (SubjectPublicKeyInfo), or None when unknown or removed."""
    loaded = _use()
    members = loaded.public.get(kid)
    if members is None:
        return None
    if kid not in loaded.pem:
        loaded.pem[kid] = jwk.JWK(**members).export_to_pem()
    return loaded.pem[kid]


def check_health() -> None:
    """Readiness: a current key exists for SIGNING_ALG and opens with KEY_ENCRYPTION_SECRET."""
    loaded = _use()
    if loaded.signing is None:
        raise KeyRingUnavailable(loaded.seal_error)


def announce_current() -> None:
    """First-start step: ensure a current key and say which; stop start-up if keys do not open."""
    try:
        key = ensure_ready()
    except KeyRingUnavailable as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"Signing key {key.kid} ({key.alg}) is current.")
