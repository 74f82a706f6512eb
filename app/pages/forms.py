"""Flask-WTF forms of the pages; every one carries a CSRF token."""

from flask_wtf import FlaskForm
from wtforms import EmailField
from wtforms import HiddenField
from wtforms import PasswordField
from wtforms.validators import DataRequired
from wtforms.validators import Length


class LoginForm(FlaskForm):
    email = EmailField("Email address", validators=[DataRequired(), Length(max=254)],
                       render_kw={"autocomplete": "username", "autofocus": True})
    password = PasswordField("Password", validators=[DataRequired(), Length(max=1024)],
                             render_kw={"autocomplete": "current-password"})
    next = HiddenField()


class LogoutForm(FlaskForm):
    """Only the CSRF token: signing out is a POST a third-party page cannot forge."""
