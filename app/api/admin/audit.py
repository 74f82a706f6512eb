"""The security event log: sign-ins, lockouts, refusals and every admin change, newest first."""

from ...services import audit
from ...web.permissions import requires_permission
from ..schemas.audit import AuditEventOut
from ..schemas.audit import AuditPage
from ..schemas.audit import AuditQuery
from ..spec import ADMIN_SECURITY
from ..spec import responses
from ..spec import validate
from . import bp


@bp.get("/audit")
@requires_permission("audit:read")
@validate(query=AuditQuery, resp=responses({200: AuditPage}, errors=(400, 401, 403, 422)), tags=["admin: audit"],
          security=ADMIN_SECURITY)
def list_audit_events(query: AuditQuery):
    """Events newest first, filtered, a page at a time (follow `nextCursor`)."""
    found = audit.page(action=query.action, actor_user_id=query.actor_user_id, target_id=query.target_id,
                       since=query.from_, until=query.to, limit=query.limit, cursor=query.cursor)
    return AuditPage(items=[AuditEventOut.model_validate(event) for event in found.events],
                     next_cursor=found.next_cursor)
