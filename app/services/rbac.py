"""Roles: the built-in set and assignments."""

from sqlalchemy import select

from ..extensions import db
from ..models import Role
from .errors import NotFound

DEFAULT_ROLE = "user"


def roles_named(names: set[str]) -> list[Role]:
    """The roles with these names; NotFound names the first that does not exist."""
    found = list(db.session.scalars(select(Role).where(Role.name.in_(names))))
    missing = names - {role.name for role in found}
    if missing:
        raise NotFound(f"No role named {sorted(missing)[0]!r}.")
    return found
