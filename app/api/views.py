"""The session's user, liveness and readiness."""

from datetime import datetime
from uuid import UUID

from flask import Blueprint
from flask import current_app
from pydantic import Field

from ..services import health
from ..services import user_cache
from ..web.session import current_session_view
from ..web.session import requires_session
from .schemas.health import Liveness
from .schemas.health import Readiness
from .schemas.users import UserOut
from .spec import SESSION_OR_TOKEN
from .spec import Schema
from .spec import responses
from .spec import validate

bp = Blueprint("api", __name__)


class CurrentSession(Schema):
    id: UUID = Field(description="Also the `sid` claim of the tokens issued in this session.")
    expires_at: datetime = Field(description="The absolute limit.")
    idle_expires_at: datetime = Field(description="When the session ends unless used before.")


class CurrentUser(UserOut):
    """The signed-in user, in the specification's names, and the session."""

    session: CurrentSession


@bp.get("/currentuser")
@requires_session
@validate(resp=responses({200: CurrentUser}, errors=(401,)), tags=["me"], security=SESSION_OR_TOKEN)
def current_user():
    """The signed-in user and the session (401 when the cookie or token opens no live session)."""
    session = current_session_view()
    user = user_cache.get(session.user_id)
    return CurrentUser(**UserOut.of(user).model_dump(by_alias=False), session=CurrentSession(
        id=session.id, expires_at=session.expires_at,
        idle_expires_at=session.idle_expires_at(current_app.config["SESSION_IDLE_TTL"])))


@bp.get("/health")
@validate(resp=responses({200: Liveness}), tags=["health"])
def liveness():
    """The process is up; touches no dependency."""
    return Liveness(status="ok")


@bp.get("/admin/health")
@validate(resp=responses({200: Readiness, 503: Readiness}), tags=["health"])
def readiness():
    """Every dependency answers (200), or 503 naming the one that does not (with Retry-After)."""
    healthy, components = health.report()
    body = Readiness(status="ok" if healthy else "unavailable", components=components)
    if healthy:
        return body
    return body, 503, {"Retry-After": "5"}
