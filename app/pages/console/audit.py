"""The security event log (audit:read): newest first, narrowed by actor, target, event and time,
a page at a time on the log's keyset cursor (``services/audit.page``, as the admin API reads it).

The filters are a GET form, checked by the admin API's own query model (``AuditQuery``): one rule
for what a filter may be, on both. A bad value answers 400 with the form and the field's error.
"""

from datetime import UTC
from datetime import datetime

from flask import Flask
from flask import render_template
from flask import request
from pydantic import ValidationError
from wtforms import Form
from wtforms import StringField

from ...api.schemas.audit import AuditQuery
from ...services import audit as audit_log
from ...services import user_cache
from ...services.account_errors import InvalidFields
from . import bp
from . import console_page
from . import may
from . import section

PAGE_SIZE = 50
# The query model's field (by its alias) -> the form's field.
FIELDS = {"action": "action", "actorUserId": "actor", "targetId": "target", "from": "since", "to": "until",
          "cursor": "cursor"}


# What to tell the admin when the query model refuses a field (its own messages name types).
HINTS = {"actor": "Enter a user id or the email address of an account.",
         "target": "Enter a record id of at most 100 characters.",
         "action": "Enter an event such as user.update, or a prefix ending in a dot (letters, digits, "
                   "'.', '_', ':' and '-'; 64 at most).",
         "since": "Enter a date and time: 2026-01-31T09:30 (UTC), or with an offset.",
         "until": "Enter a date and time: 2026-01-31T09:30 (UTC), or with an offset.",
         "cursor": "This page link is not one this server gave out: start again from the newest events."}


class AuditFilterForm(Form):
    """The filters (a GET form: nothing changes, no CSRF token)."""

    actor = StringField("Actor (user id or email address)", render_kw={"maxlength": 254, "autocomplete": "off"})
    target = StringField("Target (record id)", render_kw={"maxlength": 100, "autocomplete": "off"})
    action = StringField("Event (user.update, or a prefix ending in a dot: signin.)",
                         render_kw={"maxlength": 64, "autocomplete": "off"})
    since = StringField("From (UTC)", render_kw={"type": "datetime-local", "step": 1})
    until = StringField("Before (UTC)", render_kw={"type": "datetime-local", "step": 1})


def _text(field) -> str:
    return (field.data or "").strip()


def _as_utc(value: str) -> str:
    """A time as the form sends it (no offset: UTC), or as typed with one; left as is when it is
    no time at all, for the query model to name the error."""
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return value
    return (moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment).isoformat()


def _actor(value: str) -> tuple[str | None, str | None]:
    """The actor filter as a user id, or the error: an email address names the account's id, for a
    holder of users:read (to anyone else the page would tell which addresses have an account)."""
    if "@" not in value:
        return value, None
    if not may("users:read"):
        return None, "Enter the account's id: finding accounts by email address needs users:read."
    user = user_cache.by_email(value)
    return (str(user.id), None) if user is not None else (None, "No account has this email address.")


def _query(form: AuditFilterForm, cursor: str) -> AuditQuery | None:
    """The filters checked by the API's query model; None after putting the errors on the form."""
    values = {"action": _text(form.action), "targetId": _text(form.target), "from": _as_utc(_text(form.since)),
              "to": _as_utc(_text(form.until)), "cursor": cursor, "limit": PAGE_SIZE}
    actor, wrong = _actor(_text(form.actor))
    if wrong:
        form.actor.errors = [wrong]  # an address of no account
        return None
    values["actorUserId"] = actor
    try:
        return AuditQuery.model_validate({name: value for name, value in values.items() if value not in ("", None)})
    except ValidationError as invalid:
        for error in invalid.errors():
            _attach(form, FIELDS.get(str(error["loc"][0]) if error["loc"] else "", ""), error["msg"])
        return None


def _attach(form: AuditFilterForm, name: str, message: str) -> None:
    """The refusal on its field (the field's hint), or above the form (the cursor, anything else)."""
    field = form[name] if name in form else None
    hint = HINTS.get(name, message)
    if field is None:
        if hint not in form.form_errors:
            form.form_errors.append(hint)
    elif hint not in field.errors:
        field.errors = [*field.errors, hint]


def _who(event) -> str:
    """Who acted: an account's email address to a holder of users:read (as the admin API shows
    accounts), its id to anyone else (as the audit API does)."""
    if event.actor_user_id is not None:
        user = user_cache.get(event.actor_user_id) if may("users:read") else None
        return user.email if user is not None else str(event.actor_user_id)
    if event.actor_client_id is not None:
        return f"application {event.actor_client_id}"
    return "nobody (not signed in)"


def _when(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


@bp.get("/audit")
@console_page("audit:read")
def audit():
    form = AuditFilterForm(request.args)
    form.form_errors = []
    cursor = request.args.get("cursor", "").strip()
    query = _query(form, cursor)
    found = None
    if query is not None:
        try:
            found = audit_log.page(action=query.action, actor_user_id=query.actor_user_id, target_id=query.target_id,
                                   since=query.from_, until=query.to, limit=query.limit, cursor=query.cursor)
        except InvalidFields as invalid:
            for name, messages in invalid.errors.items():
                for message in messages:
                    _attach(form, name, message)
    filters = {name: request.args[name] for name in ("actor", "target", "action", "since", "until")
               if request.args.get(name, "").strip()}
    return render_template("console/audit.html", form=form, found=found, filters=filters, cursor=cursor,
                           actor_of=_who, time_of=_when), 200 if found is not None else 400


def init_app(app: Flask) -> None:
    section("console.audit", "Audit log", "audit:read")
