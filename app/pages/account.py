"""The signed-in user's own pages: overview, profile, password, email, 2FA, sessions, history, deletion.

Connected applications are a page of the OAuth package (oauth/account.py, /account/applications).
"""

from uuid import UUID

from flask import Blueprint
from flask import flash
from flask import redirect
from flask import render_template
from flask import url_for

from ..services import accounts
from ..services import email_change
from ..services import history as login_history
from ..services import passwords
from ..services import profile
from ..services import second_factor
from ..services import sessions as user_sessions
from ..services.account_errors import EmailChangeRefused
from ..services.account_errors import InvalidFields
from ..services.account_errors import WrongPassword
from ..services.errors import CodeRejected
from ..services.errors import LastSuperAdmin
from ..services.errors import NotFound
from ..services.errors import PasswordRejected
from ..services.errors import ResendTooSoon
from ..web.limits import credential_refused
from ..web.limits import limits_credentials
from ..web.limits import limits_mail
from ..web.limits import signed_in_email
from ..web.session import clear_session_cookie
from ..web.session import current_session
from ..web.session import requires_session
from .account_forms import ADDRESS_FIELDS
from .account_forms import ActionForm
from .account_forms import DeleteAccountForm
from .account_forms import EmailChangeForm
from .account_forms import EmailConfirmForm
from .account_forms import PasswordChangeForm
from .account_forms import ProfileForm
from .account_forms import TwoFactorForm
from .forms import LogoutForm

bp = Blueprint("account", __name__)


@bp.get("/account")
@requires_session
def overview():
    session = current_session()
    return render_template("account/overview.html", session=session, user=session.user,
                           pending_email=email_change.pending(session.user_id), logout_form=LogoutForm())


# --- profile ---------------------------------------------------------------------------------------

@bp.get("/account/profile")
@requires_session
def profile_page():
    session = current_session()
    user = session.user
    details = user.profile
    address = (details.address if details else None) or {}
    form = ProfileForm(
        fullname=user.fullname, given_name=details.given_name if details else "",
        family_name=details.family_name if details else "", phone=user.phone or "",
        birthdate=details.birthdate.isoformat() if details and details.birthdate else "",
        avatar=user.avatar or "", **{name: address.get(name, "") for name in ADDRESS_FIELDS})
    return render_template("account/profile.html", form=form)


@bp.post("/account/profile")
@requires_session
def profile_submit():
    session = current_session()
    form = ProfileForm()
    if not form.validate_on_submit():
        return render_template("account/profile.html", form=form), 400
    changes = {name: form[name].data for name in
               ("fullname", "given_name", "family_name", "phone", "birthdate", "avatar")}
    address = {name: form[name].data.strip() for name in ADDRESS_FIELDS if (form[name].data or "").strip()}
    stored = (session.user.profile.address if session.user.profile else None) or {}
    # Only a changed address replaces the stored one, which may hold members the form lacks (formatted).
    if address != {name: stored[name] for name in ADDRESS_FIELDS if stored.get(name)}:
        changes["address"] = address
    try:
        profile.update_profile(session.user_id, changes)
    except InvalidFields as invalid:
        _attach(form, invalid.errors)
        return render_template("account/profile.html", form=form), 400
    flash("Your profile was saved.", "info")
    return redirect(url_for("account.overview"))


def _attach(form, errors: dict[str, list[str]]) -> None:
    """Put a service's field errors on the form's fields (``address.locality`` on ``locality``)."""
    for name, messages in errors.items():
        name = name.removeprefix("address.")
        field = form[name] if name in form else None
        if field is None:
            for message in messages:
                flash(message, "error")
        else:
            field.errors = [*field.errors, *messages]


# --- password --------------------------------------------------------------------------------------

@bp.get("/account/password")
@requires_session
def password():
    return render_template("account/password.html", form=PasswordChangeForm())


@bp.post("/account/password")
@requires_session
@limits_credentials(account=signed_in_email)
def password_submit():
    session = current_session()
    form = PasswordChangeForm()
    if not form.validate_on_submit():
        return render_template("account/password.html", form=form), 400
    try:
        ended = passwords.change_password(session.user_id, form.current_password.data, form.new_password.data,
                                          keep=session.id)
    except WrongPassword:
        credential_refused()
        form.current_password.errors.append(WrongPassword.public_message)
        return render_template("account/password.html", form=form), 400
    except PasswordRejected as refusal:
        form.new_password.errors.extend(refusal.reasons)
        return render_template("account/password.html", form=form), 400
    flash(f"Your password was changed. Other sessions signed out: {ended}.", "info")
    return redirect(url_for("account.overview"))


# --- email address ---------------------------------------------------------------------------------

@bp.get("/account/email")
@requires_session
def email():
    session = current_session()
    return render_template("account/email.html", form=EmailChangeForm(), user=session.user,
                           pending_email=email_change.pending(session.user_id))


@bp.post("/account/email")
@requires_session
@limits_credentials(account=signed_in_email)
@limits_mail
def email_submit():
    session = current_session()
    form = EmailChangeForm()

    def again(status: int):
        return render_template("account/email.html", form=form, user=session.user,
                               pending_email=email_change.pending(session.user_id)), status

    if not form.validate_on_submit():
        return again(400)
    try:
        address = email_change.request_change(session.user_id, form.email.data, form.password.data)
    except WrongPassword:
        credential_refused()
        form.password.errors.append(WrongPassword.public_message)
        return again(400)
    except InvalidFields as invalid:
        _attach(form, invalid.errors)
        return again(400)
    except ResendTooSoon as refusal:
        flash(refusal.public_message, "error")
        response_body, status = again(429)
        return response_body, status, {"Retry-After": str(refusal.retry_after)}
    flash(f"We sent a code to {address}. Enter it below to confirm the new address; until then your "
          "account keeps its current address.", "info")
    return redirect(url_for("account.email_confirm"))


@bp.get("/account/email/confirm")
@requires_session
def email_confirm():
    session = current_session()
    return render_template("account/email_confirm.html", form=EmailConfirmForm(),
                           pending_email=email_change.pending(session.user_id))


@bp.post("/account/email/confirm")
@requires_session
@limits_credentials(account=signed_in_email)
def email_confirm_submit():
    session = current_session()
    form = EmailConfirmForm()
    pending = email_change.pending(session.user_id)
    if not form.validate_on_submit():
        return render_template("account/email_confirm.html", form=form, pending_email=pending), 400
    try:
        user = email_change.confirm_change(session.user_id, form.code.data)
    except (CodeRejected, EmailChangeRefused) as refusal:
        if isinstance(refusal, CodeRejected):
            credential_refused()
        form.code.errors.append(refusal.public_message)
        return render_template("account/email_confirm.html", form=form,
                               pending_email=email_change.pending(session.user_id)), 400
    flash(f"Your email address is now {user.email}.", "info")
    return redirect(url_for("account.overview"))


# --- two-factor authentication -----------------------------------------------------------------------

@bp.get("/account/2fa")
@requires_session
def two_factor():
    session = current_session()
    return render_template("account/two_factor.html", form=TwoFactorForm(), user=session.user)


@bp.post("/account/2fa")
@requires_session
@limits_credentials(account=signed_in_email)
def two_factor_submit():
    session = current_session()
    form = TwoFactorForm()
    if not form.validate_on_submit() or form.enabled.data not in ("on", "off"):
        return render_template("account/two_factor.html", form=form, user=session.user), 400
    enabled = form.enabled.data == "on"
    try:
        second_factor.set_two_factor(session.user_id, enabled, form.password.data)
    except WrongPassword:
        credential_refused()
        form.password.errors.append(WrongPassword.public_message)
        return render_template("account/two_factor.html", form=form, user=session.user), 400
    flash("Two-step sign-in is on: each sign-in now needs a code we email you." if enabled
          else "Two-step sign-in is off.", "info")
    return redirect(url_for("account.two_factor"))


# --- sessions and history --------------------------------------------------------------------------

@bp.get("/account/sessions")
@requires_session
def sessions():
    session = current_session()
    return render_template("account/sessions.html", sessions=user_sessions.list_for_user(session.user_id),
                           current_id=session.id, device_name=login_history.device_name, form=ActionForm())


@bp.post("/account/sessions/<uuid:session_id>/end")
@requires_session
def end_session(session_id: UUID):
    session = current_session()
    if not ActionForm().validate_on_submit():
        return redirect(url_for("account.sessions"))
    try:
        user_sessions.end_for_user(session.user_id, session_id)
    except NotFound:
        flash("That session has already ended.", "error")
        return render_template("account/sessions.html", sessions=user_sessions.list_for_user(session.user_id),
                               current_id=session.id, device_name=login_history.device_name, form=ActionForm()), 404
    if session_id == session.id:
        flash("You have been signed out.", "info")
        return clear_session_cookie(redirect(url_for("auth.login")))
    flash("The session was ended.", "info")
    return redirect(url_for("account.sessions"))


@bp.post("/account/sessions/end-others")
@requires_session
def end_other_sessions():
    session = current_session()
    if ActionForm().validate_on_submit():
        ended = user_sessions.end_others(session.user_id, keep=session.id)
        flash(f"Other sessions signed out: {ended}.", "info")
    return redirect(url_for("account.sessions"))


@bp.get("/account/history")
@requires_session
def history():
    session = current_session()
    return render_template("account/history.html", logins=login_history.recent(session.user_id),
                           device_name=login_history.device_name)


# --- deletion --------------------------------------------------------------------------------------

@bp.get("/account/delete")
@requires_session
def delete():
    session = current_session()
    return render_template("account/delete.html", form=DeleteAccountForm(), user=session.user)


@bp.post("/account/delete")
@requires_session
@limits_credentials(account=signed_in_email)
def delete_submit():
    session = current_session()
    form = DeleteAccountForm()
    if not form.validate_on_submit():
        return render_template("account/delete.html", form=form, user=session.user), 400
    try:
        accounts.delete_account(session.user_id, form.password.data)
    except WrongPassword:
        credential_refused()
        form.password.errors.append(WrongPassword.public_message)
        return render_template("account/delete.html", form=form, user=session.user), 400
    except LastSuperAdmin as refusal:
        form.password.errors.append(refusal.public_message)
        return render_template("account/delete.html", form=form, user=session.user), 409
    flash("Your account was deleted and you have been signed out.", "info")
    return clear_session_cookie(redirect(url_for("auth.login")))
