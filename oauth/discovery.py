"""Server metadata: OpenID Connect Discovery 1.0 and RFC 8414, built once per application."""

import hashlib
import json

from flask import Flask

from app.web import documents

from . import acr
from .client_keys import ASYMMETRIC_ALGS
from .clients import HMAC_ALGS
from .endpoints import IntrospectionEndpoint
from .endpoints import RevocationEndpoint
from .grants import AuthorizationCodeGrant
from .policy import RESPONSE_MODES
from .prompts import SUPPORTED as PROMPTS

SCOPES = ["openid", "profile", "email", "phone", "address", "offline_access", "account", "admin"]
# What client assertions may be signed with: private_key_jwt's and client_secret_jwt's (oauth/assertions.py).
ASSERTION_ALGS = [*ASYMMETRIC_ALGS, *HMAC_ALGS]
CLAIMS = ["sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "at_hash", "sid", "acr", "amr", "name", "given_name",
          "family_name", "preferred_username", "picture", "birthdate", "updated_at", "email", "email_verified",
          "phone_number", "phone_number_verified", "address"]


def metadata(config) -> dict:
    """Every endpoint and every supported value; nothing listed that is not supported."""
    issuer = config["ISSUER"]
    alg = config["SIGNING_ALG"]
    return {
        "issuer": issuer,
        "authorization_endpoint": f"{issuer}/oauth/authorize",
        "token_endpoint": f"{issuer}/oauth/token",
        "userinfo_endpoint": f"{issuer}/oauth/userinfo",
        "jwks_uri": f"{issuer}/.well-known/jwks.json",
        "revocation_endpoint": f"{issuer}/oauth/revoke",
        "introspection_endpoint": f"{issuer}/oauth/introspect",
        "end_session_endpoint": f"{issuer}/oauth/logout",
        "scopes_supported": SCOPES,
        "response_types_supported": ["code"],
        "response_modes_supported": list(RESPONSE_MODES),
        "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": [alg],
        "token_endpoint_auth_methods_supported": list(AuthorizationCodeGrant.TOKEN_ENDPOINT_AUTH_METHODS),
        "token_endpoint_auth_signing_alg_values_supported": ASSERTION_ALGS,
        "revocation_endpoint_auth_methods_supported": list(RevocationEndpoint.CLIENT_AUTH_METHODS),
        "revocation_endpoint_auth_signing_alg_values_supported": ASSERTION_ALGS,
        "introspection_endpoint_auth_methods_supported": list(IntrospectionEndpoint.CLIENT_AUTH_METHODS),
        "introspection_endpoint_auth_signing_alg_values_supported": ASSERTION_ALGS,
        "code_challenge_methods_supported": ["S256"],
        "claims_supported": CLAIMS,
        "claims_parameter_supported": True,
        # Only the levels a sign-in here can reach (oauth/acr.py): not the phishing-resistant one yet.
        "acr_values_supported": list(acr.REACHABLE),
        "userinfo_signing_alg_values_supported": [alg],
        # The pages are in English only; claims are not localised (claims_locales is accepted, unused).
        "ui_locales_supported": ["en"],
        # Request objects (OpenID Connect Core §6): asymmetric algorithms, or none for the clients that
        # registered it; request_uri values only as registered (OpenID Connect Discovery §3).
        "request_parameter_supported": True,
        "request_uri_parameter_supported": True,
        "require_request_uri_registration": True,
        "request_object_signing_alg_values_supported": [*ASYMMETRIC_ALGS, "none"],
        "prompt_values_supported": list(PROMPTS),
        "authorization_response_iss_parameter_supported": True,
        # OpenID Connect Front-Channel Logout §3 and Back-Channel Logout §2.1 (oauth/logout.py).
        "frontchannel_logout_supported": True,
        "frontchannel_logout_session_supported": True,
        "backchannel_logout_supported": True,
        "backchannel_logout_session_supported": True,
    }


# Both names of the document (OpenID Connect Discovery 1.0 §4, RFC 8414 §3).
PATHS = ("/.well-known/openid-configuration", "/.well-known/oauth-authorization-server")
CACHE_CONTROL = "public, max-age=3600"


def init_app(app: Flask) -> None:
    """Serialise the document once (the settings it shows are fixed for the application's life):
    the views serve these bytes with an ETag, and a plain GET is answered in front of Flask."""
    body = json.dumps(metadata(app.config), separators=(",", ":")).encode()
    document = (body, '"' + hashlib.sha256(body).hexdigest()[:32] + '"', CACHE_CONTROL)
    app.extensions["oauth_metadata"] = document
    for path in PATHS:
        documents.publish(app, path, lambda: document)
