"""Applications (OAuth clients): registration, lookup with a per-process cache, secrets.

The command line (``flask clients``) and the admin API (``oauth/admin.py``) call the same functions
here: one rule set, and every change one audit event (the operator at the command line acts as
``audit.Actor.system()``). An application's own permissions (a service account for the admin API)
go only to confidential clients with client_credentials, and a caller hands out only what it holds.
"""

import ipaddress
import re
import secrets
import threading
import uuid
from datetime import datetime
from datetime import timedelta
from urllib.parse import urlsplit

from flask import Flask
from flask import current_app
from jwcrypto import jwk
from jwcrypto.common import base64url_decode
from jwcrypto.common import base64url_encode
from sqlalchemy import func
from sqlalchemy import literal
from sqlalchemy import select
from sqlalchemy import tuple_
from sqlalchemy.orm import Session

from app.clock import now
from app.extensions import db
from app.services import audit
from app.services import directory
from app.services import notices
from app.services import rbac
from app.services.account_errors import InvalidFields
from app.services.errors import InvalidInput
from app.services.errors import NotFound
from app.services.errors import OutOfReach
from app.services.notices import Channel
from app.web.permissions import ADMIN_SCOPE
from keys import crypto

from . import client_keys
from .client_keys import ASYMMETRIC_ALGS
from .models import Application
from .models import secret_digest as digest

GRANT_TYPES = ("authorization_code", "refresh_token", "client_credentials")
SECRET_AUTH_METHODS = ("client_secret_basic", "client_secret_post")
# RFC 7523 §2.2 / OpenID Connect Core §9: a JWT signed with the client's private key, or with its
# secret as an HMAC key (the server then holds the secret sealed, see _set_secret).
ASSERTION_AUTH_METHODS = ("private_key_jwt", "client_secret_jwt")
CONFIDENTIAL_AUTH_METHODS = (*SECRET_AUTH_METHODS, *ASSERTION_AUTH_METHODS)
AUTH_METHODS = (*CONFIDENTIAL_AUTH_METHODS, "none")
# What the server verifies in a client's signature (joserfc): asymmetric algorithms for
# private_key_jwt and request objects, HMAC for client_secret_jwt. Never "none" for authentication.
HMAC_ALGS = ("HS256", "HS384", "HS512")
# Request objects may be unsigned when the client registered "none" (OpenID Connect Core §6.1).
REQUEST_OBJECT_ALGS = (*ASYMMETRIC_ALGS, "none")
# Set to a registration's optional field in update(): leave it as registered (None clears it).
KEEP = object()
# How many URIs of each list an application may register, and how long each may be (the admin API's
# schema and the console's form both check these before the service sees them).
URI_LIMIT = 2000
MAX_URIS = {"redirect_uris": 50, "post_logout_redirect_uris": 50, "request_uris": 20}
DEFAULT_GRANT_TYPES = ("authorization_code", "refresh_token")
DEFAULT_SCOPE = "openid profile email phone address offline_access"
# RFC 6749 §3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E )
SCOPE_TOKEN = re.compile(r"^[\x21\x23-\x5B\x5D-\x7E]+$")
LOOPBACK_HOSTS = {"localhost"}


def invalid_field(field: str, message: str) -> InvalidFields:
    """A registration field is not acceptable: ``errors`` names it as the JSON API does, and the
    message alone is what the command line prints."""
    return InvalidFields({field: [message]}, message)


def _is_loopback(host: str) -> bool:
    if host in LOOPBACK_HOSTS:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_redirect_uri(uri: str, issuer_is_https: bool) -> str:
    """A registrable redirect URI, or InvalidInput saying why not (RFC 6749 §3.1.2, RFC 8252)."""
    parts = urlsplit(uri)
    if not parts.scheme or (parts.scheme in ("http", "https") and not parts.netloc):
        raise InvalidInput(f"redirect URI {uri!r} must be an absolute URI")
    # RFC 6749 §3.1.2: the redirection endpoint URI MUST NOT include a fragment component.
    if parts.fragment or "#" in uri:
        raise InvalidInput(f"redirect URI {uri!r} must not contain a fragment")
    if parts.scheme == "http":
        if issuer_is_https and not _is_loopback(parts.hostname or ""):
            raise InvalidInput(f"redirect URI {uri!r} must use https (http is for loopback only)")
    elif parts.scheme != "https" and "." not in parts.scheme:
        # RFC 8252 §7.1: native apps use private-use schemes in reverse domain name notation.
        raise InvalidInput(f"redirect URI {uri!r} must use https, loopback http, or a reverse-domain scheme")
    return uri


def _check_scope(scope: str) -> str:
    tokens = scope.split()
    bad = [token for token in tokens if not SCOPE_TOKEN.match(token)]
    if bad:
        raise InvalidInput(f"scope {bad[0]!r} is not a valid scope token")
    return " ".join(dict.fromkeys(tokens))


def _uris(field: str, uris: list[str], https: bool) -> list[str]:
    try:
        return [check_redirect_uri(uri, https) for uri in dict.fromkeys(uris)]
    except InvalidInput as error:
        raise invalid_field(field, error.public_message) from None


def _validated(name: str, redirect_uris: list[str], post_logout_redirect_uris: list[str], grant_types: list[str],
               scope: str, skip_consent: bool, introspect: bool, public: bool, method: str,
               jwks: dict | None = None, jwks_uri: str | None = None, request_uris: list[str] = (),
               request_object_signing_alg: str | None = None, token_endpoint_auth_signing_alg: str | None = None,
               userinfo_signed_response_alg: str | None = None, backchannel_logout_uri: str | None = None,
               backchannel_logout_session_required: bool = False, frontchannel_logout_uri: str | None = None,
               frontchannel_logout_session_required: bool = False) -> dict:
    """The registration's fields, or a refusal naming the field and why (one rule set
    for register and update)."""
    name = name.strip()
    if not name or len(name) > 200:
        raise invalid_field("name", "name must be 1 to 200 characters")
    grants = list(dict.fromkeys(grant_types))
    unknown = [grant for grant in grants if grant not in GRANT_TYPES]
    if unknown:
        raise invalid_field("grantTypes",
                            f"unknown grant type {unknown[0]!r} (supported: {', '.join(GRANT_TYPES)})")
    if public and "client_credentials" in grants:
        raise invalid_field("grantTypes", "a public client cannot use client_credentials")
    if public and introspect:
        raise invalid_field("introspect",
                            "a public client cannot introspect (it has no secret to authenticate with)")
    if "refresh_token" in grants and "authorization_code" not in grants:
        raise invalid_field("grantTypes", "refresh_token needs the authorization_code grant")
    uses_redirects = "authorization_code" in grants
    if uses_redirects and not redirect_uris:
        raise invalid_field("redirectUris", "the authorization_code grant needs at least one redirect URI")
    if not uses_redirects and (redirect_uris or post_logout_redirect_uris):
        raise invalid_field("redirectUris", "redirect URIs are only for the authorization_code grant")
    https = current_app.config["ISSUER_IS_HTTPS"]
    try:
        scope = _check_scope(scope)
    except InvalidInput as error:
        raise invalid_field("scope", error.public_message) from None
    redirect_uris = _uris("redirectUris", redirect_uris, https)
    return {
        "name": name, "grant_types": grants, "response_types": ["code"] if uses_redirects else [],
        "redirect_uris": redirect_uris,
        "post_logout_redirect_uris": _uris("postLogoutRedirectUris", post_logout_redirect_uris, https),
        "scope": scope, "skip_consent": skip_consent, "introspect": introspect,
        **_keys(method, jwks, jwks_uri, https),
        "request_uris": _request_uris(request_uris, https),
        **_algorithms(method, request_object_signing_alg, token_endpoint_auth_signing_alg,
                      userinfo_signed_response_alg),
        **_logout_uris(backchannel_logout_uri, backchannel_logout_session_required, frontchannel_logout_uri,
                       frontchannel_logout_session_required, redirect_uris, https),
    }


def _keys(method: str, jwks, jwks_uri: str | None, https: bool) -> dict:
    """The client's public keys: inline or at a URL, never both (OpenID Connect Registration §2:
    "The jwks_uri and jwks parameters MUST NOT both be present in the same request")."""
    if jwks is not None and jwks_uri is not None:
        raise invalid_field("jwksUri", "register jwks or jwks_uri, not both")
    if jwks is not None:
        try:
            jwks = client_keys.check_jwks(jwks)
        except InvalidInput as error:
            raise invalid_field("jwks", error.public_message) from None
    if jwks_uri is not None:
        try:
            jwks_uri = client_keys.check_jwks_uri(_bounded_uri(jwks_uri, "jwks_uri"), https)
        except InvalidInput as error:
            raise invalid_field("jwksUri", error.public_message) from None
    if method == "private_key_jwt" and jwks is None and jwks_uri is None:
        raise invalid_field("jwks", "private_key_jwt needs the client's public keys: jwks or jwks_uri")
    return {"jwks": jwks, "jwks_uri": jwks_uri}


def _bounded_uri(uri: str, what: str) -> str:
    if not isinstance(uri, str) or not uri or len(uri) > 2000 or not uri.isprintable():
        raise InvalidInput(f"{what} must be a URL of at most 2000 printable characters")
    return uri


def _web_uri(uri: str, what: str, https: bool, fragment: bool = False) -> str:
    """An absolute https URL (http only on loopback while the issuer is http, as redirect URIs)."""
    parts = urlsplit(_bounded_uri(uri, what))
    if parts.scheme not in ("http", "https") or not parts.netloc or not parts.hostname:
        raise InvalidInput(f"{what} {uri!r} must be an absolute https URL")
    if parts.scheme == "http" and (https or not _is_loopback(parts.hostname)):
        raise InvalidInput(f"{what} {uri!r} must use https (http only on loopback while the issuer is http)")
    if not fragment and (parts.fragment or "#" in uri):
        raise InvalidInput(f"{what} {uri!r} must not contain a fragment")
    try:
        parts.port
    except ValueError:
        raise InvalidInput(f"{what} {uri!r} has a port that is not a number from 0 to 65535") from None
    return uri


def _request_uris(uris: list[str], https: bool) -> list[str]:
    """request_uri values the client may use, matched exactly. OpenID Connect Registration §2 lets
    them carry a fragment (a hash of the request object's contents)."""
    if len(uris) > 20:
        raise invalid_field("requestUris", "at most 20 request URIs")
    try:
        return [_web_uri(uri, "request URI", https, fragment=True) for uri in dict.fromkeys(uris)]
    except InvalidInput as error:
        raise invalid_field("requestUris", error.public_message) from None


def _algorithms(method: str, request_object: str | None, token_endpoint: str | None,
                userinfo: str | None) -> dict:
    """Only algorithms the server really verifies or signs with."""
    if request_object is not None and request_object not in REQUEST_OBJECT_ALGS:
        raise invalid_field("requestObjectSigningAlg", f"request_object_signing_alg must be one of "
                                                       f"{', '.join(REQUEST_OBJECT_ALGS)}")
    if token_endpoint is not None:
        # OpenID Connect Registration §2: "none" MUST NOT be used; the algorithm belongs to the method.
        allowed = {"private_key_jwt": ASYMMETRIC_ALGS, "client_secret_jwt": HMAC_ALGS}.get(method)
        if allowed is None:
            raise invalid_field("tokenEndpointAuthSigningAlg", "token_endpoint_auth_signing_alg is only for "
                                                               "private_key_jwt and client_secret_jwt")
        if token_endpoint not in allowed:
            raise invalid_field("tokenEndpointAuthSigningAlg", f"token_endpoint_auth_signing_alg for {method} must "
                                                               f"be one of {', '.join(allowed)}")
    signing = current_app.config["SIGNING_ALG"]
    if userinfo is not None and userinfo != signing:
        # The key ring signs with SIGNING_ALG alone.
        raise invalid_field("userinfoSignedResponseAlg", f"userinfo_signed_response_alg must be {signing} "
                                                         f"(the algorithm this server signs with)")
    return {"request_object_signing_alg": request_object, "token_endpoint_auth_signing_alg": token_endpoint,
            "userinfo_signed_response_alg": userinfo}


def _logout_uris(backchannel: str | None, backchannel_session: bool, frontchannel: str | None,
                 frontchannel_session: bool, redirect_uris: list[str], https: bool) -> dict:
    """OpenID Connect Back-Channel Logout §2.2 and Front-Channel Logout §2: absolute URLs, no
    fragment, a query allowed; the front-channel one has the scheme, host and port of a registered
    redirect URI."""
    if backchannel is not None:
        try:
            backchannel = _web_uri(backchannel, "backchannel_logout_uri", https)
        except InvalidInput as error:
            raise invalid_field("backchannelLogoutUri", error.public_message) from None
    if frontchannel is not None:
        try:
            frontchannel = _web_uri(frontchannel, "frontchannel_logout_uri", https)
        except InvalidInput as error:
            raise invalid_field("frontchannelLogoutUri", error.public_message) from None
        if _origin(frontchannel) not in {_origin(uri) for uri in redirect_uris}:
            raise invalid_field("frontchannelLogoutUri", "frontchannel_logout_uri must have the scheme, host and "
                                                         "port of a registered redirect URI")
    if backchannel_session and backchannel is None:
        raise invalid_field("backchannelLogoutSessionRequired", "backchannel_logout_session_required needs a "
                                                                "backchannel_logout_uri")
    if frontchannel_session and frontchannel is None:
        raise invalid_field("frontchannelLogoutSessionRequired", "frontchannel_logout_session_required needs a "
                                                                 "frontchannel_logout_uri")
    return {"backchannel_logout_uri": backchannel, "backchannel_logout_session_required": backchannel_session,
            "frontchannel_logout_uri": frontchannel, "frontchannel_logout_session_required": frontchannel_session}


def _origin(uri: str) -> tuple:
    parts = urlsplit(uri)
    try:
        return parts.scheme.lower(), (parts.hostname or "").lower(), parts.port
    except ValueError:  # a port that is not a number
        return parts.scheme.lower(), (parts.hostname or "").lower(), None


def _granted_permissions(application_fields: dict, public: bool, names: set[str] | None,
                         already: set[str], held: frozenset[str] | None) -> list | None:
    """The permissions an application will hold for itself, or None to keep them. Only a
    confidential client with client_credentials acts for itself; a caller hands out only what it
    holds (``held`` None: the operator at the command line)."""
    if names is None:
        return None
    if names and (public or "client_credentials" not in application_fields["grant_types"]):
        raise invalid_field("permissions", "only a confidential client with the client_credentials grant "
                                           "can hold permissions of its own")
    try:
        found = rbac.permissions_named(names)
    except NotFound as error:
        raise invalid_field("permissions", error.public_message) from None
    if held is not None:
        rbac.require_held(held, names - already)
    return found


def snapshot(application: Application) -> dict:
    """What the audit log keeps of a registration (never the secret, its hash or its sealed copy)."""
    return {"name": application.name, "tokenEndpointAuthMethod": application.token_endpoint_auth_method,
            "redirectUris": list(application.redirect_uris),
            "postLogoutRedirectUris": list(application.post_logout_redirect_uris),
            "grantTypes": list(application.grant_types), "scope": application.scope,
            "skipConsent": application.skip_consent, "introspect": application.introspect,
            "permissions": sorted(permission.name for permission in application.permissions),
            "jwks": application.jwks, "jwksUri": application.jwks_uri,
            "requestUris": list(application.request_uris or []),
            "requestObjectSigningAlg": application.request_object_signing_alg,
            "tokenEndpointAuthSigningAlg": application.token_endpoint_auth_signing_alg,
            "userinfoSignedResponseAlg": application.userinfo_signed_response_alg,
            "backchannelLogoutUri": application.backchannel_logout_uri,
            "backchannelLogoutSessionRequired": application.backchannel_logout_session_required,
            "frontchannelLogoutUri": application.frontchannel_logout_uri,
            "frontchannelLogoutSessionRequired": application.frontchannel_logout_session_required}


# The registration fields beyond the basics, as register() and update() take them.
METADATA = ("jwks", "jwks_uri", "request_uris", "request_object_signing_alg", "token_endpoint_auth_signing_alg",
            "userinfo_signed_response_alg", "backchannel_logout_uri", "backchannel_logout_session_required",
            "frontchannel_logout_uri", "frontchannel_logout_session_required")


def _set_secret(application: Application, secret: str | None) -> None:
    """Keep a new secret as its digest; a client_secret_jwt client's also sealed with
    KEY_ENCRYPTION_SECRET, exactly as the key ring seals its private keys (keys/crypto.py): the server
    needs the secret itself to check an HMAC (RFC 7523 §2.2, OpenID Connect Core §9)."""
    application.client_secret_hash = digest(secret) if secret else None
    if secret and application.token_endpoint_auth_method == "client_secret_jwt":
        key = jwk.JWK(kty="oct", k=base64url_encode(secret.encode()))
        application.client_secret_sealed = crypto.seal(key, current_app.config["KEY_ENCRYPTION_SECRET"])
    else:
        application.client_secret_sealed = None


def hmac_secret(application: Application) -> bytes | None:
    """The secret of a client_secret_jwt client, unsealed; None when it has none (or it will not open)."""
    if not application.client_secret_sealed:
        return None
    try:
        key = crypto.unseal(application.client_secret_sealed, current_app.config["KEY_ENCRYPTION_SECRET"])
    except crypto.SealBroken:
        return None
    return base64url_decode(key.export_symmetric(as_dict=True)["k"])


def register(name: str, redirect_uris: list[str], *, public: bool = False,
             grant_types: list[str] | None = None, scope: str | None = None,
             post_logout_redirect_uris: list[str] = (), skip_consent: bool = False,
             introspect: bool = False, owner_id: uuid.UUID | None = None,
             token_endpoint_auth_method: str | None = None, permissions: set[str] = frozenset(),
             actor: audit.Actor | None = None, held: frozenset[str] | None = None,
             **metadata) -> tuple[Application, str | None]:
    """Register an application; returns it and its secret (shown once; None for public clients
    and for private_key_jwt clients, which authenticate with their keys).

    ``introspect`` registers it as a resource server, allowed to introspect tokens (RFC 7662 §4).
    ``token_endpoint_auth_method`` ``none`` is the same as ``public``. ``actor`` (default: the
    operator) is recorded; ``held``, when given, bounds the ``permissions`` it may hand out.
    ``metadata``: the optional fields named in METADATA (keys, request objects, signed userinfo,
    logout URIs), as OpenID Connect Registration §2 names them.
    """
    unknown = set(metadata) - set(METADATA)
    if unknown:
        raise TypeError(f"unknown registration fields: {sorted(unknown)}")
    method = token_endpoint_auth_method or ("none" if public else "client_secret_basic")
    if method not in AUTH_METHODS or (public and method != "none"):
        raise invalid_field("tokenEndpointAuthMethod", f"token endpoint auth method {method!r} is not "
                                                       f"one of {', '.join(AUTH_METHODS)}")
    public = method == "none"
    metadata.setdefault("request_uris", [])
    fields = _validated(name, list(redirect_uris), list(post_logout_redirect_uris),
                        list(grant_types or DEFAULT_GRANT_TYPES), scope or DEFAULT_SCOPE,
                        skip_consent=skip_consent, introspect=introspect, public=public, method=method,
                        **{key: list(value) if key == "request_uris" else value for key, value in metadata.items()})
    granted = _granted_permissions(fields, public, set(permissions), set(), held)
    if held is not None:
        rbac.require_held(held, _gateway_to(fields["scope"], fields["grant_types"]))
    secret = None if method in ("none", "private_key_jwt") else secrets.token_urlsafe(32)
    application = Application(
        client_id=str(uuid.uuid4()), token_endpoint_auth_method=method, owner_id=owner_id, permissions=granted,
        **fields)
    _set_secret(application, secret)
    db.session.add(application)
    audit.record(actor or audit.Actor.system(), "client.create", target_type="client",
                 target_id=application.client_id, after=snapshot(application))
    db.session.commit()
    invalidate()
    return application, secret


def update(client_id: str, *, name: str | None = None, redirect_uris: list[str] | None = None,
           post_logout_redirect_uris: list[str] | None = None, grant_types: list[str] | None = None,
           scope: str | None = None, skip_consent: bool | None = None,
           introspect: bool | None = None, token_endpoint_auth_method: str | None = None,
           permissions: set[str] | None = None, actor: audit.Actor | None = None,
           held: frozenset[str] | None = None, **metadata) -> tuple[Application, str | None]:
    """Change a registration: what is given replaces the registered value (lists whole), the rest
    stays, and the result is validated exactly as a new registration. Takes effect at once.

    ``metadata``: the fields named in METADATA; KEEP (or leaving one out) keeps it, None clears it.
    A confidential client may switch between the confidential methods; a public client stays public
    and a confidential one confidential. Returns the application and, when the change needed one, a
    new secret (shown once): a switch to client_secret_jwt (the server must hold that secret, and
    holds older ones only as digests) or from private_key_jwt to a secret method. A switch to
    private_key_jwt drops the secret; one from client_secret_jwt to another secret method keeps the
    secret and drops its sealed copy."""
    unknown = set(metadata) - set(METADATA)
    if unknown:
        raise TypeError(f"unknown registration fields: {sorted(unknown)}")
    application = _within_reach(_existing(client_id), held)
    before = snapshot(application)
    old_method = application.token_endpoint_auth_method
    method = token_endpoint_auth_method or old_method
    if method != old_method and (application.is_public or method not in CONFIDENTIAL_AUTH_METHODS):
        raise invalid_field("tokenEndpointAuthMethod", "a client cannot change between public and "
                                                       "confidential; register a new one")
    registered = {
        "name": application.name, "redirect_uris": application.redirect_uris,
        "post_logout_redirect_uris": application.post_logout_redirect_uris,
        "grant_types": application.grant_types, "scope": application.scope,
        "skip_consent": application.skip_consent, "introspect": application.introspect,
        **{key: getattr(application, key) for key in METADATA},
    }
    registered["request_uris"] = list(registered["request_uris"] or [])
    given = {"name": name, "redirect_uris": redirect_uris, "post_logout_redirect_uris": post_logout_redirect_uris,
             "grant_types": grant_types, "scope": scope, "skip_consent": skip_consent, "introspect": introspect}
    registered.update({key: value for key, value in given.items() if value is not None})
    registered.update({key: value for key, value in metadata.items() if value is not KEEP})
    for flag in ("backchannel_logout_session_required", "frontchannel_logout_session_required"):
        registered[flag] = bool(registered[flag])
    if registered["request_uris"] is None:
        registered["request_uris"] = []
    fields = _validated(**registered, public=application.is_public, method=method)
    already = {permission.name for permission in application.permissions}
    granted = _granted_permissions(fields, application.is_public, already if permissions is None else set(permissions),
                                   already, held)
    if held is not None:
        rbac.require_held(held, _gateway_to(fields["scope"], fields["grant_types"]))
    for key, value in fields.items():
        setattr(application, key, value)
    application.token_endpoint_auth_method = method
    secret = None
    if method != old_method:
        if method == "private_key_jwt":
            _set_secret(application, None)
        elif method == "client_secret_jwt" or application.client_secret_hash is None:
            secret = secrets.token_urlsafe(32)
            _set_secret(application, secret)
        else:
            application.client_secret_sealed = None
    application.permissions = granted
    application.updated_at = now()
    audit.record(actor or audit.Actor.system(), "client.update", target_type="client", target_id=client_id,
                 before=before, after={**snapshot(application), **({"secretIssued": True} if secret else {})})
    db.session.commit()
    invalidate()
    return application, secret


def rotate_secret(client_id: str, actor: audit.Actor | None = None,
                  held: frozenset[str] | None = None) -> tuple[Application, str]:
    """A new secret for a client that authenticates with one; the old one stops working at once."""
    application = _within_reach(_existing(client_id), held)
    if application.is_public:
        raise InvalidInput("a public client has no secret")
    if application.token_endpoint_auth_method == "private_key_jwt":
        raise InvalidInput("a private_key_jwt client authenticates with its keys and has no secret; "
                           "change its jwks or jwks_uri instead")
    secret = secrets.token_urlsafe(32)
    _set_secret(application, secret)
    application.updated_at = now()
    # The event says that the secret changed, never what it is or was.
    audit.record(actor or audit.Actor.system(), "client.secret.rotate", target_type="client", target_id=client_id)
    db.session.commit()
    invalidate()
    return application, secret


def delete(client_id: str, actor: audit.Actor | None = None, held: frozenset[str] | None = None) -> Application:
    """Remove an application from service; its tokens stop working (see oauth.tokens)."""
    application = _within_reach(_existing(client_id), held)
    before = snapshot(application)
    application.deleted_at = application.updated_at = now()
    audit.record(actor or audit.Actor.system(), "client.delete", target_type="client", target_id=client_id,
                 before=before)
    from .tokens import revoke_for_application  # here: oauth.tokens imports this module
    revoke_for_application(application.id)
    db.session.commit()
    invalidate()
    return application


def get(client_id: str) -> Application:
    """A live application by client_id, or NotFound."""
    return _existing(client_id)


def list_all() -> list[Application]:
    query = select(Application).where(Application.deleted_at.is_(None)).order_by(Application.created_at)
    return list(db.session.scalars(query))


def list_page(cursor: str | None = None, limit: int = 50) -> directory.Page:
    """One page of the applications in service, oldest first: a keyset page after ``cursor``
    (``directory``'s opaque cursors; InvalidInput for one that is not this list's)."""
    query = select(Application).where(Application.deleted_at.is_(None))
    if cursor:
        created_at, row_id = directory.decode_cursor("applications", cursor, (datetime, uuid.UUID))
        query = query.where(tuple_(Application.created_at, Application.id) > tuple_(
            literal(created_at, Application.created_at.type), literal(row_id, Application.id.type)))
    rows = list(db.session.scalars(query.order_by(Application.created_at, Application.id).limit(limit + 1)))
    page = directory.Page(items=rows[:limit])
    if len(rows) > limit:
        last = rows[limit - 1]
        page.next_cursor = directory.encode_cursor("applications", [last.created_at, last.id])
    return page


def _existing(client_id: str) -> Application:
    application = db.session.scalar(
        select(Application).where(Application.client_id == client_id, Application.deleted_at.is_(None)))
    if application is None:
        raise NotFound(f"No application with client_id {client_id!r}.")
    return application


def _gateway_to(scope: str, grant_types: list[str]) -> set[str]:
    """The permissions an application may reach through users: every one there is when users sign
    in through it and it may ask for the admin scope (its tokens then carry the permissions of
    whoever signs in), else none. Whoever registers or controls such an application (its redirect
    URIs, consent, secret) could collect those tokens, so must hold them all."""
    if ADMIN_SCOPE in scope.split() and "authorization_code" in grant_types:
        return {permission.name for permission in rbac.all_permissions()}
    return set()


def _within_reach(application: Application, held: frozenset[str] | None) -> Application:
    """The application, if the caller holds every permission it holds or may reach (``held`` None:
    the operator at the command line): whoever can rotate a service account's secret can act as it."""
    if held is None:
        return application
    reach = {permission.name for permission in application.permissions}
    missing = sorted(reach.union(_gateway_to(application.scope, application.grant_types)) - held)
    if missing:
        raise OutOfReach(missing[0], "application")
    return application


class _Cache:
    """Applications by client_id, dropped on a change notice from any process and, as a safety
    net, when the table's version (count, latest change) moves; read on connections of its own,
    never the request's session."""

    def __init__(self, channel: Channel, config):
        self.config = config  # the application's: read per lookup without going through current_app
        self.lock = threading.Lock()
        self.entries: dict[str, Application] = {}
        self.version: tuple | None = None
        self.checked_at: datetime | None = None
        # Bumped by every drop: an application read while a drop happens is not kept.
        self.generation = 0
        self.notices = channel
        channel.listen(self.drop)

    def drop(self, _ids=None) -> None:
        with self.lock:
            self.entries.clear()
            self.generation += 1


def init_app(app: Flask) -> None:
    app.extensions["oauth_client_cache"] = _Cache(notices.channel(app, "clients"), app.config)


def invalidate() -> None:
    """After a committed change: forget cached applications here and in every other process."""
    cache: _Cache = current_app.extensions["oauth_client_cache"]
    cache.drop()
    cache.notices.announce()


def find(client_id: str | None) -> Application | None:
    """The live application with this client_id, from the cache when it is current."""
    # Ours are UUIDs; anything else (a NUL from Basic credentials: PostgreSQL cannot even compare
    # it) names no client and is not looked up.
    if not client_id or len(client_id) > 64 or not client_id.isascii() or not client_id.isprintable():
        return None
    cache: _Cache = current_app.extensions["oauth_client_cache"]
    cache.notices.poll()
    at = now()
    interval = timedelta(seconds=cache.config["CLIENT_CACHE_CHECK_INTERVAL"])
    if cache.checked_at is None or at - cache.checked_at >= interval:
        with db.engine.connect() as connection:
            version = tuple(connection.execute(select(func.count(), func.max(Application.updated_at))).one())
        with cache.lock:
            if version != cache.version:
                cache.entries.clear()
                cache.generation += 1
                cache.version = version
            cache.checked_at = at
    with cache.lock:
        cached = cache.entries.get(client_id)
        generation = cache.generation
    if cached is not None:
        return cached
    # Kept across requests: closing the session detaches the object with its columns loaded.
    with Session(db.engine, expire_on_commit=False) as session:
        application = session.scalar(
            select(Application).where(Application.client_id == client_id, Application.deleted_at.is_(None)))
    if application is not None:  # misses are not cached: random ids must not fill memory
        with cache.lock:
            if cache.generation == generation:
                cache.entries[client_id] = application
    return application


def permissions_of(application_id: uuid.UUID) -> frozenset[str]:
    """The permissions an application holds for itself (its client-credentials tokens on the
    admin API); none unless an administrator gave them."""
    application = db.session.get(Application, application_id)
    return frozenset(permission.name for permission in application.permissions) if application else frozenset()
