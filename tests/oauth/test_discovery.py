"""Discovery: the OpenID Foundation's Config OP and logout discovery modules, and the document
checked against the implementation itself, so that it lists exactly what the server does."""

import pytest
from joserfc.jwk import KeySet

from oauth import acr
from oauth import claims
from oauth import consent
from oauth import prompts
from oauth.discovery import CLAIMS
from oauth.policy import RESPONSE_MODES
from oauth.policy import S256CodeChallenge

ISSUER = "https://idp.example"
ENDPOINTS = ("authorization_endpoint", "token_endpoint", "userinfo_endpoint", "revocation_endpoint",
             "introspection_endpoint", "end_session_endpoint")
# Every member the document has. A new one is added here on purpose, with the code that makes it true.
MEMBERS = {
    "issuer", "jwks_uri", *ENDPOINTS, "scopes_supported", "response_types_supported", "response_modes_supported",
    "grant_types_supported", "subject_types_supported", "id_token_signing_alg_values_supported",
    "userinfo_signing_alg_values_supported", "token_endpoint_auth_methods_supported",
    "token_endpoint_auth_signing_alg_values_supported", "revocation_endpoint_auth_methods_supported",
    "revocation_endpoint_auth_signing_alg_values_supported", "introspection_endpoint_auth_methods_supported",
    "introspection_endpoint_auth_signing_alg_values_supported", "code_challenge_methods_supported",
    "claims_supported", "claims_parameter_supported", "acr_values_supported", "ui_locales_supported",
    "request_parameter_supported", "request_uri_parameter_supported", "require_request_uri_registration",
    "request_object_signing_alg_values_supported", "prompt_values_supported",
    "authorization_response_iss_parameter_supported", "frontchannel_logout_supported",
    "frontchannel_logout_session_supported", "backchannel_logout_supported", "backchannel_logout_session_supported",
}


@pytest.fixture
def https_app(make_app):
    return make_app(ISSUER=ISSUER)


def _document(app) -> dict:
    response = app.test_client().get("/.well-known/openid-configuration", base_url=ISSUER)
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    return response.get_json()


# OIDF: oidcc-discovery-endpoint-verification (the Config OP plan)
def test_oidcc_discovery_endpoint_verification(https_app):
    """What the module checks: 200 JSON at the issuer's well-known URL with that issuer, the
    endpoints and jwks_uri over https, code among the response types, a subject type, RS256 for ID
    tokens and none never, openid among the scopes, claims_supported, the grant types, and a JWKS
    of public keys only."""
    document = _document(https_app)
    assert document["issuer"] == ISSUER
    for member in (*ENDPOINTS, "jwks_uri"):
        assert document[member].startswith(ISSUER + "/"), member
    assert "code" in document["response_types_supported"]
    assert document["subject_types_supported"] == ["public"]
    # OpenID Connect Discovery §3: RS256 MUST be included.
    assert "RS256" in document["id_token_signing_alg_values_supported"]
    assert "none" not in document["id_token_signing_alg_values_supported"]
    assert "none" not in document["userinfo_signing_alg_values_supported"]
    assert "openid" in document["scopes_supported"]
    assert "sub" in document["claims_supported"]
    assert {"authorization_code", "refresh_token"} <= set(document["grant_types_supported"])
    assert "RS256" in document["request_object_signing_alg_values_supported"]
    keys = https_app.test_client().get("/.well-known/jwks.json", base_url=ISSUER)
    assert keys.status_code == 200
    published = keys.get_json()
    KeySet.import_key_set(published)
    for key in published["keys"]:
        assert key["kty"] != "oct" and not {"d", "p", "q", "dp", "dq", "qi", "k"} & set(key), key
        assert key.get("kid") and key.get("use", "sig") == "sig"


# OIDF: oidcc-rp-initiated-logout-discovery-endpoint-verification
# OIDF: oidcc-backchannel-logout-discovery-endpoint-verification
# OIDF: oidcc-frontchannel-logout-discovery-endpoint-verification
def test_logout_discovery_endpoint_verification(https_app):
    """The logout plans' discovery modules: an https end_session_endpoint, and back- and front-channel
    logout with sessions (certification requires sid)."""
    document = _document(https_app)
    assert document["end_session_endpoint"] == f"{ISSUER}/oauth/logout"
    for member in ("backchannel_logout_supported", "backchannel_logout_session_supported",
                   "frontchannel_logout_supported", "frontchannel_logout_session_supported"):
        assert document[member] is True, member


def test_both_well_known_documents_are_the_same(https_app):
    """RFC 8414 §3 and OpenID Connect Discovery §4 ask for one document each; ours are one."""
    client = https_app.test_client()
    oauth = client.get("/.well-known/oauth-authorization-server", base_url=ISSUER)
    assert oauth.status_code == 200 and oauth.get_json() == _document(https_app)


# OIDF: oidcc-config (the document checked against the implementation's own registry)
def test_the_document_lists_exactly_what_the_server_implements(https_app):
    document = _document(https_app)
    assert set(document) == MEMBERS
    server = https_app.extensions["oauth_server"]
    adapter = https_app.url_map.bind("idp.example", url_scheme="https")
    for member in ENDPOINTS:
        path = document[member][len(ISSUER):]
        methods = "GET" if member in ("authorization_endpoint", "userinfo_endpoint", "end_session_endpoint") \
            else "POST"
        adapter.match(path, method=methods)  # raises NotFound / MethodNotAllowed when not served
    adapter.match(document["jwks_uri"][len(ISSUER):], method="GET")

    assert set(document["grant_types_supported"]) == {grant.GRANT_TYPE for grant, _ in server._token_grants}
    assert set(document["response_types_supported"]) == {
        response_type for grant, _ in server._authorization_grants for response_type in grant.RESPONSE_TYPES}
    assert document["response_modes_supported"] == list(RESPONSE_MODES)
    assert document["code_challenge_methods_supported"] == S256CodeChallenge.SUPPORTED_CODE_CHALLENGE_METHOD
    assert document["scopes_supported"] == list(consent.SCOPE_DESCRIPTIONS)
    assert document["prompt_values_supported"] == list(prompts.SUPPORTED)
    assert document["acr_values_supported"] == list(acr.REACHABLE)
    assert document["id_token_signing_alg_values_supported"] == [https_app.config["SIGNING_ALG"]]
    assert document["userinfo_signing_alg_values_supported"] == [https_app.config["SIGNING_ALG"]]
    released = {name for names in claims.SCOPE_CLAIMS.values() for name in names}
    assert released <= set(document["claims_supported"]) == set(CLAIMS)
    # Every authentication method listed has an authenticator registered with the server, and every
    # grant that authenticates clients accepts only listed methods.
    listed = set(document["token_endpoint_auth_methods_supported"])
    registered = set(server._client_auth._methods) if server._client_auth else set()
    assert listed - {"none"} <= registered | {"client_secret_basic", "client_secret_post"}
    for grant, _ in server._token_grants:
        assert set(grant.TOKEN_ENDPOINT_AUTH_METHODS) <= listed, grant
