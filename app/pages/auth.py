"""Sign in and sign out."""

from flask import Blueprint
from flask import Flask
from flask import current_app
from flask import flash
from flask import redirect
from flask import render_template
from flask import request
from flask import url_for

from ..services import accounts
from ..services import sessions
from ..services.errors import SignInRefused
from ..web import clear_session_cookie
from ..web import current_session
from ..web import local_path_or
from ..web import request_origin
from ..web import set_session_cookie
from .forms import LoginForm
from .forms import LogoutForm

bp = Blueprint("auth", __name__)

HOME = "/account"


def _account_key() -> str:
    """Rate-limit key of the account a login POST names (normalised like stored emails)."""
    return "account:" + request.form.get("email", "").strip().lower()[:254]


def _record_lockout(_limit) -> None:
    accounts.record_lockout(request.form.get("email", ""), request_origin())


def _failed(response) -> bool:
    return response.status_code != 302


@bp.get("/login")
def login():
    form = LoginForm(next=request.args.get("next", ""), email=request.args.get("login_hint", ""))
    # prompt=login: an application asked for a fresh sign-in, so a session does not skip the form.
    if current_session() is not None and request.args.get("prompt") != "login":
        return redirect(local_path_or(form.next.data, HOME))
    return render_template("auth/login.html", form=form)


@bp.post("/login")
def login_submit():
    form = LoginForm()
    if not form.validate_on_submit():
        return render_template("auth/login.html", form=form), 400
    try:
        session, token = accounts.sign_in(form.email.data, form.password.data, request_origin(),
                                          current=current_session())
    except SignInRefused as refusal:  # one message for an unknown email and a wrong password
        flash(refusal.public_message, "error")
        return render_template("auth/login.html", form=form), 400
    response = redirect(local_path_or(form.next.data, HOME))
    return set_session_cookie(response, token, session)


def limit_password_checks(app: Flask) -> None:
    """Brute-force limits on the login POST: every attempt per IP, failures per account."""
    limiter = app.extensions["rate_limiter"]
    view = app.view_functions["auth.login_submit"]
    view = limiter.limit(lambda: current_app.config["LOGIN_RATE_LIMIT_ACCOUNT"], key_func=_account_key,
                         deduct_when=_failed, on_breach=_record_lockout)(view)
    view = limiter.limit(lambda: current_app.config["LOGIN_RATE_LIMIT_IP"], on_breach=_record_lockout)(view)
    app.view_functions["auth.login_submit"] = view


@bp.get("/logout")
def logout():
    """A GET never signs out (a link or an image could); it asks for confirmation."""
    if current_session() is None:
        return redirect(url_for("auth.login"))
    return render_template("auth/logout.html", form=LogoutForm())


@bp.post("/logout")
def logout_submit():
    form = LogoutForm()
    if not form.validate_on_submit():
        return render_template("auth/logout.html", form=form), 400
    session = current_session()
    if session is not None:
        sessions.end(session.id)
    flash("You have been signed out.", "info")
    return clear_session_cookie(redirect(url_for("auth.login")))
