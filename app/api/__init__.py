"""JSON endpoints: /currentuser, health, and /api/v1."""

from flask import Flask

from . import account
from . import admin
from . import auth
from . import docs
from . import phone
from .views import bp


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    app.register_blueprint(account.bp)
    app.register_blueprint(auth.bp)
    app.register_blueprint(phone.bp)
    app.register_blueprint(docs.bp)
    app.register_blueprint(docs.swagger)
    admin.init_app(app)
