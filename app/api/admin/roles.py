"""Roles and what they grant (the specification's Role and RolePermission).

Reads need ``roles:read``, changes ``roles:write``; nobody grants a permission they do not hold,
built-in roles are neither deleted nor renamed, and every change is one audit event
(``app/services/rbac.py``). Assigning roles to users lives with the users (``/users/{id}/roles``).
"""

from uuid import UUID

from flask import Response

from ...services import rbac
from ...web.permissions import caller
from ...web.permissions import requires_permission
from ..schemas.roles import RoleCreate
from ..schemas.roles import RoleList
from ..schemas.roles import RoleOut
from ..schemas.roles import RolePermissions
from ..schemas.roles import RoleUpdate
from ..spec import ADMIN_SECURITY
from ..spec import responses
from ..spec import validate
from . import bp

TAGS = ["admin: roles"]
# A permission name in the path: area:action, at most 100 characters (longer names no permission).
PERMISSION_PATH = "/roles/<uuid:role_id>/permissions/<string(maxlength=100):name>"


@bp.get("/roles")
@requires_permission("roles:read")
@validate(resp=responses({200: RoleList}, errors=(401, 403)), tags=TAGS, security=ADMIN_SECURITY)
def list_roles():
    """Every role, most privileged first, with the permissions each grants."""
    return RoleList(items=[RoleOut.of(role) for role in rbac.list_roles()])


@bp.post("/roles")
@requires_permission("roles:write")
@validate(json=RoleCreate, resp=responses({201: RoleOut}, errors=(400, 401, 403, 404, 409, 415, 422)),
          tags=TAGS, security=ADMIN_SECURITY)
def create_role(json: RoleCreate):
    """Create a custom role; it may grant only permissions the caller holds."""
    actor, held = caller()
    role = rbac.create_role(actor, held, json.name, json.description, set(json.permissions))
    return RoleOut.of(role), 201


@bp.get("/roles/<uuid:role_id>")
@requires_permission("roles:read")
@validate(resp=responses({200: RoleOut}, errors=(401, 403, 404)), tags=TAGS, security=ADMIN_SECURITY)
def get_role(role_id: UUID):
    """One role."""
    return RoleOut.of(rbac.get_role(role_id))


@bp.patch("/roles/<uuid:role_id>")
@requires_permission("roles:write")
@validate(json=RoleUpdate, resp=responses({200: RoleOut}, errors=(400, 401, 403, 404, 409, 415, 422)),
          tags=TAGS, security=ADMIN_SECURITY)
def update_role(role_id: UUID, json: RoleUpdate):
    """Rename a custom role or change a role's description (built-in roles keep their names: 409)."""
    actor, _ = caller()
    return RoleOut.of(rbac.update_role(actor, role_id, name=json.name, description=json.description))


@bp.delete("/roles/<uuid:role_id>")
@requires_permission("roles:write")
@validate(resp=responses({204: None}, errors=(401, 403, 404, 409)), tags=TAGS, security=ADMIN_SECURITY)
def delete_role(role_id: UUID):
    """Delete a custom role; its users lose it at once. Built-in roles cannot be deleted (409)."""
    actor, _ = caller()
    rbac.delete_role(actor, role_id)
    return Response(status=204)


@bp.put("/roles/<uuid:role_id>/permissions")
@requires_permission("roles:write")
@validate(json=RolePermissions, resp=responses({200: RoleOut}, errors=(400, 401, 403, 404, 409, 415, 422)),
          tags=TAGS, security=ADMIN_SECURITY)
def set_role_permissions(role_id: UUID, json: RolePermissions):
    """Replace the set of permissions the role grants (by name). superAdmin's set cannot shrink."""
    actor, held = caller()
    return RoleOut.of(rbac.set_role_permissions(actor, held, role_id, set(json.permissions)))


@bp.post(PERMISSION_PATH)
@requires_permission("roles:write")
@validate(resp=responses({200: RoleOut}, errors=(401, 403, 404)), tags=TAGS, security=ADMIN_SECURITY)
def add_role_permission(role_id: UUID, name: str):
    """Grant one more permission through the role (one the caller holds)."""
    actor, held = caller()
    return RoleOut.of(rbac.add_role_permission(actor, held, role_id, name))


@bp.delete(PERMISSION_PATH)
@requires_permission("roles:write")
@validate(resp=responses({200: RoleOut}, errors=(401, 403, 404, 409)), tags=TAGS, security=ADMIN_SECURITY)
def remove_role_permission(role_id: UUID, name: str):
    """Stop granting one permission through the role."""
    actor, held = caller()
    return RoleOut.of(rbac.remove_role_permission(actor, held, role_id, name))
