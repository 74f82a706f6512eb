"""Phone verification for the signed-in user (MOBILE_ENABLED): /api/v1/me/phone."""

from flask import Blueprint
from flask import g

from ..extensions import csrf
from ..services import mobile
from ..web.limits import limits_credentials
from ..web.limits import limits_mail
from ..web.limits import signed_in_email
from ..web.session import current_session
from ..web.session import requires_session
from .errors import problem
from .schemas.account import PhoneConfirmed
from .schemas.account import PhoneIn
from .schemas.auth import CodeIn
from .schemas.auth import Status
from .spec import SESSION_OR_TOKEN
from .spec import responses
from .spec import validate

bp = Blueprint("api_phone", __name__, url_prefix="/api/v1/me/phone")
csrf.exempt(bp)
TAGS = ["me"]
ERRORS = (400, 401, 404, 415, 422, 429)


@bp.before_request
def enabled():
    if not mobile.enabled():
        return problem(404, "Not Found", "Mobile features are not enabled on this server.")
    return signed_in()


@requires_session
def signed_in():
    if g.authenticated_by == "cookie":
        csrf.protect()  # a cookie-authenticated change needs the X-CSRFToken header


@bp.post("")
@limits_mail
@validate(json=PhoneIn, resp=responses({202: Status}, errors=(*ERRORS, 503)), tags=TAGS, security=SESSION_OR_TOKEN)
def request_verification(json: PhoneIn):
    """Text a code to the phone number given."""
    mobile.request_verification(current_session().user, json.phone)
    return Status(status="code_sent"), 202


@bp.post("/confirm")
@limits_credentials(account=signed_in_email)
@validate(json=CodeIn, resp=responses({200: PhoneConfirmed}, errors=ERRORS), tags=TAGS, security=SESSION_OR_TOKEN)
def confirm(json: CodeIn):
    """Confirm the phone with the texted code."""
    return PhoneConfirmed(phone=mobile.confirm(current_session().user, json.code), phone_verified=True)
