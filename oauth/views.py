"""/oauth/* and /.well-known/* routes, thin: the Authlib server and the protocol services do the work."""

from authlib.common.urls import add_params_to_uri
from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6749.errors import InsecureTransportError
from authlib.oauth2.rfc6749.errors import InvalidRequestError
from flask import Blueprint
from flask import current_app
from flask import flash
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
from app.extensions import csrf
from app.web.second_factor import start_second_factor
from app.web.session import browser_session_of
from app.web.session import browser_sessions
from app.web.session import current_session
from app.web.session import end_active_session
from app.web.session import requires_session
from app.web.session import switch_session

from . import consent
from . import form_post
from . import hints
from . import interaction
from . import logout as logout_pages
from . import pending
from . import prompts
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


@bp.post("/oauth/authorize")
@csrf.exempt  # a relying party's cross-site POST carries no CSRF token; the pages that follow do
def authorize_by_post():
    """OIDC Core §3.1.2.1: the endpoint MUST support POST with form-encoded parameters.

    A relying party's page POSTs cross-site, so the browser sends none of our SameSite=Lax cookies
    and the user would look signed out. The request is parked server-side and the browser sent on
    (303) to claim it by GET, a navigation that carries the cookies; the parameters stay out of the
    URL, so a long body (a request object of several KB) meets no request-line limit. A request
    without a verified client and redirect URI is answered here, with the page a GET would show.
    """
    oauth_request = _server().create_oauth2_request(request)
    client = _posted_client(oauth_request)
    if client is None:
        oauth_request.user_session = None
        return _proceed(oauth_request, None, handle=None, started=None)
    handle = pending.park(client, oauth_request.payload.datalist)
    return redirect(url_for("oauth.authorize_posted", handle=handle), 303)


@bp.get("/oauth/authorize/posted/<handle>")
def authorize_posted(handle):
    """A request that came by POST, now with the browser's cookies: validated exactly as a GET."""
    params = pending.claim(handle)
    if params is None:
        return _error_page("This sign-in request has expired. Go back to the application and start again.", 400)
    session = current_session()
    return _proceed(_stored(params, session), session, handle=None, started=None)


def _posted_client(oauth_request):
    """The client of a POSTed request, when it and the redirect URI are verified (single-valued)."""
    datalist = oauth_request.payload.datalist
    if any(len(datalist.get(name, [])) > 1 for name in ("client_id", "redirect_uri")):
        return None
    server = _server()
    client = server.query_client(oauth_request.payload.client_id)
    return client if client is not None and server._verified_redirect_uri(oauth_request) else None


@bp.get("/oauth/authorize/<handle>")
def resume(handle):
    """The same request, back from the login page."""
    found = pending.load(handle)
    if found is None:
        return _not_yours()
    session = current_session()
    return _proceed(_stored(found.params, session), session, handle=handle, started=found.created_at)


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
        return _unverified_form()
    if pending.consent_shown_to(handle) != str(session.user_id):
        # The page named another account than the active one (another tab switched accounts): the
        # request goes through its checks again (id_token_hint, select_account) and asks anew.
        return redirect(url_for("oauth.resume", handle=handle))
    oauth_request = _stored(found.params, session)
    try:
        grant = _server().get_consent_grant(request=oauth_request, end_user=session.user)
    except OAuth2Error as error:
        return _error_response(oauth_request, error)
    step = interaction.recheck_at_consent(oauth_request, grant, session)
    if step is not None:
        return _error_response(oauth_request, step.error) if step.error else redirect(
            url_for("oauth.resume", handle=handle))
    allowed = request.form.get("decision") == "allow"
    if allowed:
        consent.record(session.user_id, grant.client, grant.request.scope)
    pending.finish(handle)
    # RFC 6749 §4.1.2.1: a denial goes back to the client as access_denied.
    return _deliver(oauth_request, _server().create_authorization_response(
        request=oauth_request, grant_user=session.user if allowed else None, grant=grant), grant.redirect_uri)


@bp.post("/oauth/authorize/<handle>/account")
def choose_account(handle):
    """The account picked on the chooser (prompt=select_account): it becomes the active one."""
    found = pending.load(handle)
    if found is None:
        return _not_yours()
    if not DecisionForm().validate_on_submit():
        return _unverified_form()
    picked = request.form.get("account", "")
    chosen = next(((token, held) for token, held in browser_sessions() if str(held.id) == picked), None)
    back = redirect(url_for("oauth.resume", handle=handle))
    if chosen is None:  # signed out meanwhile, or not an account of this browser: choose again
        return back
    pending.note_account_chosen(handle)
    return switch_session(back, *chosen)


def _stored(params, session) -> StoredRequest:
    oauth_request = StoredRequest(current_app.config["ISSUER"] + "/oauth/authorize", params)
    oauth_request.user_session = session
    return oauth_request


def _proceed(oauth_request, session, handle, started):
    """Validate, then choose an account, sign in, ask for consent, or answer with a code."""
    user = session.user if session else None
    try:
        grant = _server().get_consent_grant(request=oauth_request, end_user=user)
        # Read after validation: a request object's parameters (oauth/request_objects.py) are the request's now.
        data = oauth_request.payload.data
        asked = prompts.parse(data.get("prompt"), grant.redirect_uri)
        hint = hints.read(data.get("id_token_hint"), data.get("client_id"))
        if hint.invalid:
            raise interaction.invalid_hint(asked, grant.redirect_uri)
    except OAuth2Error as error:
        return _error_response(oauth_request, error)
    switched = _hinted_session(hint, session)
    if switched is not None:  # the hint names another account this browser holds: use that one
        session = oauth_request.user_session = switched[1]
    response = _answer(oauth_request, grant, session, asked, hint, handle, started)
    if switched is None or "none" in asked:
        # prompt=none answers for the hinted account without making it the browser's active one: no
        # page showed the person a change of account, so none is made behind their back.
        return response
    return switch_session(current_app.make_response(response), *switched)


def _hinted_session(hint, session):
    """This browser's other session of the user an ID token hint names, if the active one is not it."""
    if not hint.names_another_user_than(session):
        return None
    return browser_session_of(hint.subject)


def _answer(oauth_request, grant, session, asked, hint, handle, started):
    """Carry out what the request needs next (``oauth/interaction.py`` decides)."""
    step = interaction.next_step(oauth_request, grant, session, asked, hint, handle, started)
    if step.kind == interaction.ERROR:
        return _error_response(oauth_request, step.error)
    if step.kind == interaction.ANSWER:
        if handle:
            pending.finish(handle)
        return _deliver(oauth_request, _server().create_authorization_response(
            request=oauth_request, grant_user=session.user, grant=grant), grant.redirect_uri)
    handle = handle or pending.save(grant.client, oauth_request.payload.datalist)
    back = url_for("oauth.resume", handle=handle)
    login_hint = oauth_request.payload.data.get("login_hint") or None
    if step.kind == interaction.CHOOSE_ACCOUNT:
        return _choose_account(grant, handle, back, login_hint)
    if step.kind == interaction.SIGN_IN:
        if step.wrong_user and session is not None:
            flash("The application asked for another account: sign in with that one.", "info")
        return redirect(url_for("auth.login", next=back, login_hint=login_hint,
                                prompt="login" if session is not None else None))
    if step.kind == interaction.STEP_UP:
        # The second-factor page for the signed-in user, then back to this request: the code
        # re-authenticates the same session (amr and auth_time updated, same sid).
        start_second_factor(session.user_id, session.user.email, back, step_up=True)
        return redirect(url_for("auth.second_factor"))
    pending.note_consent_shown(handle, session.user_id)
    return render_template("oauth/consent.html", application=grant.client, user=session.user, handle=handle,
                           scopes=consent.describe(grant.request.scope),
                           claims=consent.describe_claims(list(step.extra_claims)), form=DecisionForm(formdata=None))


def _choose_account(grant, handle, back, login_hint):
    """OIDC Core §3.1.2.1 select_account: the accounts this browser holds, or the login form if none."""
    held = browser_sessions()
    if not held:
        return redirect(url_for("auth.login", next=back, login_hint=login_hint))
    return render_template("oauth/select_account.html", application=grant.client, handle=handle,
                           accounts=[held_session for _, held_session in held], form=DecisionForm(formdata=None),
                           another=url_for("auth.login", next=back, login_hint=login_hint, prompt="login"))


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


def _not_yours():
    return _error_page("This sign-in request has expired or is not yours. Go back to the application and start "
                       "again.", 400)


def _unverified_form():
    return _error_page("The form could not be verified. Go back to the application and start again.", 400)


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
    named = _session_named_by(end_request.id_token_claims, session)
    if named is not session:
        # The hint's sub and sid are another of this browser's accounts: that is the one to end.
        oauth_request.user_session, end_request.hint_matches_session = named, True
    if end_request.needs_confirmation and not confirmed and session is not None:
        # Shown, not read: formdata=None keeps Flask-WTF off a JSON body that is no object (a 500).
        return render_template("oauth/logout.html", form=DecisionForm(formdata=None), params=request.values)
    response = server.create_endpoint_response("end_session", end_request)
    # Front-Channel Logout §2: the applications the session signed in to are told in frames first;
    # the page then continues to the post_logout_redirect_uri (if any) the response was going to.
    framed = logout_pages.signed_out_page(end_request.ended_session_id, continue_to=end_request.redirect_uri)
    if framed is not None:
        response = framed
    elif response is None:
        response = current_app.make_response(render_template("oauth/logged_out.html"))
    if session is not None and end_request.ended_session_id not in (None, session.id):
        return response  # another listed account was signed out; the active one stays
    # Only the active account signs out; the browser's next signed-in account, if any, takes over.
    return end_active_session(response)


def _session_named_by(id_token_claims: dict | None, active):
    """The browser session an RP-initiated logout ends: the one of this browser's accounts whose user
    (``sub``) and session (``sid``, when the hint has one) the ID token hint names, else the active one."""
    subject = (id_token_claims or {}).get("sub")
    found = browser_session_of(subject) if isinstance(subject, str) else None
    if found is None:
        return active
    _, session = found
    sid = id_token_claims.get("sid")
    return session if sid is None or sid == str(session.id) else active


# --- discovery --------------------------------------------------------------------------------

@bp.get("/.well-known/openid-configuration")
@bp.get("/.well-known/oauth-authorization-server")
def metadata():
    body, etag, cache_control = current_app.extensions["oauth_metadata"]
    response = current_app.response_class(body, mimetype="application/json")
    response.headers["ETag"] = etag
    response.headers["Cache-Control"] = cache_control
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
