"""The identity provider's Flask application."""

import logging
import os

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from .config import check_settings
from .config import derive_settings
from .config import load_settings


def create_app(config: dict | None = None) -> Flask:
    """Build the application: settings, checks, logging, extensions, blueprints, CLI."""
    app = Flask(__name__, instance_relative_config=True)
    settings = load_settings(os.environ)
    settings.update(config or {})
    derive_settings(settings, app.instance_path)
    app.config.update(settings)
    check_settings(app.config)
    setup_logging(app)

    from .web.documents import PrebuiltDocuments
    from .web.hosts import HostCheck

    # Inside ProxyFix: a forwarded Host is checked as well (before a prebuilt document is served).
    app.wsgi_app = HostCheck(PrebuiltDocuments(app, app.wsgi_app), app.config["ISSUER"])
    hops = app.config["TRUSTED_PROXY_HOPS"]
    if hops:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops, x_port=hops,
                                x_prefix=hops)

    from . import api
    from . import cli
    from . import errors
    from . import extensions
    from . import models  # noqa: F401  (registers the tables with the metadata)
    from . import pages
    from . import schema
    from . import web
    from .services import health
    from .services import notices
    from .services import passwords
    from .services import sessions
    from .services import user_cache

    extensions.init_app(app)
    notices.init_app(app)
    user_cache.init_app(app)
    sessions.init_app(app)
    passwords.configure(app)
    web.init_app(app)
    errors.init_app(app)
    pages.init_app(app)
    api.init_app(app)
    cli.init_app(app)
    schema.init_app(app)
    health.register(app, "database", health.check_database)
    if app.config["REDIS_URL"]:
        health.register(app, "redis", health.check_redis)

    import keys
    from keys import ring

    keys.init_app(app, notices.channel(app, "keys"))
    health.register(app, "keys", ring.check_health)
    app.extensions.setdefault("bootstrap_steps", []).append(ring.announce_current)

    import oauth

    oauth.init_app(app)
    return app


def setup_logging(app: Flask) -> None:
    """One handler on the root logger, unless the host (gunicorn, pytest) installed its own."""
    root = logging.getLogger()
    if not root.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        root.addHandler(handler)
    if root.level == logging.WARNING or root.level == logging.NOTSET:
        root.setLevel(logging.INFO)
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
