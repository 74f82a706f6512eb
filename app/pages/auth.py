"""Sign in (password, then the emailed code when 2FA is on) and sign out."""

import uuid

from flask import Blueprint
from flask import Flask
from flask import current_app
from flask import flash
from flask import redirect
from flask import render_template
from flask import request
from flask import url_for

from ..services import accounts
from ..services import onboarding
from ..services import second_factor as two_factor
from ..services import sessions
from ..services.errors import CodeRejected
from ..services.errors import MessageNotSent
from ..services.errors import ResendTooSoon
from ..services.errors import SecondFactorRequired
from ..services.errors import SignInRefused
from ..web import begin_second_factor
from ..web import clear_session_cookie
from ..web import current_session
from ..web import finish_second_factor
from ..web import local_path_or
from ..web import pending_second_factor
from ..web import request_origin
from ..web import set_session_cookie
from .forms import LoginForm
from .forms import LogoutForm
from .forms import SecondFactorForm

bp = Blueprint("auth", __name__)

HOME = "/account"


def _account_email() -> str:
    """The account a credential check is about: the form's email, or the pending 2FA sign-in's."""
    if request.endpoint in ("auth.second_factor_submit", "api_auth.complete_second_factor"):
        return (pending_second_factor() or {}).get("email", "")
    source = request.get_json(silent=True) if request.is_json else request.form
    email = source.get("email", "") if isinstance(source, dict) or hasattr(source, "get") else ""
    return email.strip().lower()[:254] if isinstance(email, str) else ""


def _account_key() -> str:
    """Rate-limit key of the account (normalised like stored emails)."""
    return "account:" + _account_email()


def _record_lockout(_limit) -> None:
    accounts.record_lockout(_account_email(), request_origin())


def _failed(response) -> bool:
    """A refused check: pages answer 400 (success redirects), the API a 4xx (success 2xx)."""
    return response.status_code >= 400


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
    except SecondFactorRequired as pending:
        return _start_second_factor(pending.user_id, form)
    except SignInRefused as refusal:  # one message for an unknown email and a wrong password
        if refusal.outcome == "unverified":
            return _to_email_verification(form)
        flash(refusal.public_message, "error")
        return render_template("auth/login.html", form=form), 400
    response = redirect(local_path_or(form.next.data, HOME))
    return set_session_cookie(response, token, session)


def _to_email_verification(form):
    """Right password, unverified address: send a code (if none went out a moment ago) and ask for it."""
    try:
        onboarding.resend_verification(form.email.data)
        flash("Your email address is not verified yet. We sent you a code: enter it to continue.", "info")
    except (ResendTooSoon, MessageNotSent) as problem:
        flash(f"Your email address is not verified yet. {problem.public_message}", "error")
    return redirect(url_for("onboarding.verify", email=form.email.data.strip().lower(),
                            next=local_path_or(form.next.data, "") or None))


def _start_second_factor(user_id, form):
    begin_second_factor(user_id, form.email.data, local_path_or(form.next.data, HOME))
    try:
        two_factor.send(user_id)
    except (ResendTooSoon, MessageNotSent) as problem:
        flash(problem.public_message, "error")
    return redirect(url_for("auth.second_factor"))


@bp.get("/login/2fa")
def second_factor():
    if pending_second_factor() is None:
        flash("Your sign-in has expired. Start again.", "error")
        return redirect(url_for("auth.login"))
    return render_template("auth/second_factor.html", form=SecondFactorForm(), resend=LogoutForm())


@bp.post("/login/2fa")
def second_factor_submit():
    pending = pending_second_factor()
    if pending is None:
        flash("Your sign-in has expired. Start again.", "error")
        return redirect(url_for("auth.login"))
    form = SecondFactorForm()
    if not form.validate_on_submit():
        return render_template("auth/second_factor.html", form=form, resend=LogoutForm()), 400
    try:
        session, token = accounts.complete_second_factor(uuid.UUID(pending["user_id"]), form.code.data,
                                                         request_origin(), current=current_session())
    except CodeRejected as refusal:
        form.code.errors.append(refusal.public_message)
        return render_template("auth/second_factor.html", form=form, resend=LogoutForm()), 400
    finish_second_factor()
    return set_session_cookie(redirect(pending["next"]), token, session)


@bp.post("/login/2fa/resend")
def second_factor_resend():
    pending = pending_second_factor()
    if pending is None or not LogoutForm().validate_on_submit():
        return redirect(url_for("auth.login"))
    try:
        two_factor.send(uuid.UUID(pending["user_id"]))
        flash("A new code is on its way.", "info")
    except (ResendTooSoon, MessageNotSent) as problem:
        flash(problem.public_message, "error")
    return redirect(url_for("auth.second_factor"))


# Every view that checks a credential (password or code), per IP and, for failures, per account.
CREDENTIAL_CHECKS = ("auth.login_submit", "auth.second_factor_submit", "onboarding.verify_submit",
                     "onboarding.reset_submit", "api_auth.login", "api_auth.complete_second_factor",
                     "api_auth.verify", "api_auth.reset_password")


def limit_credential_checks(app: Flask) -> None:
    """Brute-force limits on credential checks: every attempt per IP, failures per account.

    Shared limits: one counter per IP and one per account across every page and API view that
    checks a password or a code, so guesses spread over several endpoints still add up.
    """
    limiter = app.extensions["rate_limiter"]
    per_account = limiter.shared_limit(lambda: current_app.config["LOGIN_RATE_LIMIT_ACCOUNT"],
                                       scope="credential-account", key_func=_account_key, deduct_when=_failed,
                                       on_breach=_record_lockout)
    per_ip = limiter.shared_limit(lambda: current_app.config["LOGIN_RATE_LIMIT_IP"], scope="credential-ip",
                                  on_breach=_record_lockout)
    for endpoint in CREDENTIAL_CHECKS:
        app.view_functions[endpoint] = per_ip(per_account(app.view_functions[endpoint]))


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
