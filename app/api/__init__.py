"""JSON endpoints: /currentuser, health, and (later) /api/v1."""

from flask import Flask

from . import auth
from .views import bp


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    app.register_blueprint(auth.bp)
