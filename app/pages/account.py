"""The signed-in user's own pages."""

from flask import Blueprint
from flask import redirect
from flask import render_template
from flask import request
from flask import url_for

from ..web import current_session
from .forms import LogoutForm

bp = Blueprint("account", __name__)


@bp.get("/")
def home():
    return redirect(url_for("account.overview"))


@bp.get("/account")
def overview():
    session = current_session()
    if session is None:
        return redirect(url_for("auth.login", next=request.path))
    return render_template("account/overview.html", session=session, user=session.user,
                           logout_form=LogoutForm())
