"""/oauth/* and /.well-known/* routes, thin: the Authlib server and the protocol services do the work."""

from authlib.common.urls import add_params_to_uri
from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6749.errors import InsecureTransportError
from authlib.oauth2.rfc6749.errors import InvalidRequestError
from authlib.oidc.core.errors import ConsentRequiredError
from authlib.oidc.core.errors import LoginRequiredError
from flask import Blueprint
from flask import current_app
from flask import g
from flask import redirect
from flask import render_template
from flask import request
from flask import url_for
from flask_wtf import FlaskForm
from werkzeug.exceptions import HTTPException

from app.api.schemas.applications import GrantedApplication
from app.api.schemas.applications import GrantedApplications
from app.api.spec import SESSION_OR_TOKEN
from app.api.spec import responses
from app.api.spec import validate
from app.clock import now
from app.extensions import csrf
from app.web.session import clear_session_cookie
from app.web.session import current_session
from app.web.session import requires_session

from . import consent
from . import form_post
from . import pending
from .policy import reject_repeated_parameters
from .server import StoredRequest

bp = Blueprint("oauth", __name__)

# The endpoints clients call directly: their errors are RFC 6749 JSON. The others (authorize,
# logout) are where a person's browser is, and show an error page.
JSON_ENDPOINTS = ("/oauth/token", "/oauth/revoke", "/oauth/introspect", "/oauth/userinfo")


class DecisionForm(FlaskForm):
    """Consent Allow / Deny; only the CSRF token is a field, the button pressed is the decision."""


def _server():
    return current_app.extensions["oauth_server"]


# --- authorization endpoint -------------------------------------------------------------------

@bp.get("/oauth/authorize")
def authorize():
    """A new authorization request from a client."""
    session = current_session()
    oauth_request = _server().create_oauth2_request(request)
    oauth_request.user_session = session
    return _proceed(oauth_request, session, handle=None, started=None)


@bp.get("/oauth/authorize/<handle>")
def resume(handle):
    """The same request, back from the login page."""
    found = pending.load(handle)
    if found is None:
        return _error_page("This sign-in request has expired or is not yours. Go back to the application "
                           "and start again.", 400)
    session = current_session()
    return _proceed(_stored(found, session), session, handle=handle, started=found.created_at)


@bp.post("/oauth/authorize/<handle>")
def decide(handle):
    """The user's answer on the consent page."""
    found = pending.load(handle)
    session = current_session()
    if found is None or session is None:
        return _error_page("This consent request has expired or is not yours. Go back to the application "
                           "and start again.", 400)
    form = DecisionForm()
    if not form.validate_on_submit():
        return _error_page("The form could not be verified. Go back to the application and start again.", 400)
    oauth_request = _stored(found, session)
    try:
        grant = _server().get_consent_grant(request=oauth_request, end_user=session.user)
    except OAuth2Error as error:
        return _error_response(oauth_request, error)
    allowed = request.form.get("decision") == "allow"
    if allowed:
        consent.record(session.user_id, grant.client, grant.request.scope)
    pending.finish(handle)
    # RFC 6749 §4.1.2.1: a denial goes back to the client as access_denied.
    return _deliver(oauth_request, _server().create_authorization_response(
        request=oauth_request, grant_user=session.user if allowed else None, grant=grant), grant.redirect_uri)


def _stored(found, session) -> StoredRequest:
    oauth_request = StoredRequest(current_app.config["ISSUER"] + "/oauth/authorize", found.params)
    oauth_request.user_session = session
    return oauth_request


def _proceed(oauth_request, session, handle, started):
    """Validate, then sign in, ask for consent, or answer with a code, as the request needs."""
    user = session.user if session else None
    try:
        grant = _server().get_consent_grant(request=oauth_request, end_user=user)
    except OAuth2Error as error:
        return _error_response(oauth_request, error)
    data = oauth_request.payload.data
    prompts = set((data.get("prompt") or "").split())
    if _needs_sign_in(session, prompts, data.get("max_age"), started):
        if "none" in prompts:  # OpenID Connect Core §3.1.2.1
            return _error_response(oauth_request, LoginRequiredError(redirect_uri=grant.redirect_uri))
        handle = handle or pending.save(grant.client, oauth_request.payload.datalist)
        return redirect(url_for("auth.login", next=url_for("oauth.resume", handle=handle),
                                login_hint=data.get("login_hint") or None,
                                prompt="login" if session is not None else None))
    ask = consent.needs_consent(user.id, grant.client, grant.request.scope) or (
        "consent" in prompts and not grant.client.skip_consent)
    if ask:
        if "none" in prompts:
            return _error_response(oauth_request, ConsentRequiredError(redirect_uri=grant.redirect_uri))
        handle = handle or pending.save(grant.client, oauth_request.payload.datalist)
        return render_template("oauth/consent.html", application=grant.client, user=user, handle=handle,
                               scopes=consent.describe(grant.request.scope), form=DecisionForm(formdata=None))
    if handle:
        pending.finish(handle)
    return _deliver(oauth_request, _server().create_authorization_response(
        request=oauth_request, grant_user=user, grant=grant), grant.redirect_uri)


def _needs_sign_in(session, prompts: set[str], max_age: str | None, started) -> bool:
    """No session, prompt=login not yet honoured, or a sign-in older than max_age."""
    if session is None:
        return True
    signed_in_since_request = started is not None and session.created_at > started
    if "login" in prompts and not signed_in_since_request:
        return True
    if max_age is not None and max_age.isdigit():
        return (now() - session.created_at).total_seconds() > int(max_age) and not signed_in_since_request
    return False


def _error_response(oauth_request, error: OAuth2Error):
    """RFC 6749 §4.1.2.1: redirect errors only to a verified redirect URI, else show a page."""
    if error.redirect_uri is None:
        return _error_page(error.description or error.error, error.status_code or 400, error=error.error)
    error.state = error.state or oauth_request.payload.state
    response = _server().handle_error_response(oauth_request, error)
    # RFC 9207 §2: error responses carry iss too.
    location = add_params_to_uri(response.headers["Location"], [("iss", current_app.config["ISSUER"])])
    response.headers["Location"] = location
    return _deliver(oauth_request, response, error.redirect_uri)


def _deliver(oauth_request, response, redirect_uri: str | None):
    """The authorization response as the client asked for it: the redirect itself (query), or with
    response_mode=form_post a page whose form posts the same parameters to the redirect URI (OAuth 2.0
    Form Post Response Mode §2)."""
    location = response.headers.get("Location") if response.status_code in (302, 303) else None
    if (oauth_request.payload.data.get("response_mode") != "form_post" or not redirect_uri or location is None
            or not location.startswith(redirect_uri) or not form_post.possible(redirect_uri)):
        return response
    return form_post.page(redirect_uri, form_post.added_parameters(location, redirect_uri))


def _error_page(detail: str, status: int, error: str | None = None):
    return render_template("errors/oauth.html", detail=detail, error=error, status=status), status


@bp.errorhandler(InsecureTransportError)
def insecure_transport(error):
    """RFC 6749 §3.1, §3.2: the endpoints require TLS. Authlib refuses plain http to a host that
    is not loopback; say so in the endpoint's own error shape instead of failing."""
    refused = InvalidRequestError("https is required: this endpoint is not served over plain http.")
    if request.path.startswith(JSON_ENDPOINTS):
        return _server().handle_error_response(None, refused)
    return _error_page(refused.description, 400, error=refused.error)


# --- token, revocation, introspection, userinfo -------------------------------------------------

@bp.post("/oauth/token")
@csrf.exempt
@reject_repeated_parameters
def token():
    return _server().create_token_response()


@bp.post("/oauth/revoke")
@csrf.exempt
@reject_repeated_parameters
def revoke():
    return _server().create_endpoint_response("revocation")


@bp.post("/oauth/introspect")
@csrf.exempt
@reject_repeated_parameters
def introspect():
    return _server().create_endpoint_response("introspection")


@bp.route("/oauth/userinfo", methods=["GET", "POST"])
@csrf.exempt
def userinfo():
    return _server().create_endpoint_response("userinfo")


# --- logout -----------------------------------------------------------------------------------

@bp.route("/oauth/logout", methods=["GET", "POST"])
@csrf.exempt  # a relying party's logout POST carries no CSRF token; the confirmation form does
def logout():
    """OpenID Connect RP-Initiated Logout 1.0."""
    session = current_session()
    server = _server()
    oauth_request = server.create_oauth2_request(request)
    oauth_request.user_session = session
    oauth_request.confirmed = confirmed = request.method == "POST" and "csrf_token" in request.form
    if confirmed:
        csrf.protect()
    try:
        end_request = server.validate_endpoint_request("end_session", oauth_request)
    except OAuth2Error as error:
        return _error_page(error.description or error.error, 400, error=error.error)
    if end_request.needs_confirmation and not confirmed and session is not None:
        # Shown, not read: formdata=None keeps Flask-WTF off a JSON body that is no object (a 500).
        return render_template("oauth/logout.html", form=DecisionForm(formdata=None), params=request.values)
    response = server.create_endpoint_response("end_session", end_request)
    if response is None:
        response = current_app.make_response(render_template("oauth/logged_out.html"))
    return clear_session_cookie(response)


# --- discovery --------------------------------------------------------------------------------

@bp.get("/.well-known/openid-configuration")
@bp.get("/.well-known/oauth-authorization-server")
def metadata():
    body, etag = current_app.extensions["oauth_metadata"]
    response = current_app.response_class(body, mimetype="application/json")
    response.headers["ETag"] = etag
    response.headers["Cache-Control"] = "public, max-age=3600"
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response.make_conditional(request)


# --- the signed-in user's grants ----------------------------------------------------------------

@bp.get("/api/v1/me/applications")
@requires_session
@validate(resp=responses({200: GrantedApplications}, errors=(401,)), tags=["me"], security=SESSION_OR_TOKEN)
def my_applications():
    """The applications the user has granted access to."""
    session = current_session()
    return GrantedApplications(applications=[
        GrantedApplication(client_id=application.client_id, name=application.name, scope=grant.scope,
                           granted_at=grant.granted_at)
        for grant, application in consent.list_for(session.user_id)])


@bp.delete("/api/v1/me/applications/<client_id>")
@csrf.exempt  # checked below when the request is authenticated by the cookie
@requires_session
@validate(resp=responses({204: None}, errors=(400, 401, 404)), tags=["me"], security=SESSION_OR_TOKEN)
def revoke_my_application(client_id):
    """Withdraw a grant: the application's tokens for this user stop working."""
    session = current_session()
    if g.authenticated_by == "cookie":
        csrf.protect()
    if not consent.revoke(session.user_id, client_id):
        raise _NotGranted()
    return "", 204


class _NotGranted(HTTPException):
    code = 404
    description = "You have not granted access to this application."
