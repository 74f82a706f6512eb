"""The session's user, liveness and readiness."""

from flask import Blueprint
from flask import current_app
from flask import jsonify

from ..services import health
from ..services import user_cache
from ..web.session import current_session
from ..web.session import requires_session

bp = Blueprint("api", __name__)


@bp.get("/currentuser")
@requires_session
def current_user():
    """The signed-in user and the session (401 when the cookie or token opens no live session)."""
    session = current_session()
    user = user_cache.get(session.user_id)
    return jsonify({
        "id": str(user.id),
        "email": user.email,
        "fullname": user.fullname,
        "avatar": user.avatar,
        "roles": user.role_names,
        "email_verified": user.email_verified,
        "session": {
            "id": str(session.id),
            "expires_at": _iso(session.expires_at),
            "idle_expires_at": _iso(session.idle_expires_at(current_app.config["SESSION_IDLE_TTL"])),
        },
    })


@bp.get("/health")
def liveness():
    """The process is up; touches no dependency."""
    return jsonify({"status": "ok"})


@bp.get("/admin/health")
def readiness():
    """Every dependency answers (200), or 503 naming the one that does not."""
    healthy, components = health.report()
    body = {"status": "ok" if healthy else "unavailable", "components": components}
    response = jsonify(body)
    if not healthy:
        response.status_code = 503
        response.headers["Retry-After"] = "5"
    return response


def _iso(moment) -> str:
    return moment.isoformat().replace("+00:00", "Z")
