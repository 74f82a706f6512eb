"""The console's applications (OAuth clients), under /admin/applications: the list and one
application's registration (``clients:read``); registering, changing, a new secret and taking an
application out of service (``clients:write``).

Thin views over ``oauth/clients.py``, the functions the admin API (``oauth/admin.py``) and
``flask clients`` call: one rule set, one audit trail; each service call commits its own change.
A secret is in the answer that made it and nowhere else: never stored for a later page.
"""

import json

from flask import Blueprint
from flask import Flask
from flask import abort
from flask import current_app
from flask import flash
from flask import redirect
from flask import render_template
from flask import request
from flask import url_for
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import BooleanField
from wtforms import SelectField
from wtforms import SelectMultipleField
from wtforms import StringField
from wtforms import TextAreaField
from wtforms import widgets
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired
from wtforms.validators import Length
from wtforms.validators import Optional

from app.pages.console import add_figure
from app.pages.console import console_page
from app.pages.console import section
from app.services import dashboard
from app.services import rbac
from app.services.account_errors import InvalidFields
from app.services.errors import DomainError
from app.services.errors import InvalidInput
from app.services.errors import NotFound
from app.services.errors import OutOfReach
from app.services.errors import PermissionNotHeld
from app.web.permissions import current_principal

from . import clients
from .client_keys import ASYMMETRIC_ALGS
from .models import Application

bp = Blueprint("applications_console", __name__, url_prefix="/admin/applications")

CLIENT = "/<string(maxlength=64):client_id>"
PAGE_SIZE = 50
# The service names fields as the JSON API does (camelCase); the form's fields are snake_case.
FIELD_NAMES = {"grantTypes": "grant_types", "redirectUris": "redirect_uris",
               "postLogoutRedirectUris": "post_logout_redirect_uris",
               "tokenEndpointAuthMethod": "token_endpoint_auth_method", "jwksUri": "jwks_uri",
               "requestUris": "request_uris", "requestObjectSigningAlg": "request_object_signing_alg",
               "tokenEndpointAuthSigningAlg": "token_endpoint_auth_signing_alg",
               "userinfoSignedResponseAlg": "userinfo_signed_response_alg",
               "backchannelLogoutUri": "backchannel_logout_uri",
               "backchannelLogoutSessionRequired": "backchannel_logout_session_required",
               "frontchannelLogoutUri": "frontchannel_logout_uri",
               "frontchannelLogoutSessionRequired": "frontchannel_logout_session_required"}
AUTH_METHOD_LABELS = {
    "client_secret_basic": "Secret, HTTP Basic (client_secret_basic)",
    "client_secret_post": "Secret in the request body (client_secret_post)",
    "client_secret_jwt": "JWT signed with the secret (client_secret_jwt)",
    "private_key_jwt": "JWT signed with the application's key (private_key_jwt)",
    "none": "None: a public client, PKCE only (none)",
}


class Checkboxes(SelectMultipleField):
    widget = widgets.ListWidget(prefix_label=False)
    option_widget = widgets.CheckboxInput()


def _lines(text: str | None) -> list[str]:
    return [line.strip() for line in (text or "").splitlines() if line.strip()]


def _optional(text: str | None) -> str | None:
    return (text or "").strip() or None


class ApplicationForm(FlaskForm):
    name = StringField("Name", validators=[DataRequired(), Length(max=200)])
    token_endpoint_auth_method = SelectField(
        "How it authenticates at the token endpoint",
        choices=[SelectChoice(value, label) for value, label in AUTH_METHOD_LABELS.items()],
        default="client_secret_basic")
    grant_types = Checkboxes("Grant types", choices=[SelectChoice(grant) for grant in clients.GRANT_TYPES],
                             default=list(clients.DEFAULT_GRANT_TYPES),
                             validators=[DataRequired("Choose at least one grant type.")])
    redirect_uris = TextAreaField("Redirect URIs (one a line)", validators=[Length(max=50 * 2001)])
    post_logout_redirect_uris = TextAreaField("Post-logout redirect URIs (one a line)",
                                              validators=[Length(max=50 * 2001)])
    scope = StringField("Scopes (space-separated)", validators=[Length(max=1000)], default=clients.DEFAULT_SCOPE)
    skip_consent = BooleanField("Skip the consent page (a first-party application)")
    introspect = BooleanField("A resource server: may introspect tokens")
    permissions = Checkboxes("Permissions of its own (client credentials only)", choices=[])
    jwks = TextAreaField("Public keys, inline (a JWKS as JSON)", validators=[Length(max=100_000)])
    jwks_uri = StringField("Public keys at a URL (jwks_uri)", validators=[Optional(), Length(max=2000)])
    request_uris = TextAreaField("Request URIs (one a line)", validators=[Length(max=20 * 2001)])
    request_object_signing_alg = SelectField(
        "Request objects signed with", choices=[SelectChoice("", "any supported algorithm")]
        + [SelectChoice(alg) for alg in clients.REQUEST_OBJECT_ALGS], default="")
    token_endpoint_auth_signing_alg = SelectField(
        "Client assertions signed with", choices=[SelectChoice("", "any allowed algorithm")]
        + [SelectChoice(alg) for alg in (*ASYMMETRIC_ALGS, *clients.HMAC_ALGS)], default="")
    userinfo_signed_response_alg = SelectField("Userinfo answered as", choices=[], default="")
    backchannel_logout_uri = StringField("Back-channel logout URI", validators=[Optional(), Length(max=2000)])
    backchannel_logout_session_required = BooleanField("Back-channel logout needs the session id (sid)")
    frontchannel_logout_uri = StringField("Front-channel logout URI", validators=[Optional(), Length(max=2000)])
    frontchannel_logout_session_required = BooleanField("Front-channel logout needs the issuer and session id")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.permissions.choices = [SelectChoice(permission.name) for permission in rbac.all_permissions()]
        signing = current_app.config["SIGNING_ALG"]
        self.userinfo_signed_response_alg.choices = [SelectChoice("", "plain JSON"),
                                                     SelectChoice(signing, f"a JWT signed with {signing}")]

    @classmethod
    def of(cls, application: Application) -> "ApplicationForm":
        return cls(
            name=application.name, token_endpoint_auth_method=application.token_endpoint_auth_method,
            grant_types=list(application.grant_types), redirect_uris="\n".join(application.redirect_uris),
            post_logout_redirect_uris="\n".join(application.post_logout_redirect_uris), scope=application.scope,
            skip_consent=application.skip_consent, introspect=application.introspect,
            permissions=sorted(permission.name for permission in application.permissions),
            jwks=json.dumps(application.jwks, indent=2) if application.jwks else "",
            jwks_uri=application.jwks_uri or "", request_uris="\n".join(application.request_uris or []),
            request_object_signing_alg=application.request_object_signing_alg or "",
            token_endpoint_auth_signing_alg=application.token_endpoint_auth_signing_alg or "",
            userinfo_signed_response_alg=application.userinfo_signed_response_alg or "",
            backchannel_logout_uri=application.backchannel_logout_uri or "",
            backchannel_logout_session_required=application.backchannel_logout_session_required,
            frontchannel_logout_uri=application.frontchannel_logout_uri or "",
            frontchannel_logout_session_required=application.frontchannel_logout_session_required)

    def registration(self) -> dict:
        """The fields as ``clients.register`` and ``clients.update`` take them (every one given:
        an empty optional field clears it); a JWKS that is not JSON is a field error."""
        jwks = None
        too_many = {name: [f"At most {limit} URIs, each at most {clients.URI_LIMIT} characters."]
                    for name, limit in clients.MAX_URIS.items()
                    if len(uris := _lines(getattr(self, name).data)) > limit
                    or any(len(uri) > clients.URI_LIMIT for uri in uris)}
        if too_many:
            raise InvalidFields(too_many)
        if (self.jwks.data or "").strip():
            try:  # the application's JSON: nesting and NUL refused as in any JSON body
                jwks = current_app.json.loads(self.jwks.data)
            except ValueError:
                raise InvalidFields({"jwks": ["The public keys must be a JSON object (a JWKS)."]}) from None
            if not isinstance(jwks, dict):
                raise InvalidFields({"jwks": ["The public keys must be a JSON object (a JWKS)."]})
        return {
            "name": self.name.data, "redirect_uris": _lines(self.redirect_uris.data),
            "post_logout_redirect_uris": _lines(self.post_logout_redirect_uris.data),
            "grant_types": list(self.grant_types.data or []), "scope": (self.scope.data or "").strip(),
            "skip_consent": self.skip_consent.data, "introspect": self.introspect.data,
            "token_endpoint_auth_method": self.token_endpoint_auth_method.data,
            "permissions": set(self.permissions.data or []),
            "jwks": jwks, "jwks_uri": _optional(self.jwks_uri.data), "request_uris": _lines(self.request_uris.data),
            "request_object_signing_alg": _optional(self.request_object_signing_alg.data),
            "token_endpoint_auth_signing_alg": _optional(self.token_endpoint_auth_signing_alg.data),
            "userinfo_signed_response_alg": _optional(self.userinfo_signed_response_alg.data),
            "backchannel_logout_uri": _optional(self.backchannel_logout_uri.data),
            "backchannel_logout_session_required": self.backchannel_logout_session_required.data,
            "frontchannel_logout_uri": _optional(self.frontchannel_logout_uri.data),
            "frontchannel_logout_session_required": self.frontchannel_logout_session_required.data,
        }


class ActionForm(FlaskForm):
    """Only the CSRF token: the form's action is the change."""


def _existing(client_id: str) -> Application:
    try:
        return clients.get(client_id)
    except NotFound:
        abort(404, "No application with this client_id is in service.")


def _refusal_status(error: DomainError) -> int:
    return 403 if isinstance(error, (OutOfReach, PermissionNotHeld)) else 400


def _attach(form: ApplicationForm, error: DomainError) -> None:
    """Put a service's refusal on the fields it names; anything else is a message at the top."""
    errors = error.errors if isinstance(error, InvalidFields) else {}
    for name, messages in errors.items():
        field = form._fields.get(FIELD_NAMES.get(name, name))
        if field is None:
            for message in messages:
                flash(message, "error")
        else:
            field.errors = [*field.errors, *messages]
    if not errors:
        flash(error.public_message, "error")


# --- the list ----------------------------------------------------------------------------------------

@bp.get("")
@console_page("clients:read")
def index():
    cursor = request.args.get("after") or None
    try:
        page = clients.list_page(cursor, PAGE_SIZE)
    except InvalidInput as bad:
        abort(400, bad.public_message)
    return render_template("console/applications/index.html", page=page, first=cursor is None)


# --- registering -------------------------------------------------------------------------------------

@bp.get("/new")
@console_page("clients:write")
def new():
    return render_template("console/applications/form.html", form=ApplicationForm(), application=None)


@bp.post("/new")
@console_page("clients:write")
def create():
    form = ApplicationForm()
    if not form.validate_on_submit():
        return render_template("console/applications/form.html", form=form, application=None), 400
    principal = current_principal()
    try:
        fields = form.registration()
        application, secret = clients.register(
            fields.pop("name"), fields.pop("redirect_uris"), owner_id=principal.user_id, actor=principal.actor,
            held=principal.permissions, **fields)
    except DomainError as refusal:
        _attach(form, refusal)
        return render_template("console/applications/form.html", form=form, application=None), \
            _refusal_status(refusal)
    return _with_secret(application, secret, "The application was registered.")


def _with_secret(application: Application, secret: str | None, message: str):
    """The page that shows a new secret, this once (the answer is never cached: no-store)."""
    flash(message, "info")
    return render_template("console/applications/secret.html", application=application, secret=secret)


# --- one application ---------------------------------------------------------------------------------

@bp.get(CLIENT)
@console_page("clients:read")
def show(client_id: str):
    application = _existing(client_id)
    return render_template("console/applications/show.html", application=application,
                           form=ApplicationForm.of(application), action=ActionForm())


@bp.post(CLIENT)
@console_page("clients:write")
def update(client_id: str):
    application = _existing(client_id)
    form = ApplicationForm()
    if not form.validate_on_submit():
        return _show_again(application, form, 400)
    principal = current_principal()
    try:
        fields = form.registration()
        application, secret = clients.update(client_id, actor=principal.actor, held=principal.permissions, **fields)
    except NotFound:
        abort(404, "No application with this client_id is in service.")
    except DomainError as refusal:
        _attach(form, refusal)
        return _show_again(application, form, _refusal_status(refusal))
    if secret:
        return _with_secret(application, secret, "The changes were saved. The new authentication method needs "
                                                 "a new secret.")
    flash("The changes were saved; they take effect at once.", "info")
    return redirect(url_for(".show", client_id=client_id), 303)


def _show_again(application: Application, form: ApplicationForm, status: int):
    return render_template("console/applications/show.html", application=application, form=form,
                           action=ActionForm()), status


@bp.post(f"{CLIENT}/secret")
@console_page("clients:write")
def rotate_secret(client_id: str):
    application = _existing(client_id)
    if not ActionForm().validate_on_submit():
        abort(400, "The form expired. Go back and try again.")
    principal = current_principal()
    try:
        application, secret = clients.rotate_secret(client_id, actor=principal.actor, held=principal.permissions)
    except NotFound:
        abort(404, "No application with this client_id is in service.")
    except DomainError as refusal:
        flash(refusal.public_message, "error")
        return _show_again(application, ApplicationForm.of(application), _refusal_status(refusal))
    return _with_secret(application, secret, "A new secret was issued; the old one stopped working.")


@bp.get(f"{CLIENT}/delete")
@console_page("clients:write")
def delete_confirm(client_id: str):
    return render_template("console/applications/delete.html", application=_existing(client_id),
                           form=ActionForm())


@bp.post(f"{CLIENT}/delete")
@console_page("clients:write")
def delete(client_id: str):
    application = _existing(client_id)
    if not ActionForm().validate_on_submit():
        abort(400, "The form expired. Go back and try again.")
    principal = current_principal()
    try:
        clients.delete(client_id, actor=principal.actor, held=principal.permissions)
    except NotFound:
        abort(404, "No application with this client_id is in service.")
    except DomainError as refusal:
        flash(refusal.public_message, "error")
        return render_template("console/applications/delete.html", application=application,
                               form=ActionForm()), _refusal_status(refusal)
    flash(f"{application.name} was taken out of service; its tokens stopped working.", "info")
    return redirect(url_for(".index"), 303)


def applications() -> str:
    """The dashboard's figure: the applications in service (a capped count: one cheap query)."""
    return dashboard.capped_count(select(Application.id).where(Application.deleted_at.is_(None)))


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    section("applications_console.index", "Applications", "clients:read")
    add_figure(app, "Applications", "clients:read", applications)
