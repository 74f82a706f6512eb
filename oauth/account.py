"""The account page of connected applications: the user's grants, each one revocable.

It lives in the OAuth package because grants do (``app`` never imports ``oauth``); it renders in
the account pages' layout (app/templates/account/applications.html).
"""

from flask import Blueprint
from flask import flash
from flask import redirect
from flask import render_template
from flask import url_for
from flask_wtf import FlaskForm

from app.web.session import current_session
from app.web.session import requires_session

from . import consent

bp = Blueprint("oauth_account", __name__)


class RevokeForm(FlaskForm):
    """Only the CSRF token: the form's action names the application."""


@bp.get("/account/applications")
@requires_session
def applications():
    """The applications the user has granted access to, with a Revoke button each."""
    return _page(current_session())


@bp.post("/account/applications/<client_id>/revoke")
@requires_session
def revoke(client_id: str):
    """Withdraw a grant: that application's tokens for the user stop working."""
    session = current_session()
    if not RevokeForm().validate_on_submit():
        return _page(session, status=400)
    if not consent.revoke(session.user_id, client_id):
        flash("This application has no access to withdraw.", "error")
        return _page(session, status=404)
    flash("Access withdrawn: the application can no longer use your account.", "info")
    return redirect(url_for("oauth_account.applications"))


def _page(session, status: int = 200):
    grants = [{"client_id": application.client_id, "name": application.name,
               "scopes": consent.describe(grant.scope), "granted_at": grant.granted_at}
              for grant, application in consent.list_for(session.user_id)]
    return render_template("account/applications.html", applications=grants, form=RevokeForm()), status
