"""The admin JSON API under /api/v1/admin: every route is guarded by ``requires_permission``.

The blueprint is exempt from Flask-WTF's automatic check because bearer tokens call it too; the
guard checks the CSRF token itself when the caller is a browser session.
"""

from flask import Blueprint
from flask import Flask

from ...extensions import csrf

bp = Blueprint("admin_api", __name__, url_prefix="/api/v1/admin")
csrf.exempt(bp)


def init_app(app: Flask) -> None:
    from . import audit  # noqa: F401
    from . import permissions  # noqa: F401  (registers its routes on the blueprint)
    from . import roles  # noqa: F401
    from . import users  # noqa: F401

    app.register_blueprint(bp)
