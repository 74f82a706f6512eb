"""Roles and permissions: the built-in set, assignments, and what a user may do.

A user's permissions are the union of their roles' permissions, read in one query. ``superAdmin``
holds every permission there is, including any a later release adds.
"""

from uuid import UUID

from sqlalchemy import and_
from sqlalchemy import exists
from sqlalchemy import or_
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..extensions import db
from ..models import Permission
from ..models import Role
from ..models import User
from ..models import role_permissions
from ..models import user_roles
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
