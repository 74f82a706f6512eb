"""The console dashboard's figures: each one cheap query, however large the tables grow.

A count over a whole table is exact up to EXACT_BELOW rows (an index read that stops there) and,
past it, PostgreSQL's estimate (``pg_class.reltuples``, kept by ANALYZE and autovacuum), shown as
"about N": an exact count would read a million rows. A count under a filter reads at most
``CEILING`` rows of an index range and says "N+" past it.
"""

from datetime import datetime
from datetime import time
from datetime import timezone

from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy import text

from ..clock import now
from ..extensions import db
from ..models.audit import AuditEvent
from ..models.sessions import UserSession
from ..models.users import User

CEILING = 10_000
# Below this many rows a table is counted exactly, whatever the backend.
EXACT_BELOW = 100_000


def table_size(model) -> str:
    """How many rows ``model``'s table holds: exact up to EXACT_BELOW (read from an index, at most
    that many), past it PostgreSQL's estimate. The estimate alone could be far off after a mass
    delete, until ANALYZE runs again; the bounded count cannot."""
    counted = db.session.scalar(select(func.count()).select_from(
        select(model.__table__.primary_key.columns.values()[0]).limit(EXACT_BELOW + 1).subquery()))
    if counted <= EXACT_BELOW:
        return f"{counted:,}"
    if db.engine.dialect.name == "postgresql":
        estimate = db.session.scalar(text("SELECT reltuples::bigint FROM pg_class WHERE oid = to_regclass(:name)"),
                                     {"name": model.__table__.name})
        if estimate is not None and estimate > EXACT_BELOW:
            return f"about {estimate:,}"
        return f"more than {EXACT_BELOW:,}"
    return f"{db.session.scalar(select(func.count()).select_from(model)):,}"


def capped_count(query) -> str:
    """The rows ``query`` selects, reading at most CEILING + 1 of them."""
    counted = db.session.scalar(select(func.count()).select_from(query.limit(CEILING + 1).subquery()))
    return f"{CEILING:,}+" if counted > CEILING else f"{counted:,}"


def users() -> str:
    return table_size(User)


def active_sessions() -> str:
    moment = now()
    live = select(UserSession.id).where(UserSession.revoked_at.is_(None), UserSession.expires_at > moment)
    return capped_count(live)


def _today() -> datetime:
    return datetime.combine(now().date(), time(), tzinfo=timezone.utc)


def _signins(action: str) -> str:
    # The (action, created_at) index bounds the range.
    return capped_count(select(AuditEvent.id).where(AuditEvent.action == action, AuditEvent.created_at >= _today()))


def sign_ins_today() -> str:
    return _signins("signin.success")


def failed_sign_ins_today() -> str:
    return _signins("signin.failure")
