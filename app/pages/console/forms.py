"""Flask-WTF forms of the console. The rules on the values live in the services; these forms carry
the fields, their length limits, the CSRF token (every form that changes something) and the hints."""

from flask_wtf import FlaskForm
from wtforms import BooleanField
from wtforms import DateField
from wtforms import EmailField
from wtforms import HiddenField
from wtforms import IntegerField
from wtforms import PasswordField
from wtforms import SelectField
from wtforms import SelectMultipleField
from wtforms import StringField
from wtforms import TelField
from wtforms import URLField
from wtforms import ValidationError
from wtforms import widgets
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired
from wtforms.validators import Length
from wtforms.validators import NumberRange
from wtforms.validators import Optional

from ...services.directory import DEFAULT_SORT
from ...services.directory import MAX_LIMIT
from ...services.passwords import MAX_PASSWORD_INPUT
from ...services.profile import ADDRESS_LIMITS
from ...services.profile import AVATAR_LIMIT
from ...services.profile import CONTROL_CHARACTERS
from ...services.profile import PHONE_LIMIT
from ...services.profile import TEXT_LIMITS

EMAIL_LIMIT = 254
SEARCH_LIMIT = 200
CURSOR_LIMIT = 1024
PAGE_SIZE = 20
ANY_YES_NO = [SelectChoice("", "Any"), SelectChoice("yes", "Yes"), SelectChoice("no", "No")]
SORT_CHOICES = [SelectChoice(value, label) for value, label in (
    ("-createdAt", "Newest first"), ("createdAt", "Oldest first"), ("email", "Email A-Z"), ("-email", "Email Z-A"),
    ("fullname", "Name A-Z"), ("-fullname", "Name Z-A"))]


def printable(form, field) -> None:
    """No NUL or other control characters in a filter (the database refuses some)."""
    if field.data and CONTROL_CHARACTERS.search(field.data):
        raise ValidationError("Use printable characters only.")


def yes_no(value: str | None) -> bool | None:
    """A yes/no/any choice as the directory's filter: True, False, or None for any."""
    return {"yes": True, "no": False}.get(value or "")


class UserSearchForm(FlaskForm):
    """The directory's filters, sent by GET (nothing changes: no CSRF token)."""

    class Meta:
        csrf = False

    q = StringField("Name or email contains", validators=[Optional(), Length(max=SEARCH_LIMIT), printable])
    email = StringField("Email address (exact)", validators=[Optional(), Length(max=EMAIL_LIMIT), printable])
    fullname = StringField("Full name (exact)",
                           validators=[Optional(), Length(max=TEXT_LIMITS["fullname"]), printable])
    phone = StringField("Phone (exact)", validators=[Optional(), Length(max=PHONE_LIMIT), printable])
    role = SelectField("Role", choices=[SelectChoice("", "Any")], default="")
    verified = SelectField("Email verified", choices=ANY_YES_NO, default="")
    active = SelectField("Active", choices=ANY_YES_NO, default="")
    created_from = DateField("Created on or after (UTC)", validators=[Optional()])
    created_to = DateField("Created before (UTC)", validators=[Optional()])
    sort = SelectField("Sort", choices=SORT_CHOICES, default=DEFAULT_SORT)
    limit = IntegerField("Per page", default=PAGE_SIZE, validators=[Optional(), NumberRange(min=1, max=MAX_LIMIT)],
                         render_kw={"min": 1, "max": MAX_LIMIT})
    total = BooleanField("Count every match (slower on a large directory)")
    cursor = HiddenField(validators=[Optional(), Length(max=CURSOR_LIMIT), printable])


class ActionForm(FlaskForm):
    """Only the CSRF token: the button pressed is the action."""


class AddRoleForm(FlaskForm):
    role_id = SelectField("Role to add", choices=[], validators=[DataRequired()])


class EditUserForm(FlaskForm):
    """The account's fields the admin API's PATCH changes (the roles have their own forms)."""

    fullname = StringField("Full name", validators=[DataRequired(), Length(max=TEXT_LIMITS["fullname"])],
                           render_kw={"autocomplete": "off"})
    email = EmailField("Email address (a new one is unverified until its owner enters the code mailed to it)",
                       validators=[DataRequired(), Length(max=EMAIL_LIMIT)], render_kw={"autocomplete": "off"})
    phone = TelField("Phone", validators=[Length(max=PHONE_LIMIT)], render_kw={"autocomplete": "off"})
    avatar = URLField("Picture (an https:// address; empty for the default)", validators=[Length(max=AVATAR_LIMIT)],
                      render_kw={"autocomplete": "off"})
    street_address = StringField("Street address", validators=[Length(max=ADDRESS_LIMITS["street_address"])])
    locality = StringField("City", validators=[Length(max=ADDRESS_LIMITS["locality"])])
    region = StringField("Region", validators=[Length(max=ADDRESS_LIMITS["region"])])
    postal_code = StringField("Postal code", validators=[Length(max=ADDRESS_LIMITS["postal_code"])])
    country = StringField("Country", validators=[Length(max=ADDRESS_LIMITS["country"])])


class CreateUserForm(FlaskForm):
    email = EmailField("Email address", validators=[DataRequired(), Length(max=EMAIL_LIMIT)],
                       render_kw={"autocomplete": "off"})
    fullname = StringField("Full name", validators=[DataRequired(), Length(max=TEXT_LIMITS["fullname"])],
                           render_kw={"autocomplete": "off"})
    password = PasswordField("Password (optional: without one, the user is mailed a code to set it)",
                             validators=[Optional(), Length(max=MAX_PASSWORD_INPUT)],
                             render_kw={"autocomplete": "new-password"})
    phone = TelField("Phone (optional)", validators=[Optional(), Length(max=PHONE_LIMIT)],
                     render_kw={"autocomplete": "off"})
    roles = SelectMultipleField("Roles besides user", choices=[], coerce=str,
                                option_widget=widgets.CheckboxInput(), widget=widgets.ListWidget(prefix_label=False))
    email_verified = BooleanField("The email address is verified")
