"""Revocation, introspection, userinfo and end-session endpoints, and the bearer token check."""

import uuid
from dataclasses import dataclass
from dataclasses import fields

from authlib.consts import default_json_headers
from authlib.integrations.flask_oauth2 import ResourceProtector as BaseResourceProtector
from authlib.oauth2.rfc6749.errors import InvalidRequestError
from authlib.oauth2.rfc6749.errors import MissingAuthorizationError
from authlib.oauth2.rfc6749.errors import UnauthorizedClientError
from authlib.oauth2.rfc6750 import BearerTokenValidator as BaseBearerTokenValidator
from authlib.oauth2.rfc7009 import RevocationEndpoint as BaseRevocationEndpoint
from authlib.oauth2.rfc7662 import IntrospectionEndpoint as BaseIntrospectionEndpoint
from authlib.oidc.core import UserInfo
from authlib.oidc.core import UserInfoEndpoint as BaseUserInfoEndpoint
from authlib.oidc.rpinitiated import EndSessionEndpoint as BaseEndSessionEndpoint
from authlib.oidc.rpinitiated import EndSessionRequest as BaseEndSessionRequest
from flask import current_app
from flask import request as flask_request
from joserfc.errors import JoseError
from joserfc.jws import extract_compact
from sqlalchemy import select

from app.clock import now
from app.extensions import db
from app.services import sessions
from app.services import user_cache
from keys import ring

from . import claims
from . import tokens
from .models import Application
from .models import RefreshToken

# Every confidential method (a secret, or a JWT: RFC 7523 §2.2) authenticates here as at the token endpoint.
CONFIDENTIAL_AUTH = ["client_secret_basic", "client_secret_post", "private_key_jwt", "client_secret_jwt"]


def _looks_like_jwt(value: str) -> bool:
    return value.count(".") == 2


def _refresh_token(value: str) -> RefreshToken | None:
    if not value or len(value) > 128:
        return None
    return db.session.scalar(select(RefreshToken).where(RefreshToken.token_hash == tokens.digest(value)))


@dataclass
class RevocableAccessToken:
    """An unexpired access token we signed, as presented for revocation."""

    claims: dict


class RevocationEndpoint(BaseRevocationEndpoint):
    """RFC 7009. Public clients may revoke their own tokens; unknown and foreign tokens answer
    200 and change nothing (§2.2)."""

    CLIENT_AUTH_METHODS = [*CONFIDENTIAL_AUTH, "none"]

    def check_params(self, request, client):
        if "token" not in request.form:
            raise InvalidRequestError()
        # §2.1: a hint the server does not know only means "search everywhere".

    def authenticate_token(self, request, client):
        self.check_params(request, client)
        token = self.query_token(request.form["token"], request.form.get("token_type_hint"))
        if isinstance(token, RevocableAccessToken):
            return token if token.claims.get("client_id") == client.client_id else None
        return token if token is not None and token.application_id == client.id else None

    def query_token(self, token_string, token_type_hint):
        if _looks_like_jwt(token_string):
            # No record to look up: the token itself, verified, names its jti, client and expiry.
            try:
                found = ring.verify(token_string, typ="at+jwt")
            except ring.InvalidSignature:
                return None
            live = isinstance(found.get("exp"), int) and found["exp"] > now().timestamp()
            return RevocableAccessToken(found) if live and isinstance(found.get("jti"), str) else None
        return _refresh_token(token_string)

    def revoke_token(self, token, request):
        if isinstance(token, RevocableAccessToken):
            tokens.revoke_access_token(token.claims)
        else:
            # Revoking a refresh token ends its whole family and the access tokens it issued.
            tokens.revoke_family(token.family_id)


@dataclass
class IntrospectedRefreshToken:
    record: RefreshToken


class IntrospectionEndpoint(BaseIntrospectionEndpoint):
    """RFC 7662, for applications registered as resource servers. Anything not active is exactly
    ``{"active": false}`` (§2.2)."""

    CLIENT_AUTH_METHODS = CONFIDENTIAL_AUTH

    def authenticate_endpoint_client(self, request):
        client = super().authenticate_endpoint_client(request)
        # RFC 7662 §4: the endpoint must be protected so that only authorized resource servers learn
        # about tokens (and the users behind them); other clients are refused, not told "inactive".
        if not client.introspect:
            raise UnauthorizedClientError(
                "This client is not registered as a resource server, so it may not introspect tokens",
                status_code=403)
        return client

    def check_params(self, request, client):
        if "token" not in request.form:
            raise InvalidRequestError()

    def query_token(self, token_string, token_type_hint):
        if _looks_like_jwt(token_string):
            return tokens.validate_access_token(token_string)
        record = _refresh_token(token_string)
        if record is None or record.revoked_at or record.rotated_at or record.expires_at <= now():
            return None
        return IntrospectedRefreshToken(record)

    def check_permission(self, token, client, request):
        return client.introspect

    def create_introspection_payload(self, token):
        if token is None:
            return {"active": False}
        return self.introspect_token(token)

    def introspect_token(self, token):
        if isinstance(token, IntrospectedRefreshToken):
            record = token.record
            application = db.session.get(Application, record.application_id)
            user = user_cache.active(record.user_id)
            if application is None or application.deleted_at or user is None:
                return {"active": False}
            return {"active": True, "token_type": "refresh_token", "client_id": application.client_id,
                    "sub": str(user.id), "username": user.email, "scope": record.scope,
                    "exp": int(record.expires_at.timestamp()), "iat": int(record.created_at.timestamp()),
                    "iss": current_app.config["ISSUER"]}
        found = token.claims
        body = {"active": True, "token_type": "Bearer"}
        body.update({name: found[name] for name in ("sub", "client_id", "scope", "exp", "iat", "iss", "aud")
                     if name in found})
        username = self._username(found)
        if username is False:
            return {"active": False}
        if username:
            body["username"] = username
        return body

    @staticmethod
    def _username(found: dict):
        """The user's email; False when the user is gone or deactivated (the token is then dead)."""
        if "userId" not in found:
            return None
        user = user_cache.active(found["userId"])
        return user.email if user is not None else False


class VerifiedToken:
    """A validated access token in the shape Authlib's protector and userinfo expect."""

    def __init__(self, valid: tokens.ValidAccessToken):
        self.claims = valid.claims
        self.scope = valid.scope
        self.application = valid.application

    def get_scope(self) -> str:
        return self.scope

    def is_expired(self) -> bool:
        return False  # checked when validated

    def is_revoked(self) -> bool:
        return False  # checked when validated

    def get_user(self):
        user_id = self.claims.get("userId")
        return user_cache.active(user_id) if user_id else None

    def get_client(self) -> Application:
        return self.application


class BearerTokenValidator(BaseBearerTokenValidator):
    def authenticate_token(self, token_string):
        valid = tokens.validate_access_token(token_string)
        return VerifiedToken(valid) if valid else None


class MissingBearerToken(MissingAuthorizationError):
    """RFC 6750 §3.1: a request without credentials gets the challenge and no error code."""

    def get_headers(self):
        headers = [(name, value) for name, value in super().get_headers() if name != "WWW-Authenticate"]
        return [*headers, ("WWW-Authenticate", f'Bearer realm="{self.realm}"')]


class ResourceProtector(BaseResourceProtector):
    """RFC 6750: the token comes in the Authorization header or, for a form POST, in the body
    (§2.2); never in the query string (§2.3 allows it, RFC 9700 §2.1 says not to)."""

    def parse_request_authorization(self, request):
        if "access_token" in flask_request.args:
            raise InvalidRequestError("Send the access token in the Authorization header, not the URL")
        validator = self.get_token_validator("bearer")
        scheme, _, token = (request.headers.get("Authorization") or "").partition(" ")
        if scheme.lower() == "bearer" and token.strip():
            return validator, token.strip()
        if not scheme and flask_request.method == "POST" \
                and flask_request.mimetype == "application/x-www-form-urlencoded" \
                and flask_request.form.get("access_token"):
            return validator, flask_request.form["access_token"]
        raise MissingBearerToken("Bearer", validator.realm)


class UserInfoEndpoint(BaseUserInfoEndpoint):
    """OpenID Connect Core §5.3: the user's claims for an access token with ``openid``, by GET or
    POST (the token in the Authorization header, or in a form body: RFC 6750 §2.2); as JSON, or as
    a JWT signed by the key ring when the client registered ``userinfo_signed_response_alg``."""

    def __call__(self, request):
        token = self.resource_protector.acquire_token("openid")
        client = token.get_client()
        user_info = self.generate_user_info(token.get_user(), token.scope,
                                            token.claims.get(tokens.USERINFO_CLAIMS) or ())
        if client.client_metadata.get("userinfo_signed_response_alg"):
            # §5.3.2: a signed response carries iss (the issuer) and aud (the client's id). The key
            # ring signs with the one algorithm discovery lists in userinfo_signing_alg_values_supported.
            user_info["iss"] = self.get_issuer()
            user_info["aud"] = client.client_id
            no_store = [item for item in default_json_headers if item[0] != "Content-Type"]
            return 200, ring.sign(dict(user_info), typ="JWT"), [("Content-Type", "application/jwt"), *no_store]
        return 200, user_info, default_json_headers

    def get_issuer(self) -> str:
        return current_app.config["ISSUER"]

    def generate_user_info(self, user, scope, asked=()) -> UserInfo:
        if user is None:
            raise InvalidRequestError("The user of this token no longer exists")
        # The scope's claims, and those the claims request asked for at userinfo (§5.5), which the
        # user consented to when the code was issued (the access token names them).
        return UserInfo(claims.for_user(user, scope, [name for name in asked if isinstance(name, str)]))

    def resolve_private_key(self):
        return ring.signing_key_set()


@dataclass
class EndSessionRequest(BaseEndSessionRequest):
    """An end-session request, ended without asking only when its ID token names this browser's session."""

    hint_matches_session: bool = False
    # The session this logout ended (its front-channel frames go on the logged-out page).
    ended_session_id: uuid.UUID | None = None

    @property
    def needs_confirmation(self) -> bool:
        return not self.hint_matches_session


class EndSessionEndpoint(BaseEndSessionEndpoint):
    """OpenID Connect RP-Initiated Logout 1.0."""

    def get_server_jwks(self):
        return ring.verification_key_set()

    def validate_request(self, request):
        data = request.payload.data
        validated = super().validate_request(request)
        end_request = EndSessionRequest(**{field.name: getattr(validated, field.name) for field in fields(validated)},
                                        hint_matches_session=_names_session(validated.id_token_claims,
                                                                            getattr(request, "user_session", None)))
        if data.get("client_id") and end_request.client is None:
            # RP-Initiated Logout §2: client_id identifies a registered client; an unknown one is an error.
            raise InvalidRequestError("client_id is not a registered client")
        uri = data.get("post_logout_redirect_uri")
        if uri and end_request.client is not None and uri not in end_request.client.post_logout_redirect_uris:
            # RP-Initiated Logout §3: never redirect to a URI that does not exactly match a registered one
            # (a query added to a registered URI is another URI); say so on our page.
            raise InvalidRequestError("post_logout_redirect_uri is not registered for this client")
        return end_request

    def _validate_id_token_hint(self, id_token_hint: str) -> dict:
        # RP-Initiated Logout §2: the OP MUST validate that it was the issuer of the ID Token: our
        # signature (Authlib checks it, and accepts an expired hint) on an ID token, not on another
        # JWT the ring signs (access or logout tokens), naming us as its issuer.
        try:
            claims = super()._validate_id_token_hint(id_token_hint)
        except (ValueError, TypeError, KeyError, UnicodeError) as error:  # garbage joserfc does not name
            raise InvalidRequestError("id_token_hint is not a valid ID token") from error
        if _jwt_type(id_token_hint) not in (None, "JWT") or claims.get("iss") != current_app.config["ISSUER"]:
            raise InvalidRequestError("id_token_hint is not an ID token issued by this server")
        return claims

    def is_post_logout_redirect_uri_legitimate(self, request, post_logout_redirect_uri, client, logout_hint):
        # Without an id_token_hint, the user confirmed on our page (CSRF-checked) first, and the
        # client_id named the client whose registered URI this is.
        return bool(getattr(request, "confirmed", False))

    def resolve_client_from_id_token_claims(self, id_token_claims):
        # Our ID tokens carry aud as a list with the client first (Authlib resolves only strings).
        audience = id_token_claims.get("azp") or id_token_claims.get("aud")
        if isinstance(audience, list):
            audience = audience[0] if audience else None
        return self.server.query_client(audience) if isinstance(audience, str) else None

    def end_session(self, end_session_request):
        user_session = getattr(end_session_request.request, "user_session", None)
        if user_session is not None and sessions.end(user_session.id):
            end_session_request.ended_session_id = user_session.id


def _jwt_type(token: str) -> str | None:
    """The ``typ`` of a compact JWS's protected header (its signature verified by the caller)."""
    try:
        typ = extract_compact(token.encode()).headers().get("typ")
    except (JoseError, ValueError, TypeError):
        return "unreadable"
    return typ.upper() if isinstance(typ, str) and typ.upper() == "JWT" else typ


def _names_session(id_token_claims: dict | None, user_session) -> bool:
    """Whether an ID token hint was issued for this browser's session: the same user (``sub``) and,
    when the token names one, the same session (``sid``). OpenID RP-Initiated Logout §2: a hint
    that does not match (another user's token, any token we signed) only earns a confirmation."""
    if not id_token_claims or user_session is None:
        return False
    if id_token_claims.get("sub") != str(user_session.user_id):
        return False
    sid = id_token_claims.get("sid")
    return sid is None or sid == str(user_session.id)
