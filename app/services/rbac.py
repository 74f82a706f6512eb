"""Roles and permissions: the built-in set, assignments, and what a user may do.

A user's permissions are the union of their roles' permissions, read in one query. ``superAdmin``
holds every permission there is, including any a later release adds.
"""

from uuid import UUID

from sqlalchemy import and_
from sqlalchemy import exists
from sqlalchemy import func
from sqlalchemy import or_
from sqlalchemy import select
from sqlalchemy import update

from ..extensions import db
from ..models import Permission
from ..models import Role
from ..models import User
from ..models import role_permissions
from ..models import user_roles
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


def permissions_of(user_id: UUID) -> frozenset[str]:
    """Every permission an active user holds through their roles (one query; none when inactive)."""
    return frozenset(db.session.scalars(_permissions_query(user_id)))


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
