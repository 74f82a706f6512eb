"""Authorization codes: opaque, hashed at rest, single use, 60 seconds."""

import logging
import uuid
from datetime import timedelta
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy import update
from sqlalchemy.orm.attributes import set_committed_value

from app.clock import now
from app.extensions import db
from app.services import accounts
from app.services import sessions

from . import logout
from . import tokens
from .models import Application
from .models import AuthorizationCode

if TYPE_CHECKING:  # types only: oauth reads users and sessions through app.services
    from app.models import User
    from app.models import UserSession

log = logging.getLogger("security")

CODE_TTL = timedelta(seconds=60)


def store(value: str, application: Application, user: "User", session: "UserSession", redirect_uri: str,
          scope: str, nonce: str | None, code_challenge: str | None, code_challenge_method: str | None,
          acr: str | None = None, claims: dict | None = None) -> None:
    """Keep what the token request must match, under the code's digest (never the code)."""
    at = now()
    db.session.add(AuthorizationCode(
        code_hash=tokens.digest(value), application_id=application.id, user_id=user.id,
        session_id=session.id, redirect_uri=redirect_uri, scope=scope, nonce=nonce,
        code_challenge=code_challenge, code_challenge_method=code_challenge_method,
        auth_time=session.created_at, amr=list(session.amr or ["pwd"]), acr=acr, claims=claims,
        expires_at=at + CODE_TTL))
    # The session signs the user in to this application: told when the session ends (logout.py).
    logout.record_sign_in(session.id, application.id)
    db.session.commit()


def consume(value: str, application: Application) -> AuthorizationCode | None:
    """Take a code for its one exchange, or None. The caller commits with the tokens it issues.

    A conditional update makes the exchange atomic: of two concurrent requests one wins, and
    the other waits for its commit and finds the code used. The same update refuses an expired
    code, so one that a sign-out, a new password or a withdrawn grant expired meanwhile
    (``tokens.revoke_for_sessions``, ``revoke_for_user``) is refused too. A used code presented
    again revokes what its first use issued (RFC 6749 §4.1.2).

    The user's row is locked first (``accounts.lock``): a withdrawal, a new password or an
    ended session either committed before, and is seen by what is read after the lock, or
    waits for this exchange's commit and revokes the tokens it issued.
    """
    if not value or len(value) > 128:
        return None
    code = db.session.scalar(select(AuthorizationCode).where(AuthorizationCode.code_hash == tokens.digest(value)))
    if code is None or code.application_id != application.id:
        return None
    user = accounts.lock(code.user_id)
    at = now()
    # The exchange's grant: its refresh family, if a refresh token is issued, and the ``fam`` of
    # its access tokens either way, so that a reuse of the code revokes them all.
    family_id = uuid.uuid4()
    won = db.session.execute(
        update(AuthorizationCode)
        .where(AuthorizationCode.id == code.id, AuthorizationCode.consumed_at.is_(None),
               AuthorizationCode.expires_at > at)
        .values(consumed_at=at, family_id=family_id, updated_at=at)
        .execution_options(synchronize_session=False)).rowcount
    if not won:
        db.session.rollback()  # expires ``code``: consumed_at below is read again, as committed now
        if code.consumed_at is not None:
            log.warning("authorization_code.reused code_id=%s client_id=%s", code.id, application.client_id)
            tokens.revoke_for_code(code)
        return None
    # A code lives no longer than the sign-in session that authorized it (ended, or past its
    # absolute limit), even if nothing expired it: RFC 6749 §5.2, a revoked grant is invalid_grant.
    if code.session_id is not None and not sessions.is_open(code.session_id, at):
        db.session.rollback()
        return None
    # RFC 6749 §5.2: a grant the user withdrew, or an account deactivated meanwhile, is invalid_grant.
    if user is None or not user.is_active or not tokens.consented(code.user_id, application.id):
        db.session.rollback()
        return None
    set_committed_value(code, "family_id", family_id)  # as the update wrote it (no second write)
    return code


def nonce_was_used(application: Application, nonce: str) -> bool:
    """OpenID Connect Core §3.1.2.1: a nonce already seen for this client is a replay."""
    return db.session.scalar(select(AuthorizationCode.id).where(
        AuthorizationCode.application_id == application.id, AuthorizationCode.nonce == nonce).limit(1)) is not None
