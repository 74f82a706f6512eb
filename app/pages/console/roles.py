"""Roles and what they grant: the list (roles:read), one role's permissions, and for holders of
roles:write a custom role's creation, its permissions and its deletion (after a confirmation page).

Every change goes through ``app/services/rbac.py``, as the admin API's does: the service decides
what may change (built-in roles are not deleted, superAdmin keeps every permission, nobody grants a
permission they do not hold) and commits; a refusal is flashed on the page it came from.
"""

from uuid import UUID

from flask import Flask
from flask import abort
from flask import flash
from flask import redirect
from flask import render_template
from flask import url_for
from flask_wtf import FlaskForm
from wtforms import SelectMultipleField
from wtforms import StringField
from wtforms import widgets
from wtforms.validators import DataRequired
from wtforms.validators import Length
from wtforms.validators import Regexp

from ...api.schemas.roles import ROLE_NAME
from ...services import rbac
from ...services.errors import DomainError
from ...services.errors import NotFound
from ...web.permissions import caller
from . import bp
from . import console_page
from . import section


class RoleCreateForm(FlaskForm):
    name = StringField("Name", validators=[
        DataRequired(), Length(max=64),
        Regexp(ROLE_NAME, message="Start with a letter; then letters, digits, '.', '_' or '-' (64 at most).")],
        render_kw={"maxlength": 64, "autocomplete": "off"})
    description = StringField("Description", validators=[Length(max=255)], render_kw={"maxlength": 255})


class RoleEditForm(RoleCreateForm):
    """A role's name and description (the service keeps a built-in role's name)."""


class RolePermissionsForm(FlaskForm):
    permissions = SelectMultipleField("Permissions", choices=[], validate_choice=True,
                                      widget=widgets.ListWidget(prefix_label=False),
                                      option_widget=widgets.CheckboxInput())


class ConfirmForm(FlaskForm):
    """Only the CSRF token: the button is the confirmation."""


def _role(role_id: UUID):
    try:
        return rbac.get_role(role_id)
    except NotFound:
        abort(404, "There is no such role.")


def _permissions_form(role=None) -> RolePermissionsForm:
    """The checkboxes: as submitted (no ``role``), or as ``role`` grants them now."""
    form = RolePermissionsForm() if role is None else \
        RolePermissionsForm(formdata=None, permissions=rbac.permission_names(role))
    form.permissions.choices = [
        (permission.name, f"{permission.name}: {permission.description}" if permission.description else permission.name)
        for permission in rbac.all_permissions()]
    return form


def _list_page(form: RoleCreateForm, status: int = 200):
    roles = [{"role": role, "builtin": rbac.is_builtin(role), "count": len(rbac.permission_names(role))}
             for role in rbac.list_roles()]
    return render_template("console/roles/list.html", roles=roles, form=form), status


def _role_page(role, form: RolePermissionsForm, status: int = 200, details: RoleEditForm | None = None):
    described = {permission.name: permission.description for permission in rbac.all_permissions()}
    if details is None:
        details = RoleEditForm(formdata=None, name=role.name, description=role.description)
    return render_template("console/roles/role.html", role=role, builtin=rbac.is_builtin(role),
                           granted=rbac.permission_names(role), described=described, form=form,
                           details=details), status


@bp.get("/roles")
@console_page("roles:read")
def roles():
    return _list_page(RoleCreateForm())


@bp.post("/roles")
@console_page("roles:write")
def create_role():
    form = RoleCreateForm()
    if not form.validate_on_submit():
        return _list_page(form, 400)
    actor, held = caller()
    try:
        role = rbac.create_role(actor, held, form.name.data, form.description.data or "")
    except DomainError as refusal:
        flash(refusal.public_message, "error")
        return _list_page(form, 400)
    flash(f"The role {role.name} was created. Choose what it grants below.", "info")
    return redirect(url_for("console.role", role_id=role.id), 303)


@bp.get("/roles/<uuid:role_id>")
@console_page("roles:read")
def role(role_id: UUID):
    found = _role(role_id)
    return _role_page(found, _permissions_form(found))


@bp.post("/roles/<uuid:role_id>")
@console_page("roles:write")
def update_role(role_id: UUID):
    found = _role(role_id)
    details = RoleEditForm()
    if not details.validate_on_submit():
        return _role_page(found, _permissions_form(found), 400, details)
    try:
        rbac.update_role(caller()[0], found.id, name=details.name.data, description=details.description.data or "")
    except NotFound:
        abort(404, "There is no such role.")
    except DomainError as refusal:
        flash(refusal.public_message, "error")
        return _role_page(found, _permissions_form(found), 400, details)
    flash(f"The role {found.name} was saved.", "info")
    return redirect(url_for("console.role", role_id=found.id), 303)


@bp.post("/roles/<uuid:role_id>/permissions")
@console_page("roles:write")
def set_permissions(role_id: UUID):
    found = _role(role_id)
    form = _permissions_form()
    if not form.validate_on_submit():
        flash("Choose permissions from the list.", "error")
        return _role_page(found, form, 400)
    actor, held = caller()
    try:
        rbac.set_role_permissions(actor, held, found.id, set(form.permissions.data or ()))
    except NotFound:
        abort(404, "There is no such role.")
    except DomainError as refusal:
        flash(refusal.public_message, "error")
        return _role_page(found, _permissions_form(found), 400)
    flash(f"The permissions of {found.name} were saved.", "info")
    return redirect(url_for("console.role", role_id=found.id), 303)


@bp.get("/roles/<uuid:role_id>/delete")
@console_page("roles:write")
def confirm_delete(role_id: UUID):
    found = _role(role_id)
    return render_template("console/roles/delete.html", role=found, builtin=rbac.is_builtin(found),
                           form=ConfirmForm())


@bp.post("/roles/<uuid:role_id>/delete")
@console_page("roles:write")
def delete_role(role_id: UUID):
    found = _role(role_id)
    if not ConfirmForm().validate_on_submit():
        abort(400, "The form has expired. Open the page again.")
    name = found.name
    try:
        rbac.delete_role(caller()[0], found.id)
    except NotFound:
        abort(404, "There is no such role.")
    except DomainError as refusal:
        flash(refusal.public_message, "error")
        return redirect(url_for("console.role", role_id=role_id), 303)
    flash(f"The role {name} was deleted.", "info")
    return redirect(url_for("console.roles"), 303)


def init_app(app: Flask) -> None:
    section("console.roles", "Roles and permissions", "roles:read")
