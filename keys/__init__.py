"""The signing key ring. Knows nothing of users or OAuth: it uses the shared ``db`` handle (with its
column type) from ``app/extensions.py``, the clock in ``app/clock.py``, and for its admin routes
(``keys/admin.py``) the admin guard (``app.web.permissions``), the API's request/response models
(``app.api.spec``) and the audit log (``app.services.audit``), and to serve the JWKS as prebuilt bytes
``app.web.documents``."""

from flask import Flask


def init_app(app: Flask, notices) -> None:
    """Register the ring's table, its in-memory cache, its routes and its commands.

    ``notices`` (a ``ring.Notices``) carries ring changes between processes; the factory wires it.
    """
    from app.web import documents

    from . import admin
    from . import cli
    from . import console
    from . import models  # noqa: F401  (registers signing_keys with the metadata)
    from . import ring
    from . import views

    ring.init_app(app, notices)
    app.register_blueprint(views.bp)
    documents.publish(app, "/.well-known/jwks.json", views.jwks_document)
    app.register_blueprint(admin.bp)
    console.init_app(app)
    app.cli.add_command(cli.keys)
