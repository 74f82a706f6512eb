"""The rotation step and on-demand rotation, safe with many processes.

Each change runs in one transaction of its own session (never the request's) that first takes
a lock in the database (a PostgreSQL advisory lock; SQLite serialises writers itself), then
re-reads the ring and acts on what it finds, so of several processes arriving together one does
the work and the others see it done. The partial unique indexes on ``signing_keys`` back this
up: one current and at most one next key per algorithm. A committed change is announced to every
process through the ring.
"""

import logging
from dataclasses import dataclass
from datetime import datetime
from datetime import timedelta

from flask import current_app
from sqlalchemy import select
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.clock import now
from app.extensions import db
from app.services import audit

from . import crypto
from .models import SigningKey

log = logging.getLogger("security")

# Advisory lock id for ring changes ("keyring" in ASCII).
LOCK_ID = 0x6B657972696E67
# Allowance for clocks of verifiers running behind ours.
CLOCK_SKEW = timedelta(seconds=300)


@dataclass(frozen=True)
class Schedule:
    """The timings the lifecycle follows, from the settings."""

    alg: str
    period: timedelta  # how long a key signs
    lead: timedelta  # how long a key is published before it signs (JWKS cache lifetime)
    retention: timedelta  # how long a retired key stays published (longest token lifetime + skew)

    @classmethod
    def from_config(cls, config) -> "Schedule":
        longest_token = max(config["ACCESS_TOKEN_TTL"], config["ID_TOKEN_TTL"])
        return cls(alg=config["SIGNING_ALG"], period=timedelta(days=config["KEY_ROTATION_DAYS"]),
                   lead=timedelta(seconds=config["JWKS_MAX_AGE"]),
                   retention=timedelta(seconds=longest_token) + CLOCK_SKEW)


def next_step_at(keys: list[SigningKey], schedule: Schedule) -> datetime | None:
    """When the ring next needs a step; None if never without a change, epoch-old if now."""
    times = []
    current = _find(keys, schedule.alg, "current")
    upcoming = _find(keys, schedule.alg, "next")
    if current is None:
        return datetime.min.replace(tzinfo=now().tzinfo)
    if upcoming is None:
        times.append(current.activated_at + schedule.period - schedule.lead)
    else:
        times.append(max(current.activated_at + schedule.period, upcoming.published_at + schedule.lead))
    for key in keys:
        if key.state == "retired":
            times.append(key.remove_after)
        elif key.alg != schedule.alg and key.state in ("current", "next"):
            times.append(datetime.min.replace(tzinfo=now().tzinfo))
    return min(times)


def next_rotation_at(keys: list[SigningKey], schedule: Schedule) -> datetime | None:
    """When the current key is next replaced without anyone asking: at the end of its period, or
    once the next key has been published for the JWKS cache lifetime, whichever is later. None
    when no key signs (the next use of the ring makes one at once)."""
    current = _find(keys, schedule.alg, "current")
    if current is None:
        return None
    upcoming = _find(keys, schedule.alg, "next")
    due = current.activated_at + schedule.period
    return due if upcoming is None else max(due, upcoming.published_at + schedule.lead)


def step(secret: str) -> bool:
    """Take every lifecycle step that is due; returns whether anything changed."""
    schedule = Schedule.from_config(current_app.config)
    return _locked(lambda session, keys, at: _due_changes(session, keys, at, schedule, secret))


def rotate_now(secret: str, revoke: bool = False, actor: audit.Actor | None = None) -> SigningKey:
    """Replace the current key at once (suspected compromise); with ``revoke`` unpublish it too.

    The next key signs if one is published (verifiers already hold it), else a new key does. The
    change and its audit event (``actor``, default the operator) commit together."""
    schedule = Schedule.from_config(current_app.config)

    def change(session, keys, at):
        current = _find(keys, schedule.alg, "current")
        before = _states(keys)
        if current is not None:
            _retire(session, current, at, schedule, revoke)
        upcoming = _find(keys, schedule.alg, "next")
        if upcoming is not None:
            _activate(session, upcoming, at)
        else:
            upcoming = _create(session, schedule.alg, "current", at, secret)
        audit.record(actor or audit.Actor.system(), "key.rotate", target_type="key", target_id=upcoming.kid,
                     before=before, after=_states([*keys, upcoming]), session=session)
        return upcoming

    signing = _locked(change)
    if not signing:
        raise RuntimeError("another process is changing the key ring; try again")
    return signing


class UnknownKey(LookupError):
    """No key with this kid is in the ring (or it was removed already)."""


def revoke(secret: str, kid: str, actor: audit.Actor | None = None) -> SigningKey:
    """Take a compromised key out of the ring at once: out of the JWKS, and tokens it signed no
    longer verify. If it was signing, the next key (published already) or a new one signs now."""
    schedule = Schedule.from_config(current_app.config)

    def change(session, keys, at):
        key = next((key for key in keys if key.kid == kid), None)
        if key is None:
            raise UnknownKey(kid)
        before = _states(keys)
        replacement = None
        if key.state == "current":
            _retire(session, key, at, schedule, revoke=True)
            replacement = _find(keys, key.alg, "next")
            if replacement is not None:
                _activate(session, replacement, at)
            elif key.alg == schedule.alg:
                replacement = _create(session, key.alg, "current", at, secret)
        else:
            key.retired_at = key.retired_at or at
            key.remove_after, key.updated_at = at, at
            _remove(key, at)
            log.warning("keys.revoked kid=%s alg=%s", key.kid, key.alg)
            session.flush()
        audit.record(actor or audit.Actor.system(), "key.revoke", target_type="key", target_id=key.kid,
                     before=before, after=_states([*keys, *([replacement] if replacement else [])]),
                     session=session)
        return key

    revoked = _locked(change)
    if not revoked:
        raise RuntimeError("another process is changing the key ring; try again")
    return revoked


def listed() -> list[SigningKey]:
    """Every key ever made, newest first (read on a session of its own)."""
    with Session(db.engine, expire_on_commit=False) as session:
        return list(session.scalars(select(SigningKey).order_by(SigningKey.created_at.desc())))


def _states(keys: list[SigningKey]) -> dict:
    """What the audit log keeps of the ring: each key's state by kid (public facts only)."""
    return {key.kid: key.state for key in keys}


def reencrypt(old_secret: str, new_secret: str) -> int:
    """Seal every stored private key under ``new_secret``; all or nothing.

    Nothing is announced: which keys sign and verify is unchanged.
    """
    with Session(db.engine) as session, session.begin():
        keys = list(session.scalars(select(SigningKey).with_for_update()))
        for key in keys:
            key.private_jwe = crypto.seal(crypto.unseal(key.private_jwe, old_secret), new_secret)
            key.updated_at = now()
    log.warning("keys.reencrypted count=%d", len(keys))
    return len(keys)


def _locked(change):
    """Run ``change(session, keys, at)`` under the ring lock in a session of its own and commit
    when it returns something true, which is returned (False when another process holds the
    lock). A committed change is announced."""
    with Session(db.engine, expire_on_commit=False) as session:
        try:
            if session.get_bind().dialect.name == "postgresql":
                if not session.execute(text("SELECT pg_try_advisory_xact_lock(:id)"), {"id": LOCK_ID}).scalar():
                    return False
            keys = list(session.scalars(select(SigningKey).where(SigningKey.state != "removed")))
            result = change(session, keys, now())
            if not result:
                return False
            session.commit()
        except IntegrityError:  # a concurrent writer won the unique index; its result stands
            return False
    current_app.extensions["key_ring"].changed()
    return result


def _due_changes(session: Session, keys: list[SigningKey], at: datetime, schedule: Schedule, secret: str) -> bool:
    changed = False
    for key in keys:
        if key.alg != schedule.alg and key.state == "current":
            _retire(session, key, at, schedule, revoke=False)  # SIGNING_ALG changed: verify-only from now
            changed = True
        elif key.alg != schedule.alg and key.state == "next":
            _remove(key, at)  # never signed anything
            changed = True
        elif key.state == "retired" and key.remove_after <= at:
            _remove(key, at)
            changed = True
    current = _find(keys, schedule.alg, "current")
    upcoming = _find(keys, schedule.alg, "next")
    if current is None:
        # First start, or a revoked key: nothing cached a successor, so it signs at once.
        if upcoming is not None:
            _activate(session, upcoming, at)
        else:
            _create(session, schedule.alg, "current", at, secret)
        return True
    if upcoming is None and at >= current.activated_at + schedule.period - schedule.lead:
        _create(session, schedule.alg, "next", at, secret)
        return True
    if (upcoming is not None and at >= current.activated_at + schedule.period
            and at >= upcoming.published_at + schedule.lead):
        # Retire before activating, so the one-current index never sees two.
        _retire(session, current, at, schedule, revoke=False)
        session.flush()
        _activate(session, upcoming, at)
        return True
    return changed


def _find(keys: list[SigningKey], alg: str, state: str) -> SigningKey | None:
    return next((key for key in keys if key.alg == alg and key.state == state), None)


def _create(session: Session, alg: str, state: str, at: datetime, secret: str) -> SigningKey:
    pair = crypto.generate(alg)
    key = SigningKey(kid=crypto.kid_of(pair), alg=alg, state=state, public_jwk=crypto.public_jwk(pair, alg),
                     private_jwe=crypto.seal(pair, secret), created_at=at, updated_at=at, published_at=at,
                     activated_at=at if state == "current" else None)
    session.add(key)
    session.flush()
    log.info("keys.created kid=%s alg=%s state=%s", key.kid, alg, state)
    return key


def _activate(session: Session, key: SigningKey, at: datetime) -> None:
    key.state, key.activated_at, key.updated_at = "current", at, at
    session.flush()
    log.info("keys.activated kid=%s alg=%s", key.kid, key.alg)


def _retire(session: Session, key: SigningKey, at: datetime, schedule: Schedule, revoke: bool) -> None:
    key.retired_at, key.updated_at = at, at
    if revoke:
        key.state, key.remove_after = "removed", at
        log.warning("keys.revoked kid=%s alg=%s", key.kid, key.alg)
    else:
        key.state, key.remove_after = "retired", at + schedule.retention
        log.info("keys.retired kid=%s alg=%s remove_after=%s", key.kid, key.alg, key.remove_after.isoformat())
    session.flush()


def _remove(key: SigningKey, at: datetime) -> None:
    key.state, key.updated_at = "removed", at
    log.info("keys.removed kid=%s alg=%s", key.kid, key.alg)
