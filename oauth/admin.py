"""The admin API's applications (OAuth clients) and users' grants to them, under /api/v1/admin.

Thin views over ``oauth/clients.py`` and ``oauth/consent.py``, the functions ``flask clients``
calls too, so both ways share one rule set and one audit trail. ``clients:read`` / ``clients:write``
guard the applications, ``users:read`` / ``users:write`` a user's grants. A secret is shown once, in
the answer that made it; its hash never leaves the server.
"""

from datetime import datetime
from typing import Annotated
from typing import Any
from typing import Literal
from uuid import UUID

from flask import Blueprint
from flask import Response
from pydantic import Field
from pydantic import StringConstraints

from app.api.spec import ADMIN_SECURITY
from app.api.spec import Body
from app.api.spec import Schema
from app.api.spec import responses
from app.api.spec import validate
from app.extensions import csrf
from app.services.errors import NotFound
from app.web.permissions import current_principal
from app.web.permissions import requires_permission

from . import clients
from . import consent

bp = Blueprint("oauth_admin", __name__, url_prefix="/api/v1/admin")
csrf.exempt(bp)  # the guard checks the CSRF token for browser sessions; bearer tokens need none

CLIENT = "/clients/<string(maxlength=64):client_id>"
CLIENT_TAGS = ["admin: applications"]
GRANT_TAGS = ["admin: users"]
Uri = Annotated[str, StringConstraints(min_length=1, max_length=clients.URI_LIMIT)]
ShortName = Annotated[str, StringConstraints(min_length=1, max_length=100)]
AuthMethod = Literal["client_secret_basic", "client_secret_post", "private_key_jwt", "client_secret_jwt", "none"]
Alg = Annotated[str, StringConstraints(min_length=1, max_length=16)]
JWKS_EXAMPLE = {"keys": [{"kty": "EC", "crv": "P-256", "kid": "rp-1",
                          "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
                          "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}]}


class ClientOut(Schema):
    """A registration as the admin API shows it (never the secret, its hash or its sealed copy)."""

    client_id: str
    name: str = Field(examples=["Billing"])
    public: bool
    token_endpoint_auth_method: str = Field(examples=["client_secret_basic"])
    redirect_uris: list[str] = Field(examples=[["https://billing.example.com/callback"]])
    post_logout_redirect_uris: list[str]
    grant_types: list[str] = Field(examples=[["authorization_code", "refresh_token"]])
    response_types: list[str]
    scope: str = Field(examples=["openid profile email"])
    skip_consent: bool
    introspect: bool
    permissions: list[str] = Field(description="What the application holds for itself (client credentials).")
    jwks: dict[str, Any] | None = Field(description="The client's public keys, inline.", examples=[JWKS_EXAMPLE])
    jwks_uri: str | None = Field(description="Where the client serves its public keys.")
    request_uris: list[str]
    request_object_signing_alg: str | None
    token_endpoint_auth_signing_alg: str | None
    userinfo_signed_response_alg: str | None
    backchannel_logout_uri: str | None
    backchannel_logout_session_required: bool
    frontchannel_logout_uri: str | None
    frontchannel_logout_session_required: bool
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, application) -> "ClientOut":
        return cls(client_id=application.client_id, name=application.name, public=application.is_public,
                   token_endpoint_auth_method=application.token_endpoint_auth_method,
                   redirect_uris=application.redirect_uris,
                   post_logout_redirect_uris=application.post_logout_redirect_uris,
                   grant_types=application.grant_types, response_types=application.response_types,
                   scope=application.scope, skip_consent=application.skip_consent,
                   introspect=application.introspect,
                   permissions=sorted(permission.name for permission in application.permissions),
                   jwks=application.jwks, jwks_uri=application.jwks_uri,
                   request_uris=list(application.request_uris or []),
                   request_object_signing_alg=application.request_object_signing_alg,
                   token_endpoint_auth_signing_alg=application.token_endpoint_auth_signing_alg,
                   userinfo_signed_response_alg=application.userinfo_signed_response_alg,
                   backchannel_logout_uri=application.backchannel_logout_uri,
                   backchannel_logout_session_required=application.backchannel_logout_session_required,
                   frontchannel_logout_uri=application.frontchannel_logout_uri,
                   frontchannel_logout_session_required=application.frontchannel_logout_session_required,
                   created_at=application.created_at, updated_at=application.updated_at)


class ClientWithSecret(ClientOut):
    client_secret: str | None = Field(description="Shown only in this answer; null when no secret was issued.")

    @classmethod
    def of(cls, application, secret: str | None = None) -> "ClientWithSecret":
        return cls(**ClientOut.of(application).model_dump(), client_secret=secret)


class ClientList(Schema):
    items: list[ClientOut]


class ClientCreate(Body):
    name: str = Field(min_length=1, max_length=200, examples=["Billing"])
    redirect_uris: list[Uri] = Field([], max_length=clients.MAX_URIS["redirect_uris"],
                                     examples=[["https://billing.example.com/callback"]])
    post_logout_redirect_uris: list[Uri] = Field([], max_length=clients.MAX_URIS["post_logout_redirect_uris"])
    grant_types: list[ShortName] | None = Field(
        None, max_length=3, description="Default: authorization_code, refresh_token.")
    scope: str | None = Field(None, max_length=1000, description="Space-separated; default: the OIDC scopes.")
    token_endpoint_auth_method: AuthMethod = Field(
        "client_secret_basic", description="`none`: a public client; `private_key_jwt` needs jwks or jwksUri.")
    skip_consent: bool = False
    introspect: bool = Field(False, description="A resource server: may introspect tokens (RFC 7662).")
    permissions: list[ShortName] = Field([], max_length=100, description="Only with client_credentials.")
    jwks: dict[str, Any] | None = Field(None, description="Public keys only; not with jwksUri.",
                                        examples=[JWKS_EXAMPLE])
    jwks_uri: Uri | None = Field(None, description="https; not with jwks.")
    request_uris: list[Uri] = Field([], max_length=clients.MAX_URIS["request_uris"],
                                    description="request_uri values, matched exactly.")
    request_object_signing_alg: Alg | None = Field(None, description="An asymmetric algorithm, or `none`.")
    token_endpoint_auth_signing_alg: Alg | None = Field(
        None, description="Asymmetric for private_key_jwt, HS256/384/512 for client_secret_jwt.")
    userinfo_signed_response_alg: Alg | None = Field(None, description="The server's signing algorithm.")
    backchannel_logout_uri: Uri | None = None
    backchannel_logout_session_required: bool = False
    frontchannel_logout_uri: Uri | None = Field(None, description="On the origin of a redirect URI.")
    frontchannel_logout_session_required: bool = False


class ClientUpdate(Body):
    """Fields sent replace the registered value (lists whole); the rest stay. An optional value
    sent as null is cleared."""

    name: str | None = Field(None, min_length=1, max_length=200)
    redirect_uris: list[Uri] | None = Field(None, max_length=clients.MAX_URIS["redirect_uris"])
    post_logout_redirect_uris: list[Uri] | None = Field(None, max_length=clients.MAX_URIS["post_logout_redirect_uris"])
    grant_types: list[ShortName] | None = Field(None, min_length=1, max_length=3)
    scope: str | None = Field(None, max_length=1000)
    token_endpoint_auth_method: AuthMethod | None = None
    skip_consent: bool | None = None
    introspect: bool | None = None
    permissions: list[ShortName] | None = Field(None, max_length=100)
    jwks: dict[str, Any] | None = None
    jwks_uri: Uri | None = None
    request_uris: list[Uri] | None = Field(None, max_length=clients.MAX_URIS["request_uris"])
    request_object_signing_alg: Alg | None = None
    token_endpoint_auth_signing_alg: Alg | None = None
    userinfo_signed_response_alg: Alg | None = None
    backchannel_logout_uri: Uri | None = None
    backchannel_logout_session_required: bool | None = None
    frontchannel_logout_uri: Uri | None = None
    frontchannel_logout_session_required: bool | None = None

    def metadata(self) -> dict:
        """The registration metadata to change: KEEP for fields not sent; null clears an optional
        value (a null list or flag keeps it)."""
        sent = self.model_fields_set
        found = {}
        for name in clients.METADATA:
            value = getattr(self, name)
            if name not in sent or (value is None and (name == "request_uris" or name.endswith("_required"))):
                found[name] = clients.KEEP
            else:
                found[name] = value
        return found


@bp.get("/clients")
@requires_permission("clients:read")
@validate(resp=responses({200: ClientList}, errors=(401, 403)), tags=CLIENT_TAGS, security=ADMIN_SECURITY)
def list_clients():
    """Every application in service, oldest first."""
    return ClientList(items=[ClientOut.of(application) for application in clients.list_all()])


@bp.post("/clients")
@requires_permission("clients:write")
@validate(json=ClientCreate, resp=responses({201: ClientWithSecret}, errors=(400, 401, 403, 415, 422)),
          tags=CLIENT_TAGS, security=ADMIN_SECURITY)
def create_client(json: ClientCreate):
    """Register an application; a confidential client's secret is in this answer only."""
    principal = current_principal()
    application, secret = clients.register(
        json.name, json.redirect_uris, grant_types=json.grant_types, scope=json.scope,
        post_logout_redirect_uris=json.post_logout_redirect_uris, skip_consent=json.skip_consent,
        introspect=json.introspect, token_endpoint_auth_method=json.token_endpoint_auth_method,
        permissions=set(json.permissions), owner_id=principal.user_id, actor=principal.actor,
        held=principal.permissions, **{name: getattr(json, name) for name in clients.METADATA})
    return ClientWithSecret.of(application, secret), 201


@bp.get(CLIENT)
@requires_permission("clients:read")
@validate(resp=responses({200: ClientOut}, errors=(401, 403, 404)), tags=CLIENT_TAGS, security=ADMIN_SECURITY)
def get_client(client_id: str):
    """One application."""
    return ClientOut.of(clients.get(client_id))


@bp.patch(CLIENT)
@requires_permission("clients:write")
@validate(json=ClientUpdate, resp=responses({200: ClientWithSecret}, errors=(400, 401, 403, 404, 415, 422)),
          tags=CLIENT_TAGS, security=ADMIN_SECURITY)
def update_client(client_id: str, json: ClientUpdate):
    """Change a registration; checked as a new one; takes effect at once. A switch to
    client_secret_jwt, or from private_key_jwt to a secret method, issues a new secret (in this
    answer only); otherwise clientSecret is null."""
    principal = current_principal()
    application, secret = clients.update(
        client_id, name=json.name, redirect_uris=json.redirect_uris,
        post_logout_redirect_uris=json.post_logout_redirect_uris, grant_types=json.grant_types, scope=json.scope,
        skip_consent=json.skip_consent, introspect=json.introspect,
        token_endpoint_auth_method=json.token_endpoint_auth_method,
        permissions=None if json.permissions is None else set(json.permissions),
        actor=principal.actor, held=principal.permissions, **json.metadata())
    return ClientWithSecret.of(application, secret)


@bp.post(f"{CLIENT}/secret")
@requires_permission("clients:write")
@validate(resp=responses({200: ClientWithSecret}, errors=(400, 401, 403, 404)), tags=CLIENT_TAGS,
          security=ADMIN_SECURITY)
def rotate_client_secret(client_id: str):
    """A new secret (in this answer only); the old one stops working at once."""
    principal = current_principal()
    application, secret = clients.rotate_secret(client_id, actor=principal.actor, held=principal.permissions)
    return ClientWithSecret.of(application, secret)


@bp.delete(CLIENT)
@requires_permission("clients:write")
@validate(resp=responses({204: None}, errors=(401, 403, 404)), tags=CLIENT_TAGS, security=ADMIN_SECURITY)
def delete_client(client_id: str):
    """Take an application out of service; every token issued to it stops at once."""
    principal = current_principal()
    clients.delete(client_id, actor=principal.actor, held=principal.permissions)
    return Response(status=204)


# --- a user's grants to applications -----------------------------------------------------------------

class GrantOut(Schema):
    client_id: str
    name: str = Field(examples=["Billing"])
    scope: list[str] = Field(examples=[["openid", "email"]])
    granted_at: datetime


class GrantList(Schema):
    items: list[GrantOut]


@bp.get("/users/<uuid:user_id>/grants")
@requires_permission("users:read")
@validate(resp=responses({200: GrantList}, errors=(401, 403, 404)), tags=GRANT_TAGS, security=ADMIN_SECURITY)
def list_user_grants(user_id: UUID):
    """The applications the user allowed, newest first."""
    return GrantList(items=[
        GrantOut(client_id=application.client_id, name=application.name, scope=grant.scope.split(),
                 granted_at=grant.granted_at)
        for grant, application in consent.grants_of(user_id)])


@bp.delete("/users/<uuid:user_id>/grants/<string(maxlength=64):client_id>")
@requires_permission("users:write")
@validate(resp=responses({204: None}, errors=(401, 403, 404)), tags=GRANT_TAGS, security=ADMIN_SECURITY)
def revoke_user_grant(user_id: UUID, client_id: str):
    """Withdraw the user's grant: that application's tokens for the user stop at once."""
    principal = current_principal()
    if not consent.revoke(user_id, client_id, actor=principal.actor, held=principal.permissions):
        raise NotFound("This user has no grant to that application.")
    return Response(status=204)
