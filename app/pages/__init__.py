"""Browser pages: server-rendered, CSRF-protected, usable without JavaScript."""

from flask import Flask

from . import account
from . import auth
from . import console
from . import home
from . import onboarding


def init_app(app: Flask) -> None:
    app.register_blueprint(home.bp)
    app.register_blueprint(auth.bp)
    app.register_blueprint(onboarding.bp)
    app.register_blueprint(account.bp)
    console.init_app(app)
    # Browsers ask for /favicon.ico whatever a page links: the local icon, never a 404.
    app.add_url_rule("/favicon.ico", "favicon", lambda: app.send_static_file("favicon.ico"))
