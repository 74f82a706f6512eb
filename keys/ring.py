"""The key ring as the rest of the server sees it: the key to sign with now."""

from flask import current_app
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from app.clock import now
from app.extensions import db

from . import crypto
from .models import SigningKey


def current_key(alg: str) -> SigningKey | None:
    return db.session.scalar(select(SigningKey).where(SigningKey.alg == alg, SigningKey.state == "current"))


def ensure_current() -> tuple[SigningKey, bool]:
    """Make sure a current key exists for SIGNING_ALG; returns it and whether it was created.

    On the very first start nothing has been signed or cached yet, so the first key may sign
    at once; later keys go through ``next`` first.
    """
    config = current_app.config
    alg = config["SIGNING_ALG"]
    existing = current_key(alg)
    if existing is not None:
        crypto.unseal(existing.private_jwe, config["KEY_ENCRYPTION_SECRET"])
        return existing, False
    key = crypto.generate(alg)
    at = now()
    record = SigningKey(kid=crypto.kid_of(key), alg=alg, state="current",
                        public_jwk=crypto.public_jwk(key, alg),
                        private_jwe=crypto.seal(key, config["KEY_ENCRYPTION_SECRET"]),
                        published_at=at, activated_at=at)
    db.session.add(record)
    try:
        db.session.commit()
    except IntegrityError:  # another instance created the first key at the same moment
        db.session.rollback()
        return current_key(alg), False
    return record, True


def check_health() -> None:
    """Readiness: a current key exists for SIGNING_ALG and opens with KEY_ENCRYPTION_SECRET."""
    config = current_app.config
    try:
        key = current_key(config["SIGNING_ALG"])
        if key is None:
            raise LookupError("no current signing key")
        crypto.unseal(key.private_jwe, config["KEY_ENCRYPTION_SECRET"])
    finally:
        db.session.rollback()


def announce_current() -> None:
    """First-start step: ensure a current key and say which."""
    key, created = ensure_current()
    print(f"{'Created' if created else 'Using'} signing key {key.kid} ({key.alg}).")
