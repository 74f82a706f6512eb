"""Verification codes, one mechanism for every purpose: numeric, hashed with a server-side
pepper, compared in constant time, single use, limited in attempts, resend and lifetime."""

import hashlib
import hmac
import logging
import math
import secrets
from datetime import timedelta
from uuid import UUID

from flask import current_app
from sqlalchemy import select
from sqlalchemy import update

from ..clock import now
from ..extensions import db
from ..models import VerificationCode
from .errors import CodeRejected
from .errors import ResendTooSoon

log = logging.getLogger("security")

EMAIL_PURPOSES = ("email_verification", "password_reset", "email_2fa", "email_change")
MOBILE_PURPOSES = ("mobile_verification", "mobile_2fa")


def _digest(code: str) -> str:
    # Six digits are a million guesses: a plain hash would fall to them offline, so the digest is
    # keyed with a secret the database does not hold.
    key = current_app.config["SECRET_KEY"].encode()
    return hmac.new(key, b"verification-code:" + code.encode(), hashlib.sha256).hexdigest()


def lifetime(purpose: str) -> timedelta:
    config = current_app.config
    seconds = config["MOBILE_CODE_TTL"] if purpose in MOBILE_PURPOSES else config["EMAIL_CODE_TTL"]
    return timedelta(seconds=seconds)


def _latest(user_id: UUID, purpose: str) -> VerificationCode | None:
    return db.session.scalar(select(VerificationCode).where(
        VerificationCode.user_id == user_id, VerificationCode.purpose == purpose)
        .order_by(VerificationCode.created_at.desc()).limit(1))


def issue(user_id: UUID, purpose: str, target: str | None = None) -> str:
    """A new code for ``purpose``; the previous one dies. ResendTooSoon inside the resend window."""
    config = current_app.config
    at = now()
    latest = _latest(user_id, purpose)
    if latest is not None and latest.sent_at is not None:
        wait = (latest.sent_at + timedelta(seconds=config["CODE_RESEND_WINDOW"]) - at).total_seconds()
        if wait > 0:
            raise ResendTooSoon(math.ceil(wait))
    db.session.execute(update(VerificationCode)
                       .where(VerificationCode.user_id == user_id, VerificationCode.purpose == purpose,
                              VerificationCode.consumed_at.is_(None))
                       .values(consumed_at=at, updated_at=at))
    code = f"{secrets.randbelow(10 ** config['CODE_LENGTH']):0{config['CODE_LENGTH']}d}"
    db.session.add(VerificationCode(user_id=user_id, purpose=purpose, code_hash=_digest(code), target=target,
                                    expires_at=at + lifetime(purpose), sent_at=at, created_at=at, updated_at=at))
    db.session.commit()
    return code


def unsent(user_id: UUID, purpose: str) -> None:
    """The mail or SMS with the latest code failed: allow a resend at once."""
    latest = _latest(user_id, purpose)
    if latest is not None:
        latest.sent_at = None
        db.session.commit()


def check(user_id: UUID, purpose: str, code: str) -> VerificationCode:
    """Use a code: the live one for ``purpose``, right, in time, within its attempts; else CodeRejected."""
    at = now()
    latest = _latest(user_id, purpose)
    live = (latest is not None and latest.consumed_at is None and latest.expires_at > at
            and latest.attempts < current_app.config["CODE_MAX_ATTEMPTS"])
    if not live:
        raise CodeRejected("This code has expired or was replaced. Ask for a new one.")
    if not hmac.compare_digest(_digest((code or "").strip()), latest.code_hash):
        # Counted atomically, so parallel guesses cannot exceed the attempt limit.
        db.session.execute(update(VerificationCode).where(VerificationCode.id == latest.id)
                           .values(attempts=VerificationCode.attempts + 1, updated_at=at))
        db.session.commit()
        log.info("code.failed purpose=%s user_id=%s", purpose, user_id)
        raise CodeRejected("That code is not right. Check the latest message and try again.")
    used = db.session.execute(update(VerificationCode)
                              .where(VerificationCode.id == latest.id, VerificationCode.consumed_at.is_(None))
                              .values(consumed_at=at, updated_at=at)).rowcount
    db.session.commit()
    if not used:
        raise CodeRejected("This code has already been used. Ask for a new one.")
    return latest
