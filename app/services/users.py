"""Administration of accounts: create, change, deactivate and reactivate, force a password reset,
assign roles, end sessions. Each call is one unit of work that records one audit event with it.

The account's own rules stay with their services: the profile fields' rules (``profile``), the
password policy (``passwords``), codes and mail (``verification``, ``mailer``), ending sessions
and the tokens issued in them (``sessions``, ``accounts.end_credentials``). Two rules are added
here: nobody assigns or removes a role whose permissions they do not hold, nor changes an account
holding a permission they do not hold (a new address and a forced reset would hand them that
account), and the last active superAdmin is never demoted or deactivated.
"""

import logging
import uuid
from collections.abc import Iterable
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from ..clock import now
from ..extensions import db
from ..models import Role
from ..models import User
from ..models import UserSession
from . import accounts
from . import audit
from . import directory
from . import mailer
from . import passwords
from . import profile
from . import rbac
from . import sessions
from . import user_cache
from . import verification
from .account_errors import InvalidFields
from .errors import AccountExists
from .errors import InvalidInput
from .errors import NotFound
from .errors import OutOfReach

security = logging.getLogger("security")

VERIFY_PURPOSE = "email_verification"
VERIFY_SUBJECT = "Confirm your email address"
RESET_PURPOSE = "password_reset"
# The fields PATCH may change, with the profile's rules; email and roles have their own.
PROFILE_FIELDS = ("fullname", "avatar", "phone", "address")


def get(user_id: UUID) -> User:
    """The account, active or not; NotFound."""
    user = db.session.get(User, user_id)
    if user is None:
        raise NotFound("No such user.")
    return user


def read(user_id: UUID) -> "user_cache.CachedUser":
    """The account to show, active or not, from the user cache; NotFound."""
    user = user_cache.get(user_id)
    if user is None:
        raise NotFound("No such user.")
    return user


def snapshot(user: User, fields: Iterable[str] | None = None) -> dict:
    """The audited view of an account (never a password or its hash), in the API's names."""
    view = {"email": user.email, "fullname": user.fullname, "avatar": user.avatar, "phone": user.phone,
            "address": user.profile.address if user.profile else None, "emailVerified": user.email_verified,
            "isActive": user.is_active, "roles": sorted(role.name for role in user.roles)}
    return view if fields is None else {name: view[name] for name in fields}


# --- create and change ---------------------------------------------------------------------------------

def create(actor: audit.Actor, held: frozenset[str], *, email: str, fullname: str, password: str | None = None,
           phone: str | None = None, address: dict | None = None, role_ids: Iterable[UUID] = (),
           email_verified: bool = False) -> User:
    """An account made by an administrator; it always has the ``user`` role.

    Without a password the account cannot sign in until its owner sets one with the reset code
    mailed now; unless it starts verified, a verification code is mailed too.
    """
    address_ = _email(email)
    clean = profile.clean_fields({name: value for name, value in
                                  (("fullname", fullname), ("phone", phone), ("address", address))
                                  if value is not None})
    if password is not None:
        passwords.require_acceptable(password, address_, (fullname,))
    if accounts.find_by_email(address_) is not None:
        raise AccountExists()
    roles = _with_default(_roles_by_id(role_ids))
    rbac.require_held(held, _permissions_of(roles))
    user = User(id=uuid.uuid4(), email=address_, email_verified=email_verified,
                password_hash=passwords.hash_password(password) if password is not None else None,
                avatar=accounts.gravatar_url(address_), roles=roles, is_active=True)
    db.session.add(user)
    profile.apply_changes(user, clean)
    audit.record(actor, "user.create", target_type="user", target_id=user.id, after=snapshot(user))
    _commit()
    security.info("account.created_by_admin user_id=%s actor=%s", user.id, actor.user_id or actor.client_id)
    if password is None:
        mailer.send_code_after(user.id, user.email, RESET_PURPOSE, "reset_password", "Set your password")
    if not email_verified:
        mailer.send_code(user.id, user.email, VERIFY_PURPOSE, "verify_email", VERIFY_SUBJECT)
    return user


def change(actor: audit.Actor, held: frozenset[str], user_id: UUID, changes: dict) -> User:
    """Change some of fullname, avatar, phone, address, email, roles (a missing key keeps its value).

    A new email address is unverified until its owner enters the code mailed to it; the old
    address is told. Bad input changes nothing.
    """
    user = within_reach(held, user_id)
    unknown = set(changes) - {*PROFILE_FIELDS, "email", "roles"}
    if unknown:
        raise InvalidFields({name: ["Unknown field."] for name in sorted(unknown)})
    clean = profile.clean_fields({name: changes[name] for name in PROFILE_FIELDS if name in changes})
    fields = [*clean]
    new_email = None
    if "email" in changes:
        new_email = _email(changes["email"])
        fields += ["email", "emailVerified", "avatar"]
        if new_email == user.email:
            new_email = None
        elif accounts.find_by_email(new_email) is not None:
            raise AccountExists()
    new_roles = _with_default(_roles_by_id(changes["roles"])) if "roles" in changes else None
    if new_roles is not None:
        fields.append("roles")
    fields = list(dict.fromkeys(fields))
    before = snapshot(user, fields)
    if new_roles is not None:
        _assign(held, user, new_roles)
    profile.apply_changes(user, clean)
    previous = user.email
    if new_email is not None:
        user.email = new_email
        user.email_verified = False  # proven again by the code mailed below
        if user.avatar == accounts.gravatar_url(previous):
            user.avatar = accounts.gravatar_url(new_email)
    audit.record(actor, "user.update", target_type="user", target_id=user.id, before=before,
                 after=snapshot(user, fields))
    _commit()
    security.info("account.updated_by_admin user_id=%s fields=%s", user.id, ",".join(fields))
    if new_email is not None:
        _mail_new_address(user, previous)
    return user


def _mail_new_address(user: User, previous: str) -> None:
    # A code still live for the old address must not verify the new one: the resend window gives
    # way, and issuing the new code ends every earlier one.
    verification.unsent(user.id, VERIFY_PURPOSE)
    mailer.send_code(user.id, user.email, VERIFY_PURPOSE, "verify_email", VERIFY_SUBJECT)
    mailer.send(previous, "The email address of your account was changed", "email_changed_by_admin",
                user_id=user.id, new_email=user.email)


def _email(value) -> str:
    if not isinstance(value, str) or len(value) > 254:
        raise InvalidFields({"email": ["Enter an email address of at most 254 characters."]})
    try:
        return accounts.normalise_email(value)
    except InvalidInput as invalid:
        raise InvalidFields({"email": [invalid.public_message]}) from None


def _commit() -> None:
    try:
        db.session.commit()
    except IntegrityError:  # the address was taken by a parallel request
        db.session.rollback()
        raise AccountExists() from None


# --- activity --------------------------------------------------------------------------------------------

def deactivate(actor: audit.Actor, held: frozenset[str], user_id: UUID) -> User:
    """Soft delete (``accounts.deactivate_user``) of an account within the caller's reach."""
    return accounts.deactivate_user(within_reach(held, user_id), actor)


def reactivate(actor: audit.Actor, held: frozenset[str], user_id: UUID) -> User:
    """Undo a soft delete: the account may sign in again (its old sessions stay ended)."""
    user = within_reach(held, user_id)
    if user.is_active:
        return user
    user.is_active = True
    user.updated_at = now()
    audit.record(actor, "user.reactivate", target_type="user", target_id=user.id,
                 before={"isActive": False}, after={"isActive": True})
    db.session.commit()
    security.info("account.reactivated user_id=%s", user.id)
    return user


def force_password_reset(actor: audit.Actor, held: frozenset[str], user_id: UUID) -> int:
    """The password stops working, every session and token of the account ends, and a reset code
    is mailed (the same code the forgotten-password flow takes). Returns the sessions ended."""
    user = within_reach(held, user_id)
    # Serialized with token issuance for this user, as every password change is.
    accounts.lock(user.id)
    had_password = user.password_hash is not None
    user.password_hash = None
    user.updated_at = now()
    audit.record(actor, "user.password_reset", target_type="user", target_id=user.id,
                 before={"passwordSet": had_password}, after={"passwordSet": False})
    db.session.commit()
    ended = accounts.end_credentials(user.id)
    security.info("password.reset_forced user_id=%s sessions_ended=%d", user.id, ended)
    if user.is_active:
        verification.unsent(user.id, RESET_PURPOSE)  # a forced reset is never "too soon"
        mailer.send_code_after(user.id, user.email, RESET_PURPOSE, "reset_password", "Reset your password")
    return ended


# --- roles ------------------------------------------------------------------------------------------------

def set_roles(actor: audit.Actor, held: frozenset[str], user_id: UUID, role_ids: Iterable[UUID]) -> User:
    """Give the account exactly these roles (and ``user``, which every account keeps)."""
    user = get(user_id)
    return _change_roles(actor, held, user, _with_default(_roles_by_id(role_ids)))


def add_role(actor: audit.Actor, held: frozenset[str], user_id: UUID, role_id: UUID) -> User:
    """Give the account one more role (nothing changes if it has it)."""
    user = get(user_id)
    role = _role(role_id)
    return _change_roles(actor, held, user, [*user.roles, role] if role not in user.roles else list(user.roles))


def remove_role(actor: audit.Actor, held: frozenset[str], user_id: UUID, role_id: UUID) -> User:
    """Take one role from the account; the ``user`` role stays."""
    user = get(user_id)
    role = _role(role_id)
    if role.name == rbac.DEFAULT_ROLE:
        raise InvalidInput("Every account keeps the user role.")
    if role not in user.roles:
        raise NotFound("The user does not hold this role.")
    return _change_roles(actor, held, user, [kept for kept in user.roles if kept != role])


def _change_roles(actor: audit.Actor, held: frozenset[str], user: User, roles: list[Role]) -> User:
    before = snapshot(user, ["roles"])
    _assign(held, user, roles)
    user.updated_at = now()
    audit.record(actor, "user.roles", target_type="user", target_id=user.id, before=before,
                 after=snapshot(user, ["roles"]))
    db.session.commit()
    security.info("account.roles user_id=%s roles=%s", user.id, ",".join(user.role_names))
    return user


def _assign(held: frozenset[str], user: User, roles: list[Role]) -> None:
    """Set the roles, under both rules: the caller holds every permission of each role added or
    removed, and the last active superAdmin keeps the role."""
    current = {role.id: role for role in user.roles}
    wanted = {role.id: role for role in roles}
    added = [role for role_id, role in wanted.items() if role_id not in current]
    removed = [role for role_id, role in current.items() if role_id not in wanted]
    rbac.require_held(held, _permissions_of(added + removed))
    if user.is_active and any(role.name == rbac.SUPERADMIN for role in removed):
        rbac.require_another_superadmin(user.id)
    user.roles = list(wanted.values())


def within_reach(held: frozenset[str], user_id: UUID) -> User:
    """The account, if the caller holds every permission its roles give (active or not: a
    deactivated superAdmin given a new address and reactivated is a superAdmin all the same)."""
    user = get(user_id)
    missing = sorted(_permissions_of(list(user.roles)) - held)
    if missing:
        raise OutOfReach(missing[0])
    return user


def _holds(user: User, role_name: str) -> bool:
    return any(role.name == role_name for role in user.roles)


def _role(role_id: UUID) -> Role:
    role = db.session.get(Role, role_id)
    if role is None:
        raise NotFound("No such role.")
    return role


def _roles_by_id(role_ids: Iterable[UUID]) -> list[Role]:
    ids = list(dict.fromkeys(role_ids))
    found = {role.id: role for role in db.session.scalars(select(Role).where(Role.id.in_(ids)))} if ids else {}
    missing = [str(role_id) for role_id in ids if role_id not in found]
    if missing:
        raise InvalidFields({"roles": [f"No role with id {missing[0]}."]})
    return [found[role_id] for role_id in ids]


def _with_default(roles: list[Role]) -> list[Role]:
    if any(role.name == rbac.DEFAULT_ROLE for role in roles):
        return roles
    return [*roles, *rbac.roles_named({rbac.DEFAULT_ROLE})]


def _permissions_of(roles: list[Role]) -> set[str]:
    """What holding these roles gives: superAdmin gives every permission there is."""
    if any(role.name == rbac.SUPERADMIN for role in roles):
        return {permission.name for permission in rbac.all_permissions()}
    return {permission.name for role in roles for permission in role.permissions}


# --- sessions and history -------------------------------------------------------------------------------

def live_sessions(user_id: UUID) -> list[UserSession]:
    """The account's live sessions, most recently used first."""
    return sessions.list_for_user(get(user_id).id)


def end_session(actor: audit.Actor, held: frozenset[str], user_id: UUID, session_id: UUID) -> None:
    """End one live session of the account (NotFound for any other id): its tokens stop too."""
    user = within_reach(held, user_id)
    if not any(live.id == session_id for live in sessions.list_for_user(user.id)):
        raise NotFound("No such session.")
    audit.record(actor, "user.session_end", target_type="user", target_id=user.id,
                 before={"session": str(session_id), "live": True}, after={"session": str(session_id), "live": False})
    if not sessions.end(session_id):  # ended a moment ago by someone else
        db.session.rollback()
        raise NotFound("No such session.")
    security.info("session.ended_by_admin user_id=%s session_id=%s", user.id, session_id)


def end_sessions(actor: audit.Actor, held: frozenset[str], user_id: UUID) -> int:
    """End every live session of the account; returns how many ended."""
    user = within_reach(held, user_id)
    live = len(sessions.list_for_user(user.id))
    audit.record(actor, "user.sessions_end", target_type="user", target_id=user.id,
                 before={"liveSessions": live}, after={"liveSessions": 0})
    ended = sessions.end_all_for(user.id)
    if not ended:
        db.session.commit()  # the event alone: sessions.end_all_for committed nothing
    security.info("session.all_ended_by_admin user_id=%s count=%d", user.id, ended)
    return ended


def login_history(user_id: UUID, cursor: str | None = None, limit: int = 20) -> directory.Page:
    """The account's sign-in attempts, newest first, in keyset pages."""
    return directory.login_history(get(user_id).id, cursor, limit)
