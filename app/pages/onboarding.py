"""Registration, email verification and password reset pages."""

from flask import Blueprint
from flask import abort
from flask import current_app
from flask import flash
from flask import redirect
from flask import render_template
from flask import request
from flask import url_for

from ..services import onboarding
from ..services import recovery
from ..services.account_errors import InvalidFields
from ..services.errors import CodeRejected
from ..services.errors import DomainError
from ..services.errors import InvalidInput
from ..services.errors import PasswordRejected
from ..services.errors import ResendTooSoon
from ..web.limits import credential_refused
from ..web.limits import form_email
from ..web.limits import limits_credentials
from ..web.limits import limits_mail
from ..web.origin import local_path_or
from ..web.origin import request_origin
from ..web.session import set_session_cookie
from .forms import CodeForm
from .forms import ForgotForm
from .forms import RegisterForm
from .forms import ResendForm
from .forms import ResetForm

bp = Blueprint("onboarding", __name__)

HOME = "/account"


@bp.get("/register")
def register():
    if not current_app.config["PUBLIC_REGISTRATION"]:
        return render_template("auth/registration_closed.html"), 404
    return render_template("auth/register.html", form=RegisterForm(next=request.args.get("next", "")))


@bp.post("/register")
@limits_mail
def register_submit():
    if not current_app.config["PUBLIC_REGISTRATION"]:
        abort(404)
    form = RegisterForm()
    if not form.validate_on_submit():
        return render_template("auth/register.html", form=form), 400
    address = {key: value for key, value in (
        ("street_address", form.street_address.data), ("locality", form.locality.data),
        ("postal_code", form.postal_code.data), ("country", form.country.data)) if value}
    try:
        email = onboarding.register(form.email.data, form.fullname.data, form.password.data,
                                    phone=form.phone.data or None, address=address or None)
    except PasswordRejected as refusal:
        form.password.errors.extend(refusal.reasons)
        return render_template("auth/register.html", form=form), 400
    except InvalidFields as invalid:
        for name, messages in invalid.errors.items():
            form._fields[name.removeprefix("address.")].errors.extend(messages)
        return render_template("auth/register.html", form=form), 400
    except InvalidInput as refusal:
        form.email.errors.append(refusal.public_message)
        return render_template("auth/register.html", form=form), 400
    except ResendTooSoon as problem:
        flash(problem.public_message, "error")
        email = form.email.data.strip().lower()
    else:
        flash("We sent a code to your email address. Enter it below to confirm the address.", "info")
    return redirect(url_for("onboarding.verify", email=email, next=local_path_or(form.next.data, "") or None))


@bp.get("/verify-email")
def verify():
    form = CodeForm(email=request.args.get("email", ""), next=request.args.get("next", ""))
    resend = ResendForm(email=form.email.data, next=form.next.data)
    return render_template("auth/verify.html", form=form, resend=resend)


@bp.post("/verify-email")
@limits_credentials(account=form_email)
def verify_submit():
    form = CodeForm()
    resend = ResendForm(email=form.email.data, next=form.next.data)
    if not form.validate_on_submit():
        return render_template("auth/verify.html", form=form, resend=resend), 400
    try:
        session, token = onboarding.verify_email(form.email.data, form.code.data, request_origin())
    except CodeRejected as refusal:
        credential_refused()
        form.code.errors.append(refusal.public_message)
        return render_template("auth/verify.html", form=form, resend=resend), 400
    flash("Your email address is confirmed. Welcome!", "info")
    return set_session_cookie(redirect(local_path_or(form.next.data, HOME)), token, session)


@bp.post("/verify-email/resend")
@limits_mail
def verify_resend():
    form = ResendForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        onboarding.resend_verification(form.email.data)
        flash("If that address has an account waiting for confirmation, a new code is on its way.", "info")
    except ResendTooSoon as problem:
        flash(problem.public_message, "error")
        return _to_verify(form, retry_after=problem.retry_after)
    return _to_verify(form)


def _to_verify(form, retry_after=None):
    response = redirect(url_for("onboarding.verify", email=form.email.data or None, next=form.next.data or None))
    if retry_after:
        response.headers["Retry-After"] = str(retry_after)
    return response


@bp.get("/password/forgot")
def forgot():
    return render_template("auth/forgot.html", form=ForgotForm())


@bp.post("/password/forgot")
@limits_mail
def forgot_submit():
    form = ForgotForm()
    if not form.validate_on_submit():
        return render_template("auth/forgot.html", form=form), 400
    recovery.request_reset(form.email.data)
    # The same answer whether or not the address has an account.
    flash("If that address has an account, we sent it a code to reset the password.", "info")
    return redirect(url_for("onboarding.reset", email=form.email.data.strip().lower()))


@bp.get("/password/reset")
def reset():
    return render_template("auth/reset.html", form=ResetForm(email=request.args.get("email", "")))


@bp.post("/password/reset")
@limits_credentials(account=form_email)
def reset_submit():
    form = ResetForm()
    if not form.validate_on_submit():
        return render_template("auth/reset.html", form=form), 400
    try:
        recovery.reset(form.email.data, form.code.data, form.password.data)
    except PasswordRejected as refusal:
        form.password.errors.extend(refusal.reasons)
        return render_template("auth/reset.html", form=form), 400
    except DomainError as refusal:
        credential_refused()
        form.code.errors.append(refusal.public_message)
        return render_template("auth/reset.html", form=form), 400
    flash("Your password was changed and every session was signed out. Sign in with the new password.", "info")
    return redirect(url_for("auth.login", login_hint=form.email.data.strip().lower()))
