"""Consent: what each user granted each application, asked once per new scope."""

import uuid

from sqlalchemy import select

from app.clock import now
from app.extensions import db
from app.services import accounts
from app.services import audit
from app.services import users
from app.services.errors import NotFound

from . import tokens
from .models import Application
from .models import UserApplication

# Plain words for the consent page, by scope.
SCOPE_DESCRIPTIONS = {
    "openid": "Know who you are (your account identifier)",
    "profile": "See your name, profile picture and other profile details",
    "email": "See your email address",
    "phone": "See your phone number",
    "address": "See your postal address",
    "offline_access": "Stay connected when you are not using it (long-lived access)",
    "account": "Manage your account here: profile, sessions, security settings and connected applications",
    "admin": "Use the administration API with your own permissions (users, roles, applications, keys)",
}


# Plain words for the user's claims an application asks for by name (the claims parameter).
CLAIM_DESCRIPTIONS = {
    "name": "Your name", "given_name": "Your first name", "family_name": "Your last name",
    "preferred_username": "Your username", "picture": "Your profile picture", "birthdate": "Your date of birth",
    "updated_at": "When your profile was last changed", "email": "Your email address",
    "email_verified": "Whether your email address is verified", "phone_number": "Your phone number",
    "phone_number_verified": "Whether your phone number is verified", "address": "Your postal address",
}


def describe(scope: str) -> list[tuple[str, str]]:
    return [(token, SCOPE_DESCRIPTIONS.get(token, f"Access “{token}”")) for token in scope.split()]


def describe_claims(names: list[str]) -> list[tuple[str, str]]:
    """The claims asked for by name beyond the scopes (``oauth.claims.beyond_scope``): shown on the
    consent page, and released for this sign-in only when the user allows it (never remembered)."""
    return [(name, CLAIM_DESCRIPTIONS[name]) for name in names if name in CLAIM_DESCRIPTIONS]


def _current(user_id: uuid.UUID, application: Application) -> UserApplication | None:
    return db.session.scalar(select(UserApplication).where(
        UserApplication.user_id == user_id, UserApplication.application_id == application.id))


def needs_consent(user_id: uuid.UUID, application: Application, scope: str) -> bool:
    """Whether the user must be asked: first-party apps never; others for any scope not yet granted."""
    if application.skip_consent:
        return False
    grant = _current(user_id, application)
    if grant is None or grant.revoked_at is not None:
        return True
    return not set(scope.split()) <= set(grant.scope.split())


def record(user_id: uuid.UUID, application: Application, scope: str) -> None:
    """Remember that the user allowed these scopes (added to what was granted before)."""
    at = now()
    grant = _current(user_id, application)
    if grant is None:
        db.session.add(UserApplication(user_id=user_id, application_id=application.id, scope=scope, granted_at=at))
    else:
        previous = [] if grant.revoked_at is not None else grant.scope.split()
        grant.scope = " ".join(dict.fromkeys(previous + scope.split()))
        grant.granted_at, grant.revoked_at, grant.updated_at = at, None, at
    db.session.commit()


def list_for(user_id: uuid.UUID) -> list[tuple[UserApplication, Application]]:
    """The user's live grants with their applications."""
    rows = db.session.execute(
        select(UserApplication, Application)
        .join(Application, Application.id == UserApplication.application_id)
        .where(UserApplication.user_id == user_id, UserApplication.revoked_at.is_(None),
               Application.deleted_at.is_(None))
        .order_by(UserApplication.granted_at.desc()))
    return [(grant, application) for grant, application in rows]


def grants_of(user_id: uuid.UUID) -> list[tuple[UserApplication, Application]]:
    """An account's live grants, for an administrator; NotFound when there is no such account."""
    if not accounts.exists(user_id):
        raise NotFound("No such user.")
    return list_for(user_id)


def revoke(user_id: uuid.UUID, client_id: str, actor: audit.Actor | None = None,
           held: frozenset[str] | None = None) -> bool:
    """Withdraw a grant; that application's tokens for the user stop working. False if none.
    With ``actor`` (an administrator), the withdrawal is an audit event of the same unit of work;
    ``held`` (the administrator's permissions) must cover the user's (``users.within_reach``).

    One unit of work under the user's lock (``accounts.lock``): an exchange or a refresh for
    the user either committed before, and its tokens are revoked here, or waits and finds the
    grant withdrawn.
    """
    if held is not None:
        users.within_reach(held, user_id)
    accounts.lock(user_id)
    row = db.session.execute(
        select(UserApplication, Application)
        .join(Application, Application.id == UserApplication.application_id)
        .where(UserApplication.user_id == user_id, Application.client_id == client_id,
               UserApplication.revoked_at.is_(None))).first()
    if row is None:
        db.session.rollback()  # releases the lock
        return False
    grant, application = row
    if actor is not None:
        audit.record(actor, "user.grant.revoke", target_type="user", target_id=user_id,
                     before={"clientId": application.client_id, "scope": grant.scope}, after=None)
    grant.revoked_at = grant.updated_at = now()
    tokens.revoke_for_user(user_id, application.id)  # commits the withdrawal with the revocation
    return True
