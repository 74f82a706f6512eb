"""Sign in (password, then the emailed code when 2FA is on) and sign out."""

import uuid

from flask import Blueprint
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
from ..web.limits import credential_refused
from ..web.limits import form_email
from ..web.limits import limits_credentials
from ..web.limits import limits_mail
from ..web.limits import pending_email
from ..web.origin import local_path_or
from ..web.origin import request_origin
from ..web.second_factor import finish_second_factor
from ..web.second_factor import pending_second_factor
from ..web.second_factor import start_second_factor
from ..web.session import current_session
from ..web.session import end_active_session
from ..web.session import held_sessions
from ..web.session import set_session_cookie
from .forms import LoginForm
from .forms import LogoutForm
from .forms import SecondFactorForm

bp = Blueprint("auth", __name__)

HOME = "/account"


@bp.get("/login")
def login():
    form = LoginForm(next=request.args.get("next", ""), email=request.args.get("login_hint", ""))
    # prompt=login: an application asked for a fresh sign-in, so a session does not skip the form.
    if current_session() is not None and request.args.get("prompt") != "login":
        return redirect(local_path_or(form.next.data, HOME))
    return render_template("auth/login.html", form=form)


@bp.post("/login")
@limits_credentials(account=form_email)
def login_submit():
    form = LoginForm()
    if not form.validate_on_submit():
        return render_template("auth/login.html", form=form), 400
    try:
        session, token = accounts.sign_in(form.email.data, form.password.data, request_origin(),
                                          held=held_sessions())
    except SecondFactorRequired as pending:
        return _start_second_factor(pending.user_id, form)
    except SignInRefused as refusal:  # one message for an unknown email and a wrong password
        if refusal.outcome == "unverified":
            return _to_email_verification(form)
        credential_refused()
        flash(refusal.public_message, "error")
        return render_template("auth/login.html", form=form), 400
    response = redirect(local_path_or(form.next.data, HOME))
    return set_session_cookie(response, token, session)


def _to_email_verification(form):
    """Right password, unverified address: send a code (if none went out a moment ago) and ask for it."""
    try:
        onboarding.resend_verification(form.email.data)
        flash("Your email address is not verified yet. We sent you a code: enter it to continue.", "info")
    except ResendTooSoon as problem:
        flash(f"Your email address is not verified yet. {problem.public_message}", "error")
    return redirect(url_for("onboarding.verify", email=form.email.data.strip().lower(),
                            next=local_path_or(form.next.data, "") or None))


def _start_second_factor(user_id, form):
    start_second_factor(user_id, form.email.data, local_path_or(form.next.data, HOME))
    return redirect(url_for("auth.second_factor"))


@bp.get("/login/2fa")
def second_factor():
    pending = pending_second_factor()
    if pending is None:
        flash("Your sign-in has expired. Start again.", "error")
        return redirect(url_for("auth.login"))
    return render_template("auth/second_factor.html", form=SecondFactorForm(), resend=LogoutForm(),
                           step_up=pending.get("step_up"))


def _step_up_without_its_session(pending: dict) -> bool:
    """A step-up is a second factor for the session that asked for it: once that user is no longer
    signed in here, the code alone must not open a session (it is one factor, not a sign-in)."""
    if not pending.get("step_up"):
        return False
    current = current_session()
    return current is None or str(current.user_id) != pending["user_id"]


@bp.post("/login/2fa")
@limits_credentials(account=pending_email)
def second_factor_submit():
    pending = pending_second_factor()
    if pending is None or _step_up_without_its_session(pending):
        finish_second_factor()
        flash("Your sign-in has expired. Start again.", "error")
        return redirect(url_for("auth.login"))
    form = SecondFactorForm()
    if not form.validate_on_submit():
        return render_template("auth/second_factor.html", form=form, resend=LogoutForm(),
                               step_up=pending.get("step_up")), 400
    try:
        session, token = accounts.complete_second_factor(uuid.UUID(pending["user_id"]), form.code.data,
                                                         request_origin(), held=held_sessions())
    except CodeRejected as refusal:
        credential_refused()
        form.code.errors.append(refusal.public_message)
        return render_template("auth/second_factor.html", form=form, resend=LogoutForm(),
                               step_up=pending.get("step_up")), 400
    finish_second_factor()
    return set_session_cookie(redirect(pending["next"]), token, session)


@bp.post("/login/2fa/resend")
@limits_mail
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
    ended = session is not None and sessions.end(session.id)
    # The OAuth server, when installed, shows its front-channel logout frames for the ended session.
    signed_out_page = current_app.extensions.get("signed_out_page")
    response = signed_out_page(session.id) if ended and signed_out_page else None
    if response is None:
        flash("You have been signed out.", "info")
        response = redirect(url_for("auth.login"))
    # Only the active account signs out; the browser's next signed-in account, if any, takes over.
    return end_active_session(response)
