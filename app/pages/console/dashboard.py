"""The console's first page: a few figures about the server, each shown to an admin holding its
permission (a caller holding none of them gets the 403 page)."""

from flask import Flask
from flask import current_app
from flask import render_template

from ...services import dashboard
from ...web.permissions import require_any
from ...web.session import requires_session
from . import add_figure
from . import bp
from . import console_permissions
from . import may


@bp.get("")
@requires_session
def index():
    require_any(console_permissions())
    known = current_app.extensions.get("console_figures", [])
    shown = [(figure.label, figure.read()) for figure in known if may(figure.permission)]
    return render_template("console/dashboard.html", figures=shown)


def init_app(app: Flask) -> None:
    add_figure(app, "Users", "users:read", dashboard.users)
    add_figure(app, "Active sessions", "sessions:read", dashboard.active_sessions)
    add_figure(app, "Sign-ins today", "audit:read", dashboard.sign_ins_today)
    add_figure(app, "Failed sign-ins today", "audit:read", dashboard.failed_sign_ins_today)
