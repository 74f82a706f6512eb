"""Roles and permissions: the built-in set, assignments, and what a user may do.

A user's permissions are the union of their roles' permissions, read in one query. ``superAdmin``
holds every permission there is, including any a later release adds.
"""

from uuid import UUID
from uuid import uuid4

from sqlalchemy import and_
from sqlalchemy import delete
from sqlalchemy import exists
from sqlalchemy import func
from sqlalchemy import or_
from sqlalchemy import select
from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..clock import now
from ..extensions import db
from ..models import Permission
from ..models import Role
from ..models import User
from ..models import role_permissions
from ..models import user_roles
from . import audit
from .errors import Conflict
from .errors import LastSuperAdmin
from .errors import NotFound
from .errors import PermissionNotHeld

DEFAULT_ROLE = "user"
SUPERADMIN = "superAdmin"
ADMIN = "admin"
BUILTIN_ROLES = frozenset({SUPERADMIN, ADMIN, DEFAULT_ROLE})
# Most privileged first; custom roles rank between admin and user, by name.
RANK = {SUPERADMIN: 0, ADMIN: 1, DEFAULT_ROLE: 3}


def roles_named(names: set[str]) -> list[Role]:
    """The roles with these names; NotFound names the first that does not exist."""
    found = list(db.session.scalars(select(Role).where(Role.name.in_(names))))
    missing = names - {role.name for role in found}
    if missing:
        raise NotFound(f"No role named {sorted(missing)[0]!r}.")
    return found


def _holds_superadmin(user_id: UUID):
    return exists().where(user_roles.c.user_id == user_id, user_roles.c.role_id == Role.id,
                          Role.name == SUPERADMIN)


def _permissions_query(user_id: UUID):
    granted = (select(role_permissions.c.permission_id)
               .join(user_roles, user_roles.c.role_id == role_permissions.c.role_id)
               .where(user_roles.c.user_id == user_id))
    active = exists().where(and_(User.id == user_id, User.is_active.is_(True)))
    return select(Permission.name).where(active, or_(_holds_superadmin(user_id), Permission.id.in_(granted)))


def permissions_of(user_id: UUID, session: Session | None = None) -> frozenset[str]:
    """Every permission an active user holds through their roles (one query; none when inactive),
    read in ``session`` (default: the request's). The hot paths read ``user_cache.permissions_of``."""
    return frozenset((session or db.session).scalars(_permissions_query(user_id)))


def all_permissions() -> list[Permission]:
    """Every permission, by name."""
    return list(db.session.scalars(select(Permission).order_by(Permission.name)))


def by_rank(roles: list[Role]) -> list[Role]:
    """Roles most privileged first: superAdmin, admin, custom roles by name, user."""
    return sorted(roles, key=lambda role: (RANK.get(role.name, 2), role.name))


def primary_role(roles: list[Role]) -> Role | None:
    """The role a user is shown with (the specification's ``roleId``): the most privileged."""
    ranked = by_rank(roles)
    return ranked[0] if ranked else None


def require_held(held: frozenset[str], wanted: set[str]) -> None:
    """Nobody hands out a permission they do not hold: PermissionNotHeld names the first missing."""
    missing = sorted(set(wanted) - held)
    if missing:
        raise PermissionNotHeld(missing[0])


def require_another_superadmin(user_id: UUID) -> None:
    """LastSuperAdmin unless an active account other than ``user_id`` holds superAdmin. Called
    before any change that could take superAdmin from an active account.

    Race-safe: every change that could take superAdmin from an active account first locks the
    superAdmin role's row, so two such changes run one after the other, and the count below is a
    new statement that sees what the previous one committed (PostgreSQL, read committed:
    ``SELECT ... FOR NO KEY UPDATE``, which still lets new assignments reference the role). On
    SQLite a write that changes nothing takes the database's write lock, with the same effect.
    """
    if db.session.get_bind().dialect.name == "sqlite":
        db.session.execute(update(Role).where(Role.name == SUPERADMIN)
                           .values(id=Role.id, updated_at=Role.updated_at)
                           .execution_options(synchronize_session=False))
    else:
        db.session.execute(select(Role.id).where(Role.name == SUPERADMIN).with_for_update(key_share=True))
    others = db.session.scalar(
        select(func.count()).select_from(User)
        .join(user_roles, user_roles.c.user_id == User.id).join(Role, Role.id == user_roles.c.role_id)
        .where(Role.name == SUPERADMIN, User.is_active.is_(True), User.id != user_id))
    if not others:
        db.session.rollback()
        raise LastSuperAdmin()


# --- administration of roles and their permissions (the specification's RolePermission) -------------

def list_roles() -> list[Role]:
    """Every role, most privileged first."""
    return by_rank(list(db.session.scalars(select(Role))))


def get_role(role_id: UUID) -> Role:
    role = db.session.get(Role, role_id)
    if role is None:
        raise NotFound("No such role.")
    return role


def is_builtin(role: Role) -> bool:
    return role.name in BUILTIN_ROLES


def permission_names(role: Role) -> list[str]:
    """What a role grants, by name; ``superAdmin`` grants every permission by definition."""
    if role.name == SUPERADMIN:
        return [permission.name for permission in all_permissions()]
    return sorted(permission.name for permission in role.permissions)


def _snapshot(role: Role) -> dict:
    return {"name": role.name, "description": role.description, "permissions": permission_names(role)}


def permissions_named(names: set[str]) -> list[Permission]:
    """The permissions with these names; NotFound names the first that does not exist."""
    found = list(db.session.scalars(select(Permission).where(Permission.name.in_(names)))) if names else []
    missing = names - {permission.name for permission in found}
    if missing:
        raise NotFound(f"No permission named {sorted(missing)[0]!r}.")
    return found


def _check_name_free(name: str, role_id: UUID | None = None) -> None:
    """Names are unique regardless of case: ``Admin`` beside ``admin`` would only mislead."""
    query = select(Role.id).where(func.lower(Role.name) == name.lower())
    if role_id is not None:
        query = query.where(Role.id != role_id)
    if db.session.scalar(query) is not None:
        raise Conflict(f"A role named {name!r} already exists.")


def _commit_role() -> None:
    try:
        db.session.commit()
    except IntegrityError:  # a concurrent request took the name first
        db.session.rollback()
        raise Conflict("A role with this name already exists.") from None


def create_role(actor: audit.Actor, held: frozenset[str], name: str, description: str = "",
                permissions: set[str] = frozenset()) -> Role:
    """A custom role, optionally granting permissions the actor holds; one audit event."""
    _check_name_free(name)
    granted = permissions_named(set(permissions))
    require_held(held, set(permissions))
    role = Role(id=uuid4(), name=name, description=description, permissions=granted)
    db.session.add(role)
    audit.record(actor, "role.create", target_type="role", target_id=role.id, after=_snapshot(role))
    _commit_role()
    return role


def update_role(actor: audit.Actor, role_id: UUID, name: str | None = None,
                description: str | None = None) -> Role:
    """Rename a custom role or change any role's description; built-in roles keep their names."""
    role = get_role(role_id)
    before = _snapshot(role)
    if name is not None and name != role.name:
        if is_builtin(role):
            raise Conflict(f"The built-in role {role.name!r} cannot be renamed.")
        _check_name_free(name, role.id)
        role.name = name
    if description is not None:
        role.description = description
    role.updated_at = now()
    audit.record(actor, "role.update", target_type="role", target_id=role.id, before=before, after=_snapshot(role))
    _commit_role()
    return role


def delete_role(actor: audit.Actor, role_id: UUID) -> None:
    """Delete a custom role; every user holding it loses it (and what it granted) at once."""
    role = get_role(role_id)
    if is_builtin(role):
        raise Conflict(f"The built-in role {role.name!r} cannot be deleted.")
    before = _snapshot(role)
    holders = db.session.scalar(select(func.count()).select_from(user_roles).where(user_roles.c.role_id == role.id))
    before["users"] = holders
    # Explicit, not left to ON DELETE CASCADE: SQLite enforces foreign keys only when asked to.
    db.session.execute(delete(user_roles).where(user_roles.c.role_id == role.id))
    role.permissions = []
    db.session.delete(role)
    audit.record(actor, "role.delete", target_type="role", target_id=role.id, before=before)
    db.session.commit()


def set_role_permissions(actor: audit.Actor, held: frozenset[str], role_id: UUID, names: set[str]) -> Role:
    """Replace what a role grants with ``names``; the actor must hold every permission added."""
    role = get_role(role_id)
    return _change_permissions(actor, held, role, set(names), "role.permissions.set")


def add_role_permission(actor: audit.Actor, held: frozenset[str], role_id: UUID, name: str) -> Role:
    role = get_role(role_id)
    return _change_permissions(actor, held, role, set(permission_names(role)) | {name}, "role.permission.add")


def remove_role_permission(actor: audit.Actor, held: frozenset[str], role_id: UUID, name: str) -> Role:
    role = get_role(role_id)
    current = set(permission_names(role))
    permissions_named({name})
    if name not in current:
        raise NotFound(f"The role {role.name!r} does not grant {name!r}.")
    return _change_permissions(actor, held, role, current - {name}, "role.permission.remove")


def _change_permissions(actor: audit.Actor, held: frozenset[str], role: Role, names: set[str], action: str) -> Role:
    wanted_permissions = permissions_named(names)
    before = _snapshot(role)
    if role.name == SUPERADMIN:
        # superAdmin holds every permission by definition (permissions_of): nothing can be taken away.
        every = {permission.name for permission in all_permissions()}
        if not every <= names:
            raise Conflict("The superAdmin role holds every permission; none can be removed from it.")
    granted = names - {permission.name for permission in role.permissions}
    require_held(held, granted)
    role.permissions = [permission for permission in wanted_permissions if permission.name in names]
    role.updated_at = now()
    audit.record(actor, action, target_type="role", target_id=role.id, before=before, after=_snapshot(role))
    db.session.commit()
    return role
