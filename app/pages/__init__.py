"""Browser pages: server-rendered, CSRF-protected, usable without JavaScript."""

from flask import Flask

from . import account
from . import auth
from . import onboarding


def init_app(app: Flask) -> None:
    app.register_blueprint(auth.bp)
    app.register_blueprint(onboarding.bp)
    app.register_blueprint(account.bp)
