"""The OAuth 2.0 / OpenID Connect endpoints in /openapi.json (app/api/docs.py ``contribute``).

Authlib parses these requests, not spectree, so their parameters are declared here as pydantic
models only for the description: the names are the RFCs' own (snake_case), and every error is
RFC 6749 error JSON (``OAuthError``), not problem details.
"""

from typing import Literal

from flask import Flask
from pydantic import BaseModel
from pydantic import ConfigDict
from pydantic import Field

from .discovery import SCOPES

REF = "#/components/schemas/{model}"
FORM = "application/x-www-form-urlencoded"


class Described(BaseModel):
    model_config = ConfigDict(extra="allow")


class TokenRequest(Described):
    """RFC 6749 §4.1.3 (authorization_code, with RFC 7636's code_verifier), §6 (refresh_token), §4.4
    (client_credentials). A confidential client authenticates with HTTP Basic, client_secret in the body,
    or a client assertion (private_key_jwt, client_secret_jwt): the one method it registered."""

    model_config = ConfigDict(json_schema_extra={"examples": [
        {"grant_type": "authorization_code", "code": "SplxlOBeZQQYbYS6WxSbIA", "client_id": "k3yQ0dnUuY2hW8c1",
         "redirect_uri": "https://app.example.com/callback",
         "code_verifier": "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"},
        {"grant_type": "refresh_token", "refresh_token": "tGzv3JOkF0XG5Qx2TlKWIA", "client_id": "k3yQ0dnUuY2hW8c1"},
        {"grant_type": "client_credentials", "scope": "admin"}]})

    grant_type: Literal["authorization_code", "refresh_token", "client_credentials"]
    code: str | None = Field(None, description="authorization_code: the code from /oauth/authorize.")
    redirect_uri: str | None = Field(None, description="authorization_code: the one sent to /oauth/authorize.")
    code_verifier: str | None = Field(None, description="authorization_code: the PKCE verifier (S256).")
    refresh_token: str | None = Field(None, description="refresh_token: the current refresh token (rotated).")
    scope: str | None = Field(None, description="Space-separated; at most what the client or grant allows.")
    client_id: str | None = Field(None, description="A public client, or client_secret_post.")
    client_secret: str | None = Field(None, description="client_secret_post only.")
    client_assertion_type: Literal["urn:ietf:params:oauth:client-assertion-type:jwt-bearer"] | None = Field(
        None, description="private_key_jwt and client_secret_jwt (RFC 7523): with client_assertion.")
    client_assertion: str | None = Field(None, description="A signed JWT: iss and sub the client_id, aud this "
                                                           "server, exp, a single-use jti.")


class TokenResponse(Described):
    """RFC 6749 §5.1."""

    model_config = ConfigDict(json_schema_extra={"examples": [
        {"access_token": "eyJhbGciOiJSUzI1NiIsInR5cCI6ImF0K2p3dCJ9...", "token_type": "Bearer", "expires_in": 900,
         "refresh_token": "tGzv3JOkF0XG5Qx2TlKWIA", "scope": "openid profile email",
         "id_token": "eyJhbGciOiJSUzI1NiJ9..."}]})

    access_token: str = Field(description="A JWT (RFC 9068, typ at+jwt).")
    token_type: Literal["Bearer"]
    expires_in: int
    scope: str | None = None
    refresh_token: str | None = None
    id_token: str | None = Field(None, description="With the openid scope.")


class TokenParameter(Described):
    """RFC 7009 §2.1 and RFC 7662 §2.1."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"token": "tGzv3JOkF0XG5Qx2TlKWIA",
                                                               "token_type_hint": "refresh_token"}]})

    token: str
    token_type_hint: Literal["access_token", "refresh_token"] | None = None
    client_id: str | None = None
    client_secret: str | None = None
    client_assertion_type: Literal["urn:ietf:params:oauth:client-assertion-type:jwt-bearer"] | None = None
    client_assertion: str | None = None


class Introspection(Described):
    """RFC 7662 §2.2: ``active`` false says nothing more."""

    model_config = ConfigDict(json_schema_extra={"examples": [
        {"active": True, "token_type": "Bearer", "sub": "5b0e0a38-6bd9-4b8f-9d8e-3f1c2b7a9e10",
         "client_id": "k3yQ0dnUuY2hW8c1", "scope": "openid profile", "exp": 1795000000, "iat": 1794999100,
         "iss": "https://id.example.com", "username": "ada@example.com"}, {"active": False}]})

    active: bool
    scope: str | None = None
    client_id: str | None = None
    username: str | None = None
    token_type: str | None = None
    exp: int | None = None
    iat: int | None = None
    sub: str | None = None
    aud: str | list[str] | None = None
    iss: str | None = None


class UserInfo(Described):
    """OpenID Connect Core §5.3.2: the standard claims the token's scopes allow."""

    model_config = ConfigDict(json_schema_extra={"examples": [
        {"sub": "5b0e0a38-6bd9-4b8f-9d8e-3f1c2b7a9e10", "name": "Ada Lovelace", "email": "ada@example.com",
         "email_verified": True}]})

    sub: str


class OAuthError(BaseModel):
    """RFC 6749 §5.2 error response."""

    model_config = ConfigDict(json_schema_extra={"examples": [
        {"error": "invalid_grant", "error_description": "The code is invalid or has expired."}]})

    error: str = Field(description="invalid_request, invalid_client, invalid_grant, unauthorized_client, "
                                   "unsupported_grant_type, invalid_scope, invalid_token, ...")
    error_description: str | None = None


class JsonWebKeySet(Described):
    """RFC 7517 §5: public keys only."""

    keys: list[dict]


class ServerMetadata(Described):
    """RFC 8414 §2 / OpenID Connect Discovery 1.0 §3."""

    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str


MODELS = (TokenRequest, TokenResponse, TokenParameter, Introspection, UserInfo, OAuthError, JsonWebKeySet,
          ServerMetadata)
CLIENT = [{"clientBasic": []}, {}]  # HTTP Basic, or client_id (+ client_secret) in the form


def _json(model: type[BaseModel], description: str) -> dict:
    return {"description": description,
            "content": {"application/json": {"schema": {"$ref": REF.format(model=model.__name__)}}}}


def _errors(*statuses: int) -> dict:
    words = {400: "invalid_request, invalid_grant, invalid_scope, unsupported_grant_type ...",
             401: "invalid_client or invalid_token", 403: "insufficient_scope", 429: "slow_down",
             503: "temporarily_unavailable"}
    return {str(status): _json(OAuthError, words[status]) for status in statuses}


def _form(model: type[BaseModel]) -> dict:
    return {"required": True, "content": {FORM: {"schema": {"$ref": REF.format(model=model.__name__)}}}}


def _query(name: str, description: str, required: bool = False, enum: list[str] | None = None) -> dict:
    schema = {"type": "string", **({"enum": enum} if enum else {})}
    return {"name": name, "in": "query", "required": required, "description": description, "schema": schema}


AUTHORIZE_PARAMETERS = [
    _query("response_type", "Only code.", True, ["code"]),
    _query("client_id", "The registered client.", True),
    _query("redirect_uri", "One of the client's registered redirect URIs (required with openid).", True),
    _query("scope", "Space-separated: " + " ".join(SCOPES) + "."),
    _query("state", "Returned unchanged with the code."),
    _query("code_challenge", "RFC 7636: BASE64URL(SHA256(code_verifier)).", True),
    _query("code_challenge_method", "Only S256.", True, ["S256"]),
    _query("nonce", "OpenID Connect: copied into the ID token."),
    _query("response_mode", "query (the default) or form_post.", False, ["query", "form_post"]),
    _query("prompt", "none (alone), or any of login, consent, select_account."),
    _query("max_age", "Seconds since the last sign-in after which the user signs in again."),
    _query("login_hint", "An email address to fill in on the login page."),
    _query("id_token_hint", "An ID token this server issued to the client: the user expected."),
    _query("acr_values", "Space-separated authentication levels in order of preference (acr_values_supported)."),
    _query("claims", "OpenID Connect Core §5.5: JSON naming the claims wanted in the ID token and from userinfo."),
    _query("claims_locales", "Accepted; claims are not localised."),
    _query("ui_locales", "Accepted; the pages are in English."),
    _query("display", "page, popup, touch or wap: accepted."),
    _query("request", "A request object (RFC 9101): a JWT carrying these parameters, signed with the client's keys."),
    _query("request_uri", "One of the client's registered request_uris, serving a request object."),
]
LOGOUT_PARAMETERS = [
    _query("id_token_hint", "An ID token this server issued to the client."),
    _query("client_id", "The client asking."),
    _query("post_logout_redirect_uri", "One of the client's registered post-logout URIs."),
    _query("state", "Returned unchanged to the post-logout URI."),
]


def describe(app: Flask, spec: dict) -> None:
    """Add the protocol endpoints, their models, the OAuth error and the oauth2 security scheme."""
    issuer = app.config["ISSUER"]
    schemas = spec.setdefault("components", {}).setdefault("schemas", {})
    for model in MODELS:
        schemas[model.__name__] = model.model_json_schema(ref_template=REF)
    schemes = spec["components"].setdefault("securitySchemes", {})
    scopes = {scope: f"the {scope} scope" for scope in SCOPES}
    scopes.update({"openid": "OpenID Connect: an ID token", "offline_access": "a refresh token",
                   "account": "the signed-in user's own account API (/currentuser, /api/v1/me)",
                   "admin": "the admin API, with the permissions the user (or the client) holds"})
    schemes["oauth2"] = {"type": "oauth2", "description": "Authorization code with PKCE (S256), or client "
                         "credentials for a registered service account.", "flows": {
                             "authorizationCode": {"authorizationUrl": f"{issuer}/oauth/authorize",
                                                   "tokenUrl": f"{issuer}/oauth/token",
                                                   "refreshUrl": f"{issuer}/oauth/token", "scopes": scopes},
                             "clientCredentials": {"tokenUrl": f"{issuer}/oauth/token", "scopes": scopes}}}
    schemes["clientBasic"] = {"type": "http", "scheme": "basic",
                              "description": "A confidential client: client_id and client_secret (RFC 6749 §2.3.1)."}
    spec.setdefault("tags", []).extend([
        {"name": "oauth", "description": "OAuth 2.0 and OpenID Connect: parameters as the RFCs name them, errors as "
                                         "RFC 6749 §5.2 error JSON."},
        {"name": "discovery", "description": "Server metadata and the public signing keys."}])
    tag = ["oauth"]
    paths = spec.setdefault("paths", {})
    paths["/oauth/token"] = {"post": {
        "tags": tag, "operationId": "oauth_token", "summary": "Tokens for a code, a refresh token or client "
        "credentials", "security": CLIENT, "requestBody": _form(TokenRequest),
        "responses": {"200": _json(TokenResponse, "Tokens (Cache-Control: no-store)."), **_errors(400, 401, 429)}}}
    paths["/oauth/revoke"] = {"post": {
        "tags": tag, "operationId": "oauth_revoke", "summary": "Revoke a token (RFC 7009)", "security": CLIENT,
        "requestBody": _form(TokenParameter),
        "responses": {"200": {"description": "Revoked, or the token was not valid (same answer)."},
                      **_errors(400, 401, 429)}}}
    paths["/oauth/introspect"] = {"post": {
        "tags": tag, "operationId": "oauth_introspect", "summary": "Introspect a token (RFC 7662); clients "
        "registered as resource servers only", "security": [{"clientBasic": []}], "requestBody": _form(TokenParameter),
        "responses": {"200": _json(Introspection, "The token's state."), **_errors(400, 401, 429)}}}
    userinfo = {"tags": tag, "summary": "The user's claims (OpenID Connect Core §5.3)",
                "security": [{"oauth2": ["openid"]}, {"bearerToken": []}],
                "responses": {"200": _json(UserInfo, "Claims by scope."), **_errors(401, 403)}}
    paths["/oauth/userinfo"] = {"get": {**userinfo, "operationId": "oauth_userinfo"},
                                "post": {**userinfo, "operationId": "oauth_userinfo_post"}}
    page = {"description": "An HTML page (sign-in, consent), or an error page when the client or redirect URI is "
            "not verified.", "content": {"text/html": {"schema": {"type": "string"}}}}
    paths["/oauth/authorize"] = {"get": {
        "tags": tag, "operationId": "oauth_authorize", "summary": "Start an authorization (a browser goes here)",
        "parameters": AUTHORIZE_PARAMETERS,
        "responses": {"302": {"description": "To the login page, or back to the client with code, state and iss "
                              "(RFC 9207), or with error (RFC 6749 §4.1.2.1)."},
                      "200": page, "400": page}}, "post": {
        "tags": tag, "operationId": "oauth_authorize_post",
        "summary": "Start an authorization with the parameters in a form body (OpenID Connect Core §3.1.2.1)",
        "requestBody": {"required": True, "content": {FORM: {"schema": {
            "type": "object", "required": [item["name"] for item in AUTHORIZE_PARAMETERS if item["required"]],
            "properties": {item["name"]: {**item["schema"], "description": item["description"]}
                           for item in AUTHORIZE_PARAMETERS}}}}},
        "responses": {"303": {"description": "To the same request as a GET (the browser then sends its cookies)."},
                      "400": page, "413": page}}}
    logout = {"tags": tag, "summary": "RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0)",
              "parameters": LOGOUT_PARAMETERS,
              "responses": {"200": page, "302": {"description": "To the post-logout URI."}, "400": page}}
    paths["/oauth/logout"] = {"get": {**logout, "operationId": "oauth_logout"},
                              "post": {**logout, "operationId": "oauth_logout_post"}}
    for path, name in (("/.well-known/openid-configuration", "openid_configuration"),
                       ("/.well-known/oauth-authorization-server", "oauth_authorization_server")):
        paths[path] = {"get": {"tags": ["discovery"], "operationId": name, "summary": "Server metadata",
                               "responses": {"200": _json(ServerMetadata, "Every endpoint and supported value.")}}}
    paths["/.well-known/jwks.json"] = {"get": {
        "tags": ["discovery"], "operationId": "jwks", "summary": "The public signing keys (RFC 7517)",
        "responses": {"200": _json(JsonWebKeySet, "Cacheable; revalidated by ETag.")}}}
    paths["/publickey"] = {"get": {
        "tags": ["discovery"], "operationId": "public_key", "summary": "One published key as PEM",
        "parameters": [_query("keyId", "The key's kid.", True)],
        "responses": {"200": {"description": "The key.", "content": {"application/x-pem-file": {
            "schema": {"type": "string"}}}},
            "400": {"description": "No keyId.", "content": {"application/problem+json": {
                "schema": {"$ref": "#/components/schemas/Problem"}}}},
            "404": {"description": "No published key has this keyId.", "content": {"application/problem+json": {
                "schema": {"$ref": "#/components/schemas/Problem"}}}}}}}
