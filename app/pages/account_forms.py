"""Flask-WTF forms of the account pages. The rules on the values live in services/profile.py; these
forms carry the fields, the CSRF token and the browser hints."""

from flask_wtf import FlaskForm
from wtforms import EmailField
from wtforms import HiddenField
from wtforms import PasswordField
from wtforms import StringField
from wtforms import TelField
from wtforms import URLField
from wtforms.validators import DataRequired
from wtforms.validators import Length

from ..services.email_change import EMAIL_LIMIT
from ..services.passwords import MAX_PASSWORD_INPUT
from ..services.profile import ADDRESS_LIMITS
from ..services.profile import AVATAR_LIMIT
from ..services.profile import PHONE_LIMIT
from ..services.profile import TEXT_LIMITS

# The OIDC address members the form offers ("formatted" is for clients that send one string).
ADDRESS_FIELDS = ("street_address", "locality", "region", "postal_code", "country")


def _hint(limit: int, autocomplete: str) -> dict:
    return {"maxlength": limit, "autocomplete": autocomplete}


class ProfileForm(FlaskForm):
    fullname = StringField("Full name", render_kw=_hint(TEXT_LIMITS["fullname"], "name"))
    given_name = StringField("Given name", render_kw=_hint(TEXT_LIMITS["given_name"], "given-name"))
    family_name = StringField("Family name", render_kw=_hint(TEXT_LIMITS["family_name"], "family-name"))
    phone = TelField("Phone", render_kw=_hint(PHONE_LIMIT, "tel"))
    birthdate = StringField("Birthdate (YYYY-MM-DD)", render_kw={"type": "date", "autocomplete": "bday"})
    avatar = URLField("Picture (an https:// address; empty for the default)",
                      render_kw=_hint(AVATAR_LIMIT, "photo"))
    street_address = StringField("Street address",
                                 render_kw=_hint(ADDRESS_LIMITS["street_address"], "street-address"))
    locality = StringField("City", render_kw=_hint(ADDRESS_LIMITS["locality"], "address-level2"))
    region = StringField("Region", render_kw=_hint(ADDRESS_LIMITS["region"], "address-level1"))
    postal_code = StringField("Postal code", render_kw=_hint(ADDRESS_LIMITS["postal_code"], "postal-code"))
    country = StringField("Country", render_kw=_hint(ADDRESS_LIMITS["country"], "country-name"))


class PasswordChangeForm(FlaskForm):
    current_password = PasswordField("Current password",
                                     validators=[DataRequired(), Length(max=MAX_PASSWORD_INPUT)],
                                     render_kw={"autocomplete": "current-password"})
    new_password = PasswordField("New password", validators=[DataRequired(), Length(max=MAX_PASSWORD_INPUT)],
                                 render_kw={"autocomplete": "new-password"})


class EmailChangeForm(FlaskForm):
    email = EmailField("New email address", validators=[DataRequired(), Length(max=EMAIL_LIMIT)],
                       render_kw={"autocomplete": "email"})
    password = PasswordField("Current password", validators=[DataRequired(), Length(max=MAX_PASSWORD_INPUT)],
                             render_kw={"autocomplete": "current-password"})


class EmailConfirmForm(FlaskForm):
    code = StringField("Code", validators=[DataRequired(), Length(min=4, max=12)],
                       render_kw={"autocomplete": "one-time-code", "inputmode": "numeric"})


class TwoFactorForm(FlaskForm):
    """``enabled`` is "on" or "off"; the password is needed to turn it off."""

    enabled = HiddenField()
    password = PasswordField("Current password", validators=[Length(max=MAX_PASSWORD_INPUT)],
                             render_kw={"autocomplete": "current-password"})


class DeleteAccountForm(FlaskForm):
    password = PasswordField("Current password", validators=[DataRequired(), Length(max=MAX_PASSWORD_INPUT)],
                             render_kw={"autocomplete": "current-password"})


class ActionForm(FlaskForm):
    """Only the CSRF token: the button pressed is the action (end a session, end the others)."""
