"""The console's users: the directory (filters, keyset pages), one account's page (profile, roles,
sessions, sign-ins) and its actions, and a form to create an account.

Each view needs the permission of the admin API route that does the same (app/api/admin/users.py)
and calls the same service function; a refusal of the service (the last superAdmin, a role the
admin may not hand out, a session that already ended) is flashed on the user's page, never a 500.
The services own their transactions: these views commit nothing.
"""

from datetime import date
from datetime import datetime
from datetime import time
from datetime import timezone
from uuid import UUID

from flask import Flask
from flask import abort
from flask import flash
from flask import redirect
from flask import render_template
from flask import request
from flask import url_for
from wtforms.fields.choices import SelectChoice

from ...services import directory
from ...services import history
from ...services import rbac
from ...services import users
from ...services.account_errors import InvalidFields
from ...services.errors import AccountExists
from ...services.errors import DomainError
from ...services.errors import InvalidInput
from ...services.errors import NotFound
from ...services.errors import OutOfReach
from ...services.errors import PasswordRejected
from ...web.permissions import caller
from ...web.permissions import requires_permission
from . import bp
from . import console_page
from . import may
from . import section
from .forms import CURSOR_LIMIT
from .forms import PAGE_SIZE
from .forms import ActionForm
from .forms import AddRoleForm
from .forms import CreateUserForm
from .forms import EditUserForm
from .forms import UserSearchForm
from .forms import yes_no

HISTORY_PAGE = 20
# A sign-in outcome as login history stores it -> what the page says.
OUTCOMES = {
    "success": "Signed in",
    "bad_password": "Wrong password",
    "unknown_user": "Unknown account",
    "inactive": "Refused: account deactivated",
    "unverified": "Refused: email not verified",
    "locked": "Refused: too many attempts",
    "2fa_required": "Password accepted, code asked",
    "2fa_failed": "Wrong second-factor code",
}


def outcome_text(outcome: str) -> str:
    return OUTCOMES.get(outcome, outcome.replace("_", " ").capitalize())


# --- the directory ------------------------------------------------------------------------------------

@bp.get("/users")
@console_page("users:read")
def user_list():
    roles = rbac.list_roles()
    form = UserSearchForm(request.args)
    form.role.choices = [SelectChoice("", "Any"), *(SelectChoice(str(role.id), role.name) for role in roles)]
    page = None
    if form.validate():
        try:
            page = directory.list_users(_filters(form), form.sort.data, form.cursor.data or None,
                                        form.limit.data or PAGE_SIZE, include_total=form.total.data)
        except InvalidInput as refusal:  # a cursor of another list, say
            form.cursor.errors = [refusal.public_message]
    # The same search again, from its first page or from the next one's cursor.
    kept = {name: value for name, value in request.args.items() if name != "cursor" and value}
    next_url = url_for("console.user_list", **kept, cursor=page.next_cursor) if page and page.next_cursor else None
    first_url = url_for("console.user_list", **kept) if form.cursor.data else None
    return render_template("console/users/list.html", form=form, page=page, next_url=next_url, first_url=first_url,
                           by_rank=rbac.by_rank), 200 if page is not None else 400


def _filters(form: UserSearchForm) -> directory.UserFilters:
    def text(field) -> str | None:
        return field.data or None

    return directory.UserFilters(email=text(form.email), fullname=text(form.fullname), phone=text(form.phone),
                                 role_id=UUID(form.role.data) if form.role.data else None,
                                 email_verified=yes_no(form.verified.data), is_active=yes_no(form.active.data),
                                 created_from=_midnight(form.created_from.data),
                                 created_to=_midnight(form.created_to.data), q=text(form.q))


def _midnight(day: date | None) -> datetime | None:
    return datetime.combine(day, time.min, tzinfo=timezone.utc) if day else None


# --- one user --------------------------------------------------------------------------------------------

@bp.get("/users/<uuid:user_id>")
@console_page("users:read")
def user_page(user_id: UUID):
    user = _read_or_404(user_id)
    held = {role.id for role in user.roles}
    reachable = _out_of_reach(user_id) is None
    addable = [role for role in _grantable() if role.id not in held] if may("users:write") and reachable else []
    add_form = AddRoleForm()
    add_form.role_id.choices = [SelectChoice(str(role.id), role.name) for role in addable]
    sessions = users.live_sessions(user_id) if may("sessions:read") else None
    history_cursor = request.args.get("history") or None
    try:
        if history_cursor is not None and len(history_cursor) > CURSOR_LIMIT:
            raise InvalidInput(directory.BAD_CURSOR)
        logins = users.login_history(user_id, history_cursor, HISTORY_PAGE)
    except InvalidInput as refusal:
        abort(400, refusal.public_message)
    older_url = url_for("console.user_page", user_id=user_id, history=logins.next_cursor) \
        if logins.next_cursor else None
    return render_template("console/users/user.html", user=user, roles=rbac.by_rank(list(user.roles)),
                           primary=rbac.primary_role(list(user.roles)),
                           address=user.profile.address if user.profile else None,
                           sessions=sessions, logins=logins.items, older_url=older_url,
                           newest_url=url_for("console.user_page", user_id=user_id) if history_cursor else None,
                           add_form=add_form, action=ActionForm(), addable=addable, device_name=history.device_name,
                           outcome_text=outcome_text, default_role=rbac.DEFAULT_ROLE, reachable=reachable)


def _out_of_reach(user_id: UUID) -> OutOfReach | None:
    """Why the admin may not act on this account at all (it holds a permission the admin lacks),
    or None. Every action's service checks it; the pages offer none of them otherwise."""
    try:
        users.within_reach(caller()[1], user_id)
    except OutOfReach as refusal:
        return refusal
    return None


def _grantable() -> list:
    """The roles this admin may hand out: those granting only permissions the admin holds (the
    service refuses the others; the page does not offer them)."""
    held = caller()[1]
    return [role for role in rbac.list_roles() if held.issuperset(rbac.permission_names(role))]


def _read_or_404(user_id: UUID):
    try:
        return users.read(user_id)
    except NotFound:
        abort(404, "There is no user with this id.")


def _act(user_id: UUID, action, done: str):
    """Run a service action on the user (404 if there is none), flash what came of it and go back
    to the user's page (POST-redirect-GET)."""
    _read_or_404(user_id)
    actor, held = caller()
    try:
        result = action(actor, held)
    except InvalidFields as invalid:
        flash(" ".join(message for messages in invalid.errors.values() for message in messages), "error")
    except DomainError as refusal:
        flash(refusal.public_message, "error")
    else:
        flash(done.format(result=result), "info")
    return redirect(url_for("console.user_page", user_id=user_id))


@bp.post("/users/<uuid:user_id>/roles")
@console_page("users:write")
def add_role(user_id: UUID):
    form = AddRoleForm()
    try:
        role_id = UUID(form.role_id.data or "")
    except ValueError:
        _read_or_404(user_id)
        flash("Choose a role to add.", "error")
        return redirect(url_for("console.user_page", user_id=user_id))
    return _act(user_id, lambda actor, held: users.add_role(actor, held, user_id, role_id), "The role was added.")


@bp.post("/users/<uuid:user_id>/roles/<uuid:role_id>/remove")
@console_page("users:write")
def remove_role(user_id: UUID, role_id: UUID):
    return _act(user_id, lambda actor, held: users.remove_role(actor, held, user_id, role_id),
                "The role was removed.")


@bp.post("/users/<uuid:user_id>/sessions/<uuid:session_id>/end")
@console_page("sessions:write")
def end_session(user_id: UUID, session_id: UUID):
    return _act(user_id, lambda actor, held: users.end_session(actor, held, user_id, session_id),
                "The session was ended.")


@bp.post("/users/<uuid:user_id>/sessions/end-all")
@console_page("sessions:write")
def end_sessions(user_id: UUID):
    return _act(user_id, lambda actor, held: users.end_sessions(actor, held, user_id), "Sessions ended: {result}.")


@bp.post("/users/<uuid:user_id>/deactivate")
@console_page("users:write")
def deactivate(user_id: UUID):
    return _act(user_id, lambda actor, held: users.deactivate(actor, held, user_id),
                "The account was deactivated: it cannot sign in, and its sessions ended.")


@bp.post("/users/<uuid:user_id>/reactivate")
@console_page("users:write")
def reactivate(user_id: UUID):
    return _act(user_id, lambda actor, held: users.reactivate(actor, held, user_id),
                "The account was reactivated: it may sign in again.")


@bp.post("/users/<uuid:user_id>/password-reset")
@console_page("users:write")
def force_password_reset(user_id: UUID):
    return _act(user_id, lambda actor, held: users.force_password_reset(actor, held, user_id),
                "The password no longer works and a reset code was mailed. Sessions ended: {result}.")


# The address members the edit form offers ("formatted" is for clients that send one string).
ADDRESS_FIELDS = ("street_address", "locality", "region", "postal_code", "country")


@bp.get("/users/<uuid:user_id>/edit")
@console_page("users:write")
@requires_permission("users:read")  # the form shows the account as it is
def edit_user(user_id: UUID):
    user = _read_or_404(user_id)
    refusal = _out_of_reach(user_id)
    if refusal is not None:  # an account the admin could not change: its form is not offered
        flash(refusal.public_message, "error")
        return redirect(url_for("console.user_page", user_id=user_id))
    address = (user.profile.address if user.profile else None) or {}
    form = EditUserForm(fullname=user.fullname, email=user.email, phone=user.phone or "", avatar=user.avatar or "",
                        **{name: address.get(name, "") for name in ADDRESS_FIELDS})
    return render_template("console/users/edit.html", user=user, form=form)


@bp.post("/users/<uuid:user_id>/edit")
@console_page("users:write")
def edit_user_submit(user_id: UUID):
    user = _read_or_404(user_id)
    form = EditUserForm()
    if not form.validate_on_submit():
        return render_template("console/users/edit.html", user=user, form=form), 400
    current = {"fullname": user.fullname, "email": user.email, "phone": user.phone or "", "avatar": user.avatar or ""}
    # Only what the admin changed is sent: the audit event names those fields alone.
    changes = {name: form[name].data for name in current if (form[name].data or "") != current[name]}
    address = {name: form[name].data.strip() for name in ADDRESS_FIELDS if (form[name].data or "").strip()}
    stored = (user.profile.address if user.profile else None) or {}
    if address != {name: stored[name] for name in ADDRESS_FIELDS if stored.get(name)}:
        changes["address"] = address
    if not changes:
        flash("Nothing was changed.", "info")
        return redirect(url_for("console.user_page", user_id=user_id))
    actor, held = caller()
    try:
        users.change(actor, held, user_id, changes)
    except InvalidFields as invalid:
        for name, messages in invalid.errors.items():
            field = form._fields.get(name.removeprefix("address."))
            if field is not None:
                field.errors = [*field.errors, *messages]
            else:
                form.form_errors.extend(messages)
        return render_template("console/users/edit.html", user=user, form=form), 400
    except AccountExists as refusal:
        form.email.errors = [refusal.public_message]
        return render_template("console/users/edit.html", user=user, form=form), 400
    except DomainError as refusal:  # an account holding a permission the admin does not hold
        form.form_errors.append(refusal.public_message)
        return render_template("console/users/edit.html", user=user, form=form), 400
    mailed = " A code was mailed to the new address to verify it." if "email" in changes else ""
    flash("The account was saved." + mailed, "info")
    return redirect(url_for("console.user_page", user_id=user_id))


# --- a new user -------------------------------------------------------------------------------------------

@bp.route("/users/new", methods=["GET", "POST"])
@console_page("users:write")
def create_user():
    form = CreateUserForm()
    form.roles.choices = [SelectChoice(str(role.id), role.name) for role in _grantable()
                          if role.name != rbac.DEFAULT_ROLE]
    if request.method == "GET":
        return render_template("console/users/new.html", form=form)
    if form.validate_on_submit():
        actor, held = caller()
        try:
            user = users.create(actor, held, email=form.email.data, fullname=form.fullname.data,
                                password=form.password.data or None, phone=form.phone.data or None,
                                role_ids=[UUID(role_id) for role_id in form.roles.data],
                                email_verified=form.email_verified.data)
        except InvalidFields as invalid:
            for name, messages in invalid.errors.items():
                field = form._fields.get(name)
                if field is not None:
                    field.errors = [*field.errors, *messages]
                else:
                    form.form_errors.extend(messages)
        except PasswordRejected as refusal:
            form.password.errors = list(refusal.reasons)
        except AccountExists as refusal:
            form.email.errors = [refusal.public_message]
        except DomainError as refusal:  # a role whose permissions the admin does not hold, say
            form.form_errors.append(refusal.public_message)
        else:
            flash(f"The account {user.email} was created." + (
                "" if form.password.data else " Its owner was mailed a code to set a password."), "info")
            return redirect(url_for("console.user_page", user_id=user.id))
    return render_template("console/users/new.html", form=form), 400


def init_app(app: Flask) -> None:
    section("console.user_list", "Users", "users:read")
