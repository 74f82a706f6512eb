"""The OAuth 2.0 / OpenID Connect authorization server (Authlib), built per application.

The policy, in order: authorization code with single-valued parameters, PKCE S256 for every
client and the issuer in every authorization response; OpenID Connect ID tokens; rotating
refresh tokens with reuse detection; client credentials; revocation, introspection (resource
servers only), userinfo and RP-initiated logout.
"""

import ipaddress
import logging
import uuid
from urllib.parse import urlsplit

from flask import Flask
from flask import current_app
from flask import jsonify
from flask import request

log = logging.getLogger(__name__)


def init_app(app: Flask) -> None:
    """Build the server for ``app`` and register its routes, commands and event handlers."""
    from app import errors
    from app.api import docs
    from app.services import events

    from . import account
    from . import admin
    from . import cli
    from . import clients
    from . import console
    from . import discovery
    from . import endpoints
    from . import grants
    from . import logout
    from . import models  # noqa: F401  (registers the protocol's tables)
    from . import openapi
    from . import policy
    from . import request_objects
    from . import revocations
    from . import views
    from .server import AuthorizationServer

    server = AuthorizationServer(app)
    server.register_grant(grants.AuthorizationCodeGrant,
                          [policy.SingleValuedParameters(), policy.S256CodeChallenge(), policy.ResponseModes(),
                           grants.OpenIDCode()])
    server.register_grant(grants.RefreshTokenGrant, [grants.RefreshedIDToken()])
    server.register_grant(grants.ClientCredentialsGrant)
    server.register_extension(policy.IssuerParameter())
    server.register_extension(request_objects.RequestObjects())
    protector = endpoints.ResourceProtector()
    protector.register_token_validator(endpoints.BearerTokenValidator(realm=app.config["ISSUER"]))
    server.register_endpoint(endpoints.RevocationEndpoint)
    server.register_endpoint(endpoints.IntrospectionEndpoint)
    server.register_endpoint(endpoints.UserInfoEndpoint(resource_protector=protector))
    server.register_endpoint(endpoints.EndSessionEndpoint)
    app.extensions["oauth_server"] = server
    app.extensions["bearer_session_resolver"] = _session_from_token
    app.extensions["bearer_grant_resolver"] = _grant_from_token

    clients.init_app(app)
    revocations.init_app(app)
    discovery.init_app(app)
    app.register_blueprint(views.bp)
    app.register_blueprint(account.bp)
    app.register_blueprint(admin.bp)
    console.init_app(app)
    app.cli.add_command(cli.clients)
    docs.contribute(app, openapi.describe)
    for path in views.JSON_ENDPOINTS:
        errors.register_shape(app, path, _oauth_error)
    # A path under /oauth/ that no route took (404, 405): a client's mistake, answered as one.
    errors.register_shape(app, "/oauth/", _oauth_error, when=lambda: request.url_rule is None)
    if not _is_secure_issuer(app.config["ISSUER"]):
        log.warning("ISSUER %s is plain http on a host that is not loopback: the OAuth endpoints will refuse "
                    "every request with invalid_request (https is required). Serve the issuer over https, or set "
                    "TRUSTED_PROXY_HOPS when a proxy terminates TLS.", app.config["ISSUER"])
    # Connecting the same function again is a no-op, so many apps (tests) share one receiver.
    events.sessions_ended.connect(_on_sessions_ended)
    events.credentials_revoked.connect(_on_credentials_revoked)
    # The logged-out page of /logout shows the front-channel logout frames of the session it ended.
    app.extensions["signed_out_page"] = logout.signed_out_page
    # Each process's back-channel delivery thread starts with the worker (app/serve.py), or under another
    # WSGI server with its first request through Flask (and after a fork).
    app.extensions.setdefault("worker_starts", []).append(lambda: logout.ensure_worker(app))
    app.before_request(lambda: logout.ensure_worker(app))


def _is_secure_issuer(issuer: str) -> bool:
    """https, or http on loopback (where Authlib, following RFC 8252 §7.3, allows it)."""
    parts = urlsplit(issuer)
    if parts.scheme == "https":
        return True
    host = parts.hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


# The scope that lets an access token use the server's own account API (/currentuser, /api/v1/me).
ACCOUNT_SCOPE = "account"

OAUTH_ERRORS = {400: "invalid_request", 401: "invalid_client", 404: "invalid_request", 405: "invalid_request",
                413: "invalid_request", 429: "slow_down", 503: "temporarily_unavailable"}


def _oauth_error(error):
    """RFC 6749 §5.2 error JSON for HTTP-level errors on the protocol endpoints."""
    status = error.code or 500
    response = jsonify({"error": OAUTH_ERRORS.get(status, "server_error"), "error_description": error.description})
    response.status_code = status
    for name, value in error.get_headers():
        if name.lower() != "content-type":
            response.headers[name] = value
    return response


def _session_from_token(token: str):
    """The live session a bearer access token was issued in, for the server's own APIs.

    Only tokens granted the ``account`` scope act for the user there: a token an application got
    for ``openid profile`` must not edit the profile, end sessions or revoke grants.
    """
    from app.services import sessions

    from . import tokens

    valid = tokens.validate_access_token(token)
    if valid is None or ACCOUNT_SCOPE not in valid.scope.split():
        return None
    sid = valid.claims.get("sid")
    return sessions.find_live(uuid.UUID(sid)) if sid else None


def _grant_from_token(token: str):
    """What a valid bearer access token vouches for, for the admin API's guard; else None."""
    from app.web.permissions import BearerGrant

    from . import clients
    from . import tokens

    valid = tokens.validate_access_token(token)
    if valid is None:
        return None
    user_id = valid.claims.get("userId")
    return BearerGrant(
        user_id=uuid.UUID(user_id) if user_id else None, client_id=valid.application.client_id,
        scopes=frozenset(valid.scope.split()),
        application_permissions=frozenset() if user_id else clients.permissions_of(valid.application.id))


def _on_sessions_ended(user_id, session_ids):
    if "oauth_server" in current_app.extensions:
        from . import logout
        from . import tokens

        # OpenID Connect Back-Channel Logout §2.5: every application the sessions signed in to is told.
        # The notices are committed with the revocation below, then sent in the background.
        queued = logout.enqueue(user_id, session_ids)
        tokens.revoke_for_sessions(user_id, session_ids)
        if queued:
            logout.wake(current_app._get_current_object())


def _on_credentials_revoked(user_id):
    if "oauth_server" in current_app.extensions:
        from . import tokens
        tokens.revoke_for_user(user_id)
