"""Permissions: the fixed set the admin API checks."""

from ...services import rbac
from ...web.permissions import requires_permission
from ..schemas.roles import PermissionList
from ..schemas.roles import PermissionOut
from ..spec import ADMIN_SECURITY
from ..spec import responses
from ..spec import validate
from . import bp


@bp.get("/permissions")
@requires_permission("roles:read")
@validate(resp=responses({200: PermissionList}, errors=(401, 403)), tags=["admin: roles"], security=ADMIN_SECURITY)
def list_permissions():
    """Every permission, by name."""
    return PermissionList(items=[PermissionOut.model_validate(permission) for permission in rbac.all_permissions()])
