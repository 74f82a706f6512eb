"""Server metadata: OpenID Connect Discovery 1.0 and RFC 8414, built once per application."""

import hashlib
import json

from flask import Flask

from .clients import ASYMMETRIC_ALGS
from .clients import HMAC_ALGS
from .endpoints import IntrospectionEndpoint
from .endpoints import RevocationEndpoint
from .grants import AuthorizationCodeGrant

SCOPES = ["openid", "profile", "email", "phone", "address", "offline_access", "account", "admin"]
# What client assertions may be signed with: private_key_jwt's and client_secret_jwt's (oauth/assertions.py).
ASSERTION_ALGS = [*ASYMMETRIC_ALGS, *HMAC_ALGS]
CLAIMS = ["sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "at_hash", "sid", "amr", "name", "given_name",
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
        "response_modes_supported": ["query"],
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
        "claims_parameter_supported": False,
        "request_parameter_supported": False,
        "request_uri_parameter_supported": False,
        "prompt_values_supported": ["none", "login", "consent"],
        "authorization_response_iss_parameter_supported": True,
        "frontchannel_logout_supported": False,
        "backchannel_logout_supported": False,
    }


def init_app(app: Flask) -> None:
    """Serialise the document once; the views serve these bytes with an ETag."""
    body = json.dumps(metadata(app.config), separators=(",", ":")).encode()
    app.extensions["oauth_metadata"] = (body, '"' + hashlib.sha256(body).hexdigest()[:32] + '"')
