"""The session's user, liveness and readiness."""

from flask import Blueprint
from flask import current_app
from flask import jsonify

from ..services import health
from ..web import current_session
from .errors import problem

bp = Blueprint("api", __name__)


@bp.get("/currentuser")
def current_user():
    """The signed-in user and the session, or 401 when the cookie opens no live session."""
    session = current_session()
    if session is None:
        response = problem(401, "Unauthorized", "No valid session.")
        if "bearer_session_resolver" in current_app.extensions:  # RFC 6750 §3: the scheme accepted
            response.headers["WWW-Authenticate"] = f'Bearer realm="{current_app.config["ISSUER"]}"'
        return response
    user = session.user
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
