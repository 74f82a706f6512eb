"""Users: the directory (filters, sorting, keyset pages), one account, its changes, its roles, its
sessions and sign-ins. Reads need users:read, changes users:write; sessions need sessions:read and
sessions:write. The services record one audit event per change (app/services/users.py)."""

from uuid import UUID

from flask import Response
from flask import url_for

from ...services import directory
from ...services import history
from ...services import users
from ...web.permissions import caller
from ...web.permissions import requires_permission
from ..schemas.users import HistoryQuery
from ..schemas.users import LoginAttemptOut
from ..schemas.users import LoginHistoryPage
from ..schemas.users import RoleSet
from ..schemas.users import SessionList
from ..schemas.users import SessionOut
from ..schemas.users import SessionsEnded
from ..schemas.users import UserCreate
from ..schemas.users import UserOut
from ..schemas.users import UserPage
from ..schemas.users import UserQuery
from ..schemas.users import UserUpdate
from ..spec import ADMIN_SECURITY
from ..spec import responses
from ..spec import validate
from . import bp

TAGS = ["admin: users"]
READ_ERRORS = (401, 403, 404, 422)
WRITE_ERRORS = (400, 401, 403, 404, 409, 422)


@bp.get("/users")
@requires_permission("users:read")
@validate(query=UserQuery, resp=responses({200: UserPage}, errors=(400, 401, 403, 422)), tags=TAGS,
          security=ADMIN_SECURITY)
def list_users(query: UserQuery):
    """Accounts matching every filter given, one keyset page at a time (newest first by default)."""
    page = directory.list_users(query.filters(), query.sort, query.cursor, query.limit, query.include_total)
    return UserPage(items=[UserOut.of(user) for user in page.items], next_cursor=page.next_cursor, total=page.total)


@bp.post("/users")
@requires_permission("users:write")
@validate(json=UserCreate, resp=responses({201: UserOut}, errors=WRITE_ERRORS), tags=TAGS, security=ADMIN_SECURITY)
def create_user(json: UserCreate):
    """Create an account. Without a password its owner is mailed a code to set one; unless
    ``emailVerified`` is true, a code to verify the address as well."""
    actor, held = caller()
    user = users.create(actor, held, email=json.email, fullname=json.fullname, password=json.password,
                        phone=json.phone, address=json.address, role_ids=json.roles,
                        email_verified=json.email_verified)
    return UserOut.of(user), 201, {"Location": url_for(".get_user", user_id=user.id)}


@bp.get("/users/<uuid:user_id>")
@requires_permission("users:read")
@validate(resp=responses({200: UserOut}, errors=READ_ERRORS), tags=TAGS, security=ADMIN_SECURITY)
def get_user(user_id: UUID):
    """One account, active or deleted."""
    return UserOut.of(users.read(user_id))


@bp.patch("/users/<uuid:user_id>")
@requires_permission("users:write")
@validate(json=UserUpdate, resp=responses({200: UserOut}, errors=WRITE_ERRORS), tags=TAGS, security=ADMIN_SECURITY)
def update_user(user_id: UUID, json: UserUpdate):
    """Change fullname, avatar, phone, address, email (verified again by a mailed code) or roles."""
    actor, held = caller()
    return UserOut.of(users.change(actor, held, user_id, json.model_dump(exclude_unset=True, by_alias=False)))


@bp.delete("/users/<uuid:user_id>")
@requires_permission("users:write")
@validate(resp=responses({204: None}, errors=WRITE_ERRORS), tags=TAGS, security=ADMIN_SECURITY)
def delete_user(user_id: UUID):
    """Soft delete: ``isActive`` false, every session ended, every token revoked."""
    actor, held = caller()
    users.deactivate(actor, held, user_id)
    return Response(status=204)


@bp.post("/users/<uuid:user_id>/reactivate")
@requires_permission("users:write")
@validate(resp=responses({200: UserOut}, errors=WRITE_ERRORS), tags=TAGS, security=ADMIN_SECURITY)
def reactivate_user(user_id: UUID):
    """Undo a soft delete."""
    actor, held = caller()
    return UserOut.of(users.reactivate(actor, held, user_id))


@bp.post("/users/<uuid:user_id>/password-reset")
@requires_permission("users:write")
@validate(resp=responses({202: SessionsEnded}, errors=WRITE_ERRORS), tags=TAGS, security=ADMIN_SECURITY)
def force_password_reset(user_id: UUID):
    """The password stops working, sessions and tokens end, and a reset code is mailed to the user."""
    actor, held = caller()
    return SessionsEnded(sessions_ended=users.force_password_reset(actor, held, user_id)), 202


# --- roles (the specification's UserRole) ---------------------------------------------------------------

@bp.put("/users/<uuid:user_id>/roles")
@requires_permission("users:write")
@validate(json=RoleSet, resp=responses({200: UserOut}, errors=WRITE_ERRORS), tags=TAGS, security=ADMIN_SECURITY)
def set_roles(user_id: UUID, json: RoleSet):
    """Exactly these roles (plus ``user``). You must hold every permission of a role you add or remove."""
    actor, held = caller()
    return UserOut.of(users.set_roles(actor, held, user_id, json.roles))


@bp.post("/users/<uuid:user_id>/roles/<uuid:role_id>")
@requires_permission("users:write")
@validate(resp=responses({200: UserOut}, errors=WRITE_ERRORS), tags=TAGS, security=ADMIN_SECURITY)
def add_role(user_id: UUID, role_id: UUID):
    """Give the user one more role."""
    actor, held = caller()
    return UserOut.of(users.add_role(actor, held, user_id, role_id))


@bp.delete("/users/<uuid:user_id>/roles/<uuid:role_id>")
@requires_permission("users:write")
@validate(resp=responses({200: UserOut}, errors=WRITE_ERRORS), tags=TAGS, security=ADMIN_SECURITY)
def remove_role(user_id: UUID, role_id: UUID):
    """Take a role from the user (never ``user``; never superAdmin from the last active one)."""
    actor, held = caller()
    return UserOut.of(users.remove_role(actor, held, user_id, role_id))


# --- sessions and sign-ins --------------------------------------------------------------------------------

@bp.get("/users/<uuid:user_id>/sessions")
@requires_permission("sessions:read")
@validate(resp=responses({200: SessionList}, errors=READ_ERRORS), tags=TAGS, security=ADMIN_SECURITY)
def list_sessions(user_id: UUID):
    """The user's live sessions, most recently used first."""
    return SessionList(items=[_session(item) for item in users.live_sessions(user_id)])


@bp.delete("/users/<uuid:user_id>/sessions/<uuid:session_id>")
@requires_permission("sessions:write")
@validate(resp=responses({204: None}, errors=WRITE_ERRORS), tags=TAGS, security=ADMIN_SECURITY)
def end_session(user_id: UUID, session_id: UUID):
    """End one of the user's sessions; the tokens issued in it stop."""
    actor, held = caller()
    users.end_session(actor, held, user_id, session_id)
    return Response(status=204)


@bp.delete("/users/<uuid:user_id>/sessions")
@requires_permission("sessions:write")
@validate(resp=responses({200: SessionsEnded}, errors=WRITE_ERRORS), tags=TAGS, security=ADMIN_SECURITY)
def end_sessions(user_id: UUID):
    """End every session of the user; the tokens issued in them stop."""
    actor, held = caller()
    return SessionsEnded(sessions_ended=users.end_sessions(actor, held, user_id))


@bp.get("/users/<uuid:user_id>/login-history")
@requires_permission("users:read")
@validate(query=HistoryQuery, resp=responses({200: LoginHistoryPage}, errors=(400, *READ_ERRORS)), tags=TAGS,
          security=ADMIN_SECURITY)
def login_history(user_id: UUID, query: HistoryQuery):
    """The user's sign-in attempts, newest first, one keyset page at a time."""
    page = users.login_history(user_id, query.cursor, query.limit)
    return LoginHistoryPage(items=[LoginAttemptOut(id=item.id, time=item.time, ip_address=item.ip_address,
                                                   device=history.device_name(item.device_info),
                                                   method=item.method, outcome=item.outcome)
                                   for item in page.items],
                            next_cursor=page.next_cursor)


def _session(item) -> SessionOut:
    return SessionOut(id=item.id, device=history.device_name(item.user_agent), user_agent=item.user_agent,
                      ip_address=item.ip_address, amr=item.amr or [], created_at=item.created_at,
                      last_seen_at=item.last_seen_at, expires_at=item.expires_at)
