"""Authlib grant subclasses: storage hooks only, translated into the protocol services."""

from authlib.oauth2.rfc6749 import grants
from authlib.oauth2.rfc6749.errors import InvalidGrantError
from authlib.oauth2.rfc6749.errors import InvalidRequestError
from authlib.oidc.core import UserInfo
from authlib.oidc.core.grants import OpenIDCode as BaseOpenIDCode
from flask import current_app

from app.services import accounts
from keys import ring

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
        codes.store(code, request.client, request.user, request.user_session,
                    redirect_uri=request.payload.redirect_uri or "", scope=request.scope,
                    nonce=data.get("nonce"), code_challenge=data.get("code_challenge"),
                    code_challenge_method=data.get("code_challenge_method"))

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
                            offline="offline_access" in scope.split())


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
                            family_id=old.family_id, offline=old.offline)


class ClientCredentialsGrant(TokenIssuingGrant, grants.ClientCredentialsGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = CONFIDENTIAL_AUTH_METHODS

    def token_grant(self, user, scope):
        return tokens.Grant(self.request.client, None, scope)


class OpenIDCode(BaseOpenIDCode):
    """ID tokens (OpenID Connect Core §2) signed by the key ring's current key."""

    def __init__(self):
        super().__init__(require_nonce=False)

    def resolve_client_private_key(self, client):
        # Only the current key is in the set, so its kid is the one in the header.
        return ring.signing_key_set()

    def get_client_algorithm(self, client):
        return current_app.config["SIGNING_ALG"]

    def get_client_claims(self, client):
        return {"iss": current_app.config["ISSUER"]}

    def get_authorization_code_claims(self, authorization_code: AuthorizationCode):
        found = super().get_authorization_code_claims(authorization_code)
        if authorization_code.session_id is not None:
            found["sid"] = str(authorization_code.session_id)
        return found

    def exists_nonce(self, nonce, request):
        return codes.nonce_was_used(request.client, nonce)

    def generate_user_info(self, user, scope: str) -> UserInfo:
        return UserInfo(claims.for_user(user, scope))

    def process_token(self, grant, response):
        # ID tokens live ID_TOKEN_TTL; Authlib reads the lifetime from this attribute.
        self.DEFAULT_EXPIRES_IN = current_app.config["ID_TOKEN_TTL"]
        return super().process_token(grant, response)
