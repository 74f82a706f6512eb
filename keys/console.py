"""The console's signing keys, under /admin/keys: the ring with its states and dates, and the next
automatic rotation (``keys:read``); rotation now and revocation of a compromised key after a page
saying what it breaks (``keys:write``). The same functions as the admin API (``keys/admin.py``) and
``flask keys``: ``rotation.rotate_now`` and ``rotation.revoke``, each in its own transaction.
"""

from datetime import datetime

from flask import Blueprint
from flask import Flask
from flask import abort
from flask import current_app
from flask import flash
from flask import redirect
from flask import render_template
from flask import url_for
from flask_wtf import FlaskForm
from sqlalchemy import select

from app.clock import now
from app.extensions import db
from app.pages.console import add_figure
from app.pages.console import console_page
from app.pages.console import section
from app.web.permissions import current_principal

from . import rotation
from .models import SigningKey

bp = Blueprint("keys_console", __name__, url_prefix="/admin/keys")

KID = "/<string(maxlength=64):kid>"


class ActionForm(FlaskForm):
    """Only the CSRF token: the form's action is the change."""


def _secret() -> str:
    return current_app.config["KEY_ENCRYPTION_SECRET"]


@bp.get("")
@console_page("keys:read")
def index():
    keys = rotation.listed()
    schedule = rotation.Schedule.from_config(current_app.config)
    live = [key for key in keys if key.state != "removed"]
    return render_template("console/keys.html", keys=keys, schedule=schedule, form=ActionForm(),
                           next_rotation=rotation.next_rotation_at(live, schedule))


@bp.post("/rotate")
@console_page("keys:write")
def rotate():
    try:
        key = rotation.rotate_now(_secret(), actor=current_principal().actor)
    except RuntimeError as busy:
        flash(f"The key was not rotated: {busy}.", "error")
        return redirect(url_for(".index"), 303)
    flash(f"Key {key.kid} ({key.alg}) signs from now on. The previous key still verifies what it signed.", "info")
    return redirect(url_for(".index"), 303)


def _revocable(kid: str) -> SigningKey:
    key = next((key for key in rotation.listed() if key.kid == kid and key.state != "removed"), None)
    if key is None:
        abort(404, "No key with this kid is in the ring.")
    return key


@bp.get(f"{KID}/revoke")
@console_page("keys:write")
def revoke_confirm(kid: str):
    return render_template("console/keys_revoke.html", key=_revocable(kid), form=ActionForm())


@bp.post(f"{KID}/revoke")
@console_page("keys:write")
def revoke(kid: str):
    try:
        key = rotation.revoke(_secret(), kid, actor=current_principal().actor)
    except rotation.UnknownKey:
        abort(404, "No key with this kid is in the ring.")
    except RuntimeError as busy:
        flash(f"The key was not revoked: {busy}.", "error")
        return redirect(url_for(".index"), 303)
    flash(f"Key {key.kid} was revoked: it is out of the JWKS and tokens it signed no longer verify.", "info")
    return redirect(url_for(".index"), 303)


def key_age() -> str:
    """The dashboard's figure: how long the current signing key has signed (one row by index)."""
    activated: datetime | None = db.session.scalar(
        select(SigningKey.activated_at).where(SigningKey.state == "current",
                                              SigningKey.alg == current_app.config["SIGNING_ALG"]))
    if activated is None:
        return "no current key"
    days = (now() - activated).days
    return f"{days} day{'s' if days != 1 else ''}"


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    section("keys_console.index", "Signing keys", "keys:read")
    add_figure(app, "Signing key age", "keys:read", key_age)
