"""The signing key ring. Knows nothing of users or OAuth: it uses only the shared ``db`` handle
(with its column type) from ``app/extensions.py`` and the clock in ``app/clock.py``."""

from flask import Flask


def init_app(app: Flask, notices) -> None:
    """Register the ring's table, its in-memory cache, its routes and its commands.

    ``notices`` (a ``ring.Notices``) carries ring changes between processes; the factory wires it.
    """
    from . import cli
    from . import models  # noqa: F401  (registers signing_keys with the metadata)
    from . import ring
    from . import views

    ring.init_app(app, notices)
    app.register_blueprint(views.bp)
    app.cli.add_command(cli.keys)
