"""Phone verification for the signed-in user (MOBILE_ENABLED): /api/v1/me/phone."""

from flask import Blueprint
from flask import abort
from flask import g
from flask import jsonify
from flask import request

from ..extensions import csrf
from ..services import mobile
from ..web.limits import limits_credentials
from ..web.limits import limits_mail
from ..web.limits import signed_in_email
from ..web.session import current_session
from ..web.session import requires_session
from .errors import problem

bp = Blueprint("api_phone", __name__, url_prefix="/api/v1/me/phone")
csrf.exempt(bp)


@bp.before_request
def enabled():
    if not mobile.enabled():
        return problem(404, "Not Found", "Mobile features are not enabled on this server.")
    return signed_in_json()


@requires_session
def signed_in_json():
    if g.authenticated_by == "cookie":
        csrf.protect()  # a cookie-authenticated change needs the X-CSRFToken header
    if not request.is_json or not isinstance(request.get_json(silent=True), dict):
        abort(415, "Send a JSON object (Content-Type: application/json).")


@bp.post("")
@limits_mail
def request_verification():
    """Text a code to the phone number given."""
    phone = request.get_json().get("phone")
    if not isinstance(phone, str):
        abort(400, "'phone' must be a string.")
    mobile.request_verification(current_session().user, phone)
    return jsonify({"status": "code_sent"}), 202


@bp.post("/confirm")
@limits_credentials(account=signed_in_email)
def confirm():
    """Confirm the phone with the texted code."""
    code = request.get_json().get("code")
    if not isinstance(code, str):
        abort(400, "'code' must be a string.")
    return jsonify({"phone": mobile.confirm(current_session().user, code), "phone_verified": True})
