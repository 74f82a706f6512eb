"""The admin console at /admin: server-rendered pages over the same services as the admin API.

Every page is guarded twice, by the two guards every other area uses: ``requires_session`` (no
session: to the sign-in page and back) and ``requires_permission`` (the permission the matching
admin API route needs; without it, the HTML 403 page). A form that changes something carries the
CSRF token, checked by ``requires_permission`` for any state-changing request. The navigation
lists only the sections the signed-in admin may open; the server still checks each one.

One module per section. The account sections are here, on ``bp``; the applications (oauth/) and the
signing keys (keys/) are pages of their own packages, on blueprints of their own under /admin, which
declare their sections with ``section`` too. The dashboard shows the figures each package adds with
``add_figure``, each only to an admin holding its permission.
"""

from dataclasses import dataclass

from flask import Blueprint
from flask import Flask
from flask import current_app
from flask import request
from flask import url_for

from ...services import user_cache
from ...web.permissions import current_principal
from ...web.permissions import requires_permission
from ...web.session import current_session_view
from ...web.session import requires_session

bp = Blueprint("console", __name__, url_prefix="/admin")


@dataclass(frozen=True)
class Section:
    endpoint: str
    label: str
    permission: str


# In the navigation's order; a section appears once its module registered its endpoint.
SECTIONS: list[Section] = []


@dataclass(frozen=True)
class Figure:
    label: str
    permission: str
    read: object  # () -> str, run in the request's unit of work; cheap queries only


def section(endpoint: str, label: str, permission: str) -> None:
    """Add a section to the navigation: the view ``endpoint`` (its full name), for ``permission``."""
    if all(known.endpoint != endpoint for known in SECTIONS):
        SECTIONS.append(Section(endpoint, label, permission))


def add_figure(app: Flask, label: str, permission: str, read) -> None:
    """A figure of the dashboard: ``read()`` returns its text."""
    app.extensions.setdefault("console_figures", []).append(Figure(label, permission, read))


def console_page(permission: str):
    """A console view: a live session, then ``permission`` (403 page without it)."""
    def decorate(view):
        return requires_session(requires_permission(permission)(view))
    return decorate


def visible_sections() -> list[dict]:
    """The sections the caller holds the permission of, for the navigation (the dashboard first,
    for anyone who may open one section)."""
    principal = current_principal()
    held = principal.permissions if principal is not None else frozenset()
    path = request.path
    shown = [{"label": section.label, "url": url_for(section.endpoint)}
             for section in SECTIONS if section.permission in held]
    for item in shown:  # a section's own pages (/admin/users/<id>) are in it too
        item["current"] = path == item["url"] or path.startswith(item["url"] + "/")
    home = url_for("console.index")
    return [{"label": "Dashboard", "url": home, "current": path == home}, *shown]


def console_permissions() -> frozenset[str]:
    """Every permission that opens some part of the console: a section, or a dashboard figure."""
    figures = current_app.extensions.get("console_figures", [])
    return frozenset(section.permission for section in SECTIONS) | {figure.permission for figure in figures}


def may(permission: str) -> bool:
    """Whether the caller holds ``permission``: pages offer only what the admin may do."""
    principal = current_principal()
    return principal is not None and permission in principal.permissions


def _context() -> dict:
    return {"console_sections": visible_sections, "may": may, "signed_in": signed_in}


def signed_in() -> dict | None:
    """For the header of every page: who is signed in in this browser, and whether the console is
    theirs to open. From the session alone (a page is never judged on a bearer token)."""
    session = current_session_view()
    if session is None:
        return None
    user = user_cache.get(session.user_id)
    if user is None:
        return None
    return {"email": user.email, "console": not user_cache.permissions_of(user.id).isdisjoint(console_permissions())}


def init_app(app: Flask) -> None:
    from . import audit
    from . import dashboard
    from . import roles
    from . import users

    dashboard.init_app(app)
    users.init_app(app)
    roles.init_app(app)
    audit.init_app(app)
    app.register_blueprint(bp)
    # For every template: the header's account, and the console's navigation and ``may`` for the
    # console pages of every package (each is a function, run only where a template calls it).
    app.context_processor(_context)
