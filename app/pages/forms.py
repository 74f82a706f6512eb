"""Flask-WTF forms of the pages; every one carries a CSRF token."""

from flask_wtf import FlaskForm
from wtforms import EmailField
from wtforms import HiddenField
from wtforms import PasswordField
from wtforms import StringField
from wtforms import TelField
from wtforms.validators import DataRequired
from wtforms.validators import Length
from wtforms.validators import Optional


class LoginForm(FlaskForm):
    email = EmailField("Email address", validators=[DataRequired(), Length(max=254)],
                       render_kw={"autocomplete": "username", "autofocus": True})
    password = PasswordField("Password", validators=[DataRequired(), Length(max=1024)],
                             render_kw={"autocomplete": "current-password"})
    next = HiddenField()


class LogoutForm(FlaskForm):
    """Only the CSRF token: signing out is a POST a third-party page cannot forge."""


class RegisterForm(FlaskForm):
    email = EmailField("Email address", validators=[DataRequired(), Length(max=254)],
                       render_kw={"autocomplete": "email"})
    fullname = StringField("Full name", validators=[DataRequired(), Length(max=200)],
                           render_kw={"autocomplete": "name"})
    password = PasswordField("Password", validators=[DataRequired(), Length(max=1024)],
                             render_kw={"autocomplete": "new-password"})
    phone = TelField("Phone (optional)", validators=[Optional(), Length(max=32)], render_kw={"autocomplete": "tel"})
    street_address = StringField("Street address (optional)", validators=[Optional(), Length(max=200)],
                                 render_kw={"autocomplete": "street-address"})
    locality = StringField("City (optional)", validators=[Optional(), Length(max=100)],
                           render_kw={"autocomplete": "address-level2"})
    postal_code = StringField("Postal code (optional)", validators=[Optional(), Length(max=20)],
                              render_kw={"autocomplete": "postal-code"})
    country = StringField("Country (optional)", validators=[Optional(), Length(max=100)],
                          render_kw={"autocomplete": "country-name"})
    next = HiddenField()


class CodeForm(FlaskForm):
    """An emailed code for an address (verification, 2FA)."""

    email = EmailField("Email address", validators=[DataRequired(), Length(max=254)],
                       render_kw={"autocomplete": "email"})
    code = StringField("Code", validators=[DataRequired(), Length(min=4, max=12)],
                       render_kw={"autocomplete": "one-time-code", "inputmode": "numeric"})
    next = HiddenField()


class ResendForm(FlaskForm):
    email = HiddenField(validators=[Length(max=254)])
    next = HiddenField()


class SecondFactorForm(FlaskForm):
    code = StringField("Code", validators=[DataRequired(), Length(min=4, max=12)],
                       render_kw={"autocomplete": "one-time-code", "inputmode": "numeric", "autofocus": True})


class ForgotForm(FlaskForm):
    email = EmailField("Email address", validators=[DataRequired(), Length(max=254)],
                       render_kw={"autocomplete": "email", "autofocus": True})


class ResetForm(FlaskForm):
    email = EmailField("Email address", validators=[DataRequired(), Length(max=254)],
                       render_kw={"autocomplete": "email"})
    code = StringField("Code", validators=[DataRequired(), Length(min=4, max=12)],
                       render_kw={"autocomplete": "one-time-code", "inputmode": "numeric"})
    password = PasswordField("New password", validators=[DataRequired(), Length(max=1024)],
                             render_kw={"autocomplete": "new-password"})
