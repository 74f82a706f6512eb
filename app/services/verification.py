"""Verification codes, one mechanism for every purpose: numeric, hashed with a server-side
pepper, compared in constant time, single use, limited in attempts, resend and lifetime."""

import hashlib
import hmac
import logging
import math
import secrets
import time
from datetime import datetime
from datetime import timedelta
from uuid import UUID

from flask import current_app
from limits import RateLimitItemPerSecond
from limits.strategies import MovingWindowRateLimiter
from sqlalchemy import select
from sqlalchemy import update

from ..clock import now
from ..extensions import db
from ..extensions import get_limiter
from ..models import VerificationCode
from .errors import CodeRejected
from .errors import ResendTooSoon

log = logging.getLogger("security")

EMAIL_PURPOSES = ("email_verification", "password_reset", "email_2fa", "email_change")
MOBILE_PURPOSES = ("mobile_verification", "mobile_2fa")
# For flows that name the account by an address anyone can type (verification, reset): every
# refusal reads the same, so the answer tells nothing about the account behind the address.
UNIFORM_REFUSAL = "That code is not right or has expired. Check the latest message, or ask for a new code."
# No account has it: a lookup with it costs what a real one costs and finds nothing.
NOBODY = UUID(int=0)


def _digest(code: str) -> str:
    # Six digits are a million guesses: a plain hash would fall to them offline, so the digest is
    # keyed with a secret the database does not hold.
    key = current_app.config["SECRET_KEY"].encode()
    return hmac.new(key, b"verification-code:" + code.encode(), hashlib.sha256).hexdigest()


def lifetime(purpose: str) -> timedelta:
    config = current_app.config
    seconds = config["MOBILE_CODE_TTL"] if purpose in MOBILE_PURPOSES else config["EMAIL_CODE_TTL"]
    return timedelta(seconds=seconds)


def lifetime_text(purpose: str) -> str:
    """The lifetime of a code for ``purpose`` in words ("5 minutes", "24 hours"), for messages."""
    seconds = lifetime(purpose).total_seconds()
    if seconds >= 3600:
        hours = round(seconds / 3600)
        return f"{hours} hour{'s' if hours != 1 else ''}"
    minutes = max(1, round(seconds / 60))
    return f"{minutes} minute{'s' if minutes != 1 else ''}"


def _latest(user_id: UUID, purpose: str) -> VerificationCode | None:
    return db.session.scalar(select(VerificationCode).where(
        VerificationCode.user_id == user_id, VerificationCode.purpose == purpose)
        .order_by(VerificationCode.created_at.desc()).limit(1))


def issue(user_id: UUID, purpose: str, target: str | None = None, at: datetime | None = None) -> str:
    """A new code for ``purpose``; the previous one dies. ResendTooSoon inside the resend window.

    ``at`` is when it was asked for, if earlier than now (issued by the background mail sender).
    """
    config = current_app.config
    at = at or now()
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


def check(user_id: UUID, purpose: str, code: str, consume: bool = True) -> VerificationCode:
    """Use a code: the live one for ``purpose``, right, in time, within its attempts; else CodeRejected.

    ``consume=False`` only proves the code (a wrong one still counts as an attempt); ``spend``
    then uses it up, so a caller can check what else the request needs before the code is gone.
    """
    at = now()
    latest = _latest(user_id, purpose)
    live = latest is not None and latest.consumed_at is None and latest.expires_at > at
    if not (live and _take_attempt(latest.id, at)):
        raise CodeRejected("This code has expired or was replaced. Ask for a new one.")
    if not hmac.compare_digest(_digest((code or "").strip()), latest.code_hash):
        log.info("code.failed purpose=%s user_id=%s", purpose, user_id)
        raise CodeRejected("That code is not right. Check the latest message and try again.")
    # Only wrong codes use up attempts: a right one (a reset whose new password the policy
    # refused) can be proven again.
    db.session.execute(update(VerificationCode).where(VerificationCode.id == latest.id)
                       .values(attempts=VerificationCode.attempts - 1, updated_at=at))
    db.session.commit()
    if consume:
        spend(latest)
    return latest


def _take_attempt(code_id: UUID, at: datetime) -> bool:
    """Take one of the code's attempts before comparing, or False when none is left.

    Increment and test are one conditional UPDATE, so however many requests guess at once, no more
    than CODE_MAX_ATTEMPTS comparisons of wrong codes ever happen (reading, comparing, then
    counting let every parallel guess through on the same count)."""
    taken = db.session.execute(update(VerificationCode).where(
        VerificationCode.id == code_id, VerificationCode.attempts < current_app.config["CODE_MAX_ATTEMPTS"])
        .values(attempts=VerificationCode.attempts + 1, updated_at=at)).rowcount
    db.session.commit()
    return bool(taken)


def spend(code: VerificationCode) -> None:
    """Spend a proven code; CodeRejected if a parallel request spent it first."""
    at = now()
    used = db.session.execute(update(VerificationCode)
                              .where(VerificationCode.id == code.id, VerificationCode.consumed_at.is_(None))
                              .values(consumed_at=at, updated_at=at)).rowcount
    db.session.commit()
    if not used:
        raise CodeRejected("This code has already been used. Ask for a new one.")


def check_by_address(user_id: UUID | None, purpose: str, code: str, consume: bool = True) -> VerificationCode:
    """``check`` for a flow that found the account by an address the caller typed: no account (None)
    costs the same lookup and digest, and every refusal is UNIFORM_REFUSAL."""
    try:
        if user_id is None:
            _latest(NOBODY, purpose)
            _take_attempt(NOBODY, now())  # the write a real guess makes
            hmac.compare_digest(_digest((code or "").strip()), _digest(""))
            raise CodeRejected(UNIFORM_REFUSAL)
        return check(user_id, purpose, code, consume=consume)
    except CodeRejected:
        raise CodeRejected(UNIFORM_REFUSAL) from None


def _address_window(purpose: str, address: str):
    window = current_app.config["CODE_RESEND_WINDOW"]
    # A moving window on the rate limiter's store (Redis when configured): its entries carry the
    # time they were taken, so every process and instance sees the same window.
    limiter = MovingWindowRateLimiter(get_limiter().storage)
    key = hashlib.sha256(address.strip().lower().encode()).hexdigest()
    return limiter, RateLimitItemPerSecond(1, max(window, 1)), ("resend-window", purpose, key), window


def hold_address_window(purpose: str, address: str, strict: bool = True) -> None:
    """Open the resend window of ``purpose`` for an address, whether or not an account has it.

    Inside an open window ``strict`` raises ResendTooSoon; not strict, the window just stays as it
    is. The account's own codes keep their window too; this one answers for addresses with none.
    """
    limiter, item, key, window = _address_window(purpose, address)
    if not window or limiter.hit(item, *key):
        return
    wait = limiter.get_window_stats(item, *key).reset_time - time.time()
    if wait <= 0:
        # The window ends at this very moment (a code's window does too): a new one starts.
        limiter.clear(item, *key)
        limiter.hit(item, *key)
    elif strict:
        raise ResendTooSoon(math.ceil(wait))


def release_address_window(purpose: str, address: str) -> None:
    """The message that opened the window was not sent: allow a resend at once."""
    limiter, item, key, _ = _address_window(purpose, address)
    limiter.clear(item, *key)
