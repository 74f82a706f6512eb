"""Authlib grant subclasses: storage hooks only, translated into the protocol services."""

from authlib.oauth2.rfc6749 import grants
from authlib.oauth2.rfc6749.errors import InvalidGrantError
from authlib.oauth2.rfc6749.errors import InvalidRequestError
from authlib.oidc.core.grants import OpenIDCode as BaseOpenIDCode
from authlib.oidc.core.grants.util import is_openid_scope
from authlib.oidc.core.util import create_half_hash
from flask import current_app

from app.clock import now
from app.services import accounts
from keys import ring

from . import acr
from . import claims
from . import codes
from . import tokens
from .models import AuthorizationCode
from .models import RefreshToken


class TokenIssuingGrant:
    """Issue tokens through ``oauth.tokens`` with the full context of the grant."""

    def token_grant(self, user, scope) -> tokens.Grant:
        raise NotImplementedError

    def generate_token(self, user=None, scope=None, grant_type=None, expires_in=None, include_refresh_token=True):
        """Replaces Authlib's generator: it cannot see the session, the code or the refresh family."""
        scope = self.request.client.get_allowed_scope(scope)
        include = include_refresh_token and self.request.client.check_grant_type("refresh_token")
        return tokens.issue(self.token_grant(user, scope), include_refresh_token=include)


# How confidential clients authenticate (RFC 7591 §2): a secret, or a JWT (RFC 7523 §2.2).
CONFIDENTIAL_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "private_key_jwt", "client_secret_jwt"]


class AuthorizationCodeGrant(TokenIssuingGrant, grants.AuthorizationCodeGrant):
    # Public clients authenticate with none and prove possession with PKCE (RFC 7636).
    TOKEN_ENDPOINT_AUTH_METHODS = [*CONFIDENTIAL_AUTH_METHODS, "none"]

    @staticmethod
    def validate_authorization_redirect_uri(request, client):
        """Authlib's check, without echoing an unregistered URI: its description refuses (with a
        500) the characters RFC 6749 §4.1.2.1 forbids there, and the URI may hold any."""
        uri = request.payload.redirect_uri
        if uri and not client.check_redirect_uri(uri):
            raise InvalidRequestError("The redirect_uri is not registered for this client.")
        # OpenID Connect Core §3.1.2.1: redirect_uri is REQUIRED in an OpenID request (RFC 6749
        # lets a plain OAuth request omit it when a single URI is registered). Without it there is
        # no URI the request named to send the error to: an error page.
        if not uri and "openid" in (request.payload.scope or "").split():
            raise InvalidRequestError("The redirect_uri parameter is required in an OpenID Connect request.")
        return grants.AuthorizationCodeGrant.validate_authorization_redirect_uri(request, client)

    @staticmethod
    def validate_no_multiple_request_parameter(request):
        """RFC 6749 §3.1: a repeated client_id or redirect_uri leaves no verified client or URI to
        send an error to (an error page follows); other repeated parameters are refused once
        both are verified (``policy.SingleValuedParameters``), so that error goes back to the client."""
        for name in ("client_id", "redirect_uri"):
            if len(request.payload.datalist.get(name, [])) > 1:
                raise InvalidRequestError(f"The request includes '{name}' more than once.")

    def validate_token_request(self):
        super().validate_token_request()
        code: AuthorizationCode = self.request.authorization_code
        sent = self.request.payload.redirect_uri
        # OAuth 2.1 §4.1.3: redirect_uri is required (and must be identical, checked by Authlib) when
        # the authorization request had one. Without one there (allowed only with a single registered
        # URI), it may be left out here; when sent anyway it must be the URI the code went to.
        if not code.redirect_uri and sent is not None and sent != self.request.client.get_default_redirect_uri():
            raise InvalidGrantError("Invalid 'redirect_uri' in request.")

    def save_authorization_code(self, code, request):
        """Called at /oauth/authorize once the user has allowed the request (code: 48 random chars)."""
        data = request.payload.data
        session = request.user_session
        claims_request = claims.parse_request(data.get("claims"))  # validated with the request
        reached = acr.requested(data.get("acr_values"), claims_request).reported(acr.session_level(session.amr))
        codes.store(code, request.client, request.user, session,
                    redirect_uri=request.payload.redirect_uri or "", scope=request.scope,
                    nonce=data.get("nonce"), code_challenge=data.get("code_challenge"),
                    code_challenge_method=data.get("code_challenge_method"), acr=reached, claims=claims_request)

    def query_authorization_code(self, code, client):
        """Consume the code atomically; None for unknown, foreign, expired or reused codes."""
        return codes.consume(code, client)

    def delete_authorization_code(self, authorization_code):
        """Nothing to do: ``codes.consume`` marked it used in the transaction that saves the tokens."""

    def authenticate_user(self, authorization_code: AuthorizationCode):
        return accounts.active_user(authorization_code.user_id)

    def token_grant(self, user, scope):
        code: AuthorizationCode = self.request.authorization_code
        return tokens.Grant(self.request.client, user, scope, session_id=code.session_id,
                            auth_time=code.auth_time, amr=tuple(code.amr), code_id=code.id,
                            family_id=code.family_id, offline="offline_access" in scope.split(), acr=code.acr,
                            claims=code.claims)


class RefreshTokenGrant(TokenIssuingGrant, grants.RefreshTokenGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = [*CONFIDENTIAL_AUTH_METHODS, "none"]
    # RFC 9700 §4.14.2: public clients' refresh tokens rotate; ours rotate for every client.
    INCLUDE_NEW_REFRESH_TOKEN = True

    def authenticate_refresh_token(self, refresh_token):
        """Claim the token for this rotation; reuse of a rotated token revokes its family."""
        return tokens.claim_refresh_token(refresh_token)

    def authenticate_user(self, refresh_token: RefreshToken):
        return accounts.active_user(refresh_token.user_id)

    def revoke_old_credential(self, refresh_token):
        """Nothing to do: claiming the token marked it rotated in the same transaction."""

    def token_grant(self, user, scope):
        old: RefreshToken = self.request.refresh_token
        return tokens.Grant(self.request.client, user, scope, session_id=old.session_id,
                            auth_time=old.auth_time, amr=tuple(old.amr), code_id=old.code_id,
                            family_id=old.family_id, offline=old.offline, acr=old.acr, claims=old.claims)


class ClientCredentialsGrant(TokenIssuingGrant, grants.ClientCredentialsGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = CONFIDENTIAL_AUTH_METHODS

    def token_grant(self, user, scope):
        return tokens.Grant(self.request.client, None, scope)


def id_token(token: dict, client, user, source: AuthorizationCode | RefreshToken, nonce: str | None) -> str:
    """An ID token (OpenID Connect Core §2) for the tokens just issued from ``source``: a code, or
    a refresh token (§12.2) whose ID token keeps the original sign-in's auth_time, acr, amr and
    sid, and has no nonce. Signed by the key ring's current key (its kid in the header)."""
    config = current_app.config
    issued = int(now().timestamp())
    found = {
        "iss": config["ISSUER"],
        "aud": [client.get_client_id()],
        "iat": issued,
        "exp": issued + config["ID_TOKEN_TTL"],
        "auth_time": int(source.auth_time.timestamp()),
    }
    if nonce:
        found["nonce"] = nonce
    if source.acr:
        found["acr"] = source.acr
    if source.amr:
        found["amr"] = list(source.amr)
    if source.session_id is not None:
        found["sid"] = str(source.session_id)
    # §3.1.3.6: at_hash, the left half of the hash of the access token issued beside it.
    at_hash = create_half_hash(token["access_token"], config["SIGNING_ALG"])
    if at_hash is not None:
        found["at_hash"] = at_hash.decode()
    # The scope's claims, and those the claims request asked for in the ID token (§5.5), which the
    # user consented to when the code was issued.
    found.update(claims.for_user(user, token["scope"], claims.names(source.claims, "id_token")))
    return ring.sign(found, typ="JWT")


# The nonce is kept with the code (authorization_codes.nonce) to go into the ID token.
MAX_NONCE_LENGTH = 255


def _check_nonce(nonce: str) -> None:
    """A nonce the code can keep: at most MAX_NONCE_LENGTH characters, and no NUL (refused before
    routing in a query or body, but a request object's nonce may hold one; PostgreSQL text cannot)."""
    if len(nonce) > MAX_NONCE_LENGTH:
        raise InvalidRequestError(f"The nonce is longer than {MAX_NONCE_LENGTH} characters.")
    if "\x00" in nonce:
        raise InvalidRequestError("The nonce contains a NUL character.")


class OpenIDCode(BaseOpenIDCode):
    """ID tokens (OpenID Connect Core §2) signed by the key ring's current key."""

    def __init__(self):
        super().__init__(require_nonce=False)

    def exists_nonce(self, nonce, request):
        # Authlib's nonce check may run before validate_stored_parameters (its hooks are a set, in
        # no fixed order), and it queries with the nonce: the nonce is checked here too.
        _check_nonce(nonce)
        return codes.nonce_was_used(request.client, nonce)

    def __call__(self, grant):
        super().__call__(grant)
        # Authlib validates OpenID requests only; the claims parameter and the nonce are read and
        # stored for every code request (oauth/views.py, codes.store), so they are checked for all.
        grant.register_hook("after_validate_authorization_request_payload", self.validate_stored_parameters)

    @staticmethod
    def validate_stored_parameters(grant, redirect_uri):
        # OpenID Connect Core §5.5: the claims parameter is a JSON object of a given shape; anything
        # else is invalid_request, sent back to the client. claims_locales, ui_locales and display
        # (§3.1.2.1) are accepted as they come: the pages are in English, in one layout.
        data = grant.request.payload.data
        try:
            claims.parse_request(data.get("claims"))
        except claims.InvalidClaimsRequest as error:
            raise InvalidRequestError(str(error))
        if data.get("nonce") is not None:
            _check_nonce(data["nonce"])

    def encode_id_token(self, token, request):
        code: AuthorizationCode = request.authorization_code
        return id_token(token, request.client, request.user, code, code.nonce)


class RefreshedIDToken:
    """OpenID Connect Core §12.2: a refresh of a grant with ``openid`` answers with a new ID token
    too (same iss, sub and aud, the original auth_time, acr, amr and sid, no nonce, new iat/exp)."""

    def __call__(self, grant):
        grant.register_hook("after_create_token_response", self.process_token)

    def process_token(self, grant, response):
        _, token, _ = response
        if is_openid_scope(token.get("scope")):
            request = grant.request
            token["id_token"] = id_token(token, request.client, request.user, request.refresh_token, nonce=None)
        return token
