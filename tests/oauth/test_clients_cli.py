"""`flask clients create|list|show|update|rotate-secret|delete`: what the operator sees and what the clients can
then do."""

import json
import re
import uuid
from types import SimpleNamespace

import pytest

from ..helpers import AuthorizationRequest

# The registration fields beyond the basics, unset.
UNSET_METADATA = {"jwks": None, "jwks_uri": None, "request_uris": [], "request_object_signing_alg": None,
                  "token_endpoint_auth_signing_alg": None, "userinfo_signed_response_alg": None,
                  "backchannel_logout_uri": None, "backchannel_logout_session_required": False,
                  "frontchannel_logout_uri": None, "frontchannel_logout_session_required": False}
CLIENT_KEYS = {"client_id", "name", "public", "token_endpoint_auth_method", "redirect_uris",
               "post_logout_redirect_uris", "grant_types", "scope", "skip_consent", "introspect", *UNSET_METADATA}
DEFAULT_SCOPE = "openid profile email phone address offline_access"
SECRET = re.compile(r"^[A-Za-z0-9_-]{43}$")


@pytest.fixture
def cli(app):
    return app.test_cli_runner()


def create(cli, *args) -> dict:
    """`flask clients create ... --json`, which must succeed; its JSON."""
    result = cli.invoke(args=["clients", "create", *args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def listed(cli) -> list[dict]:
    result = cli.invoke(args=["clients", "list", "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)["clients"]


def client_credentials(http, client_id, secret):
    return http.post("/oauth/token", data={"grant_type": "client_credentials"}, auth=(client_id, secret))


def code_flow(http, created: dict, redirect_uri: str):
    """A first-party (skip-consent) code flow for a signed-in browser; the token response."""
    application = SimpleNamespace(client_id=created["client_id"], redirect_uris=created["redirect_uris"])
    request = AuthorizationRequest(application, scope="openid email", redirect_uri=redirect_uri)
    response = http.get(request.url)
    assert response.status_code == 302, response.text
    code = request.callback(response.headers["Location"])["code"]
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri,
            "code_verifier": request.verifier}
    if created["public"]:
        return http.post("/oauth/token", data={**form, "client_id": created["client_id"]})
    return http.post("/oauth/token", data=form, auth=(created["client_id"], created["client_secret"]))


def test_create_confidential_client_prints_everything_with_the_secret(cli, signed_in):
    """--json prints the registration and the secret once; the secret works at /oauth/token."""
    body = create(cli, "--name", "Billing", "--redirect-uri", "https://billing.example.com/cb",
                  "--redirect-uri", "https://billing.example.com/cb2",
                  "--post-logout-redirect-uri", "https://billing.example.com/bye",
                  "--scope", "openid email", "--skip-consent")
    assert set(body) == CLIENT_KEYS | {"client_secret"}
    assert str(uuid.UUID(body["client_id"])) == body["client_id"]
    assert SECRET.match(body["client_secret"])
    assert {name: value for name, value in body.items() if name not in ("client_id", "client_secret")} == {
        "name": "Billing",
        "public": False,
        "token_endpoint_auth_method": "client_secret_basic",
        "redirect_uris": ["https://billing.example.com/cb", "https://billing.example.com/cb2"],
        "post_logout_redirect_uris": ["https://billing.example.com/bye"],
        "grant_types": ["authorization_code", "refresh_token"],
        "scope": "openid email",
        "skip_consent": True,
        "introspect": False,
        **UNSET_METADATA,
    }
    response = code_flow(signed_in, body, "https://billing.example.com/cb2")
    assert response.status_code == 200, response.get_json()
    assert {"access_token", "refresh_token", "id_token"} <= set(response.get_json())


def test_create_public_client_has_no_secret(cli, signed_in):
    """--public: no client_secret member at all, auth method none, and PKCE with client_id works."""
    body = create(cli, "--name", "Mobile", "--redirect-uri", "com.example.mobile:/callback", "--public",
                  "--skip-consent")
    assert set(body) == CLIENT_KEYS
    assert body["public"] is True and body["token_endpoint_auth_method"] == "none"
    assert body["grant_types"] == ["authorization_code", "refresh_token"] and body["scope"] == DEFAULT_SCOPE
    response = code_flow(signed_in, body, "com.example.mobile:/callback")
    assert response.status_code == 200, response.get_json()


def test_create_without_json_prints_the_id_and_secret_lines(cli):
    """Plain output names client_id and, for a confidential client, the secret shown once."""
    result = cli.invoke(args=["clients", "create", "--name", "Plain", "--redirect-uri", "https://p.example.com/cb"])
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 2
    assert re.fullmatch(r"client_id: [0-9a-f-]{36}", lines[0])
    assert re.fullmatch(r"client_secret: [A-Za-z0-9_-]{43}  \(shown once\)", lines[1])


def test_client_credentials_only_client_needs_no_redirect_uri(cli, client):
    """A service client: no redirect URI, and its secret gets a token without a user."""
    body = create(cli, "--name", "Batch", "--grant-type", "client_credentials", "--scope", "reports")
    assert body["redirect_uris"] == [] and body["grant_types"] == ["client_credentials"]
    response = client_credentials(client, body["client_id"], body["client_secret"])
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["token_type"] == "Bearer" and "refresh_token" not in response.get_json()


def test_list_json_shows_every_client_without_secrets(cli):
    """`clients list --json`: every live client in creation order, never a secret."""
    first = create(cli, "--name", "First", "--redirect-uri", "https://one.example.com/cb")
    second = create(cli, "--name", "Second", "--grant-type", "client_credentials")
    third = create(cli, "--name", "Third", "--redirect-uri", "https://three.example.com/cb", "--public")
    clients = listed(cli)
    assert [entry["client_id"] for entry in clients] == [first["client_id"], second["client_id"], third["client_id"]]
    for entry, created in zip(clients, (first, second, third)):
        assert set(entry) == CLIENT_KEYS
        assert entry == {name: created[name] for name in CLIENT_KEYS}
    assert first["client_secret"] not in json.dumps(clients)


def test_list_json_is_empty_without_clients(cli):
    """No clients: an empty list, not an error."""
    assert listed(cli) == []


def test_rotate_secret_replaces_the_old_secret_at_once(cli, client):
    """After rotate-secret the old secret is invalid_client and the new one works."""
    body = create(cli, "--name", "Batch", "--grant-type", "client_credentials")
    assert client_credentials(client, body["client_id"], body["client_secret"]).status_code == 200
    result = cli.invoke(args=["clients", "rotate-secret", body["client_id"], "--json"])
    assert result.exit_code == 0, result.output
    rotated = json.loads(result.output)
    assert set(rotated) == CLIENT_KEYS | {"client_secret"}
    assert rotated["client_id"] == body["client_id"] and SECRET.match(rotated["client_secret"])
    assert rotated["client_secret"] != body["client_secret"]
    old = client_credentials(client, body["client_id"], body["client_secret"])
    assert old.status_code == 401 and old.get_json()["error"] == "invalid_client"
    new = client_credentials(client, body["client_id"], rotated["client_secret"])
    assert new.status_code == 200, new.get_json()


@pytest.mark.parametrize("target, message", [
    ("public", "a public client has no secret"),
    ("unknown", "No application with client_id"),
], ids=["public-client", "unknown-client"])
def test_rotate_secret_refuses_with_one_line(cli, target, message):
    """A public or unknown client has no secret to rotate: exit 1 with the reason."""
    client_id = str(uuid.uuid4())
    if target == "public":
        spa = create(cli, "--name", "Spa", "--redirect-uri", "https://spa.example.com/cb", "--public")
        client_id = spa["client_id"]
    result = cli.invoke(args=["clients", "rotate-secret", client_id, "--json"])
    assert result.exit_code == 1
    assert message in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_delete_takes_the_client_out_of_service(cli, client):
    """After delete its client_credentials requests are 401 invalid_client and it is not listed."""
    body = create(cli, "--name", "Batch", "--grant-type", "client_credentials")
    keep = create(cli, "--name", "Keep", "--grant-type", "client_credentials")
    assert client_credentials(client, body["client_id"], body["client_secret"]).status_code == 200
    result = cli.invoke(args=["clients", "delete", body["client_id"]])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == f"Deleted Batch ({body['client_id']})."
    refused = client_credentials(client, body["client_id"], body["client_secret"])
    assert refused.status_code == 401 and refused.get_json()["error"] == "invalid_client"
    assert [entry["client_id"] for entry in listed(cli)] == [keep["client_id"]]
    assert client_credentials(client, keep["client_id"], keep["client_secret"]).status_code == 200


def test_delete_unknown_client_refuses_with_one_line(cli):
    """Deleting a client that does not exist (or twice) exits 1 with the reason."""
    body = create(cli, "--name", "Batch", "--grant-type", "client_credentials")
    assert cli.invoke(args=["clients", "delete", body["client_id"]]).exit_code == 0
    for client_id in (body["client_id"], str(uuid.uuid4())):
        result = cli.invoke(args=["clients", "delete", client_id])
        assert result.exit_code == 1
        assert f"No application with client_id '{client_id}'" in result.output
        assert len(result.output.strip().splitlines()) == 1


HTTPS_ISSUER = {"ISSUER": "https://id.example.com"}


@pytest.mark.parametrize("settings, args, message", [
    ({}, ["--redirect-uri", "https://app.example.com/cb#section"], "must not contain a fragment"),
    (HTTPS_ISSUER, ["--redirect-uri", "http://app.example.com/cb"], "must use https"),
    ({}, ["--redirect-uri", "https://app.example.com/cb", "--grant-type", "implicit"], "unknown grant type 'implicit'"),
    ({}, ["--grant-type", "authorization_code"], "needs at least one redirect URI"),
    ({}, [], "needs at least one redirect URI"),
    ({}, ["--public", "--grant-type", "client_credentials"], "public client cannot use client_credentials"),
    ({}, ["--redirect-uri", "/relative/cb"], "must be an absolute URI"),
    ({}, ["--grant-type", "refresh_token"], "refresh_token needs the authorization_code grant"),
    ({}, ["--grant-type", "client_credentials", "--redirect-uri", "https://app.example.com/cb"],
     "redirect URIs are only for the authorization_code grant"),
    ({}, ["--redirect-uri", "https://app.example.com/cb", "--scope", 'openid "quoted"'], "not a valid scope token"),
    ({}, ["--redirect-uri", "https://app.example.com/cb", "--post-logout-redirect-uri", "https://a.example.com/#x"],
     "must not contain a fragment"),
], ids=["fragment", "http-with-https-issuer", "unknown-grant", "code-without-redirect", "default-without-redirect",
        "public-client-credentials", "relative-uri", "refresh-alone", "service-with-redirect", "bad-scope",
        "post-logout-fragment"])
def test_create_refuses_bad_input_with_one_line(make_app, settings, args, message):
    """Bad input exits 1 with a one-line reason and registers nothing."""
    cli = make_app(**settings).test_cli_runner()
    result = cli.invoke(args=["clients", "create", "--name", "Bad", *args, "--json"])
    assert result.exit_code == 1
    assert message in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert listed(cli) == []


@pytest.mark.parametrize("uri", ["http://127.0.0.1:8765/cb", "http://localhost:8765/cb", "http://[::1]:8765/cb"],
                         ids=["ipv4", "localhost", "ipv6"])
def test_loopback_http_redirect_uri_is_allowed_with_an_https_issuer(make_app, uri):
    """RFC 8252 §7.3: native apps may use http on the loopback interface."""
    cli = make_app(**HTTPS_ISSUER).test_cli_runner()
    body = create(cli, "--name", "Native", "--redirect-uri", uri, "--public")
    assert body["redirect_uris"] == [uri]


# --- resource servers, show and update --------------------------------------------------------------------

def introspect(http, created: dict, token: str):
    return http.post("/oauth/introspect", data={"token": token}, auth=(created["client_id"], created["client_secret"]))


def test_create_introspect_registers_a_resource_server(cli, client):
    """--introspect: the flag is shown, and only that client may introspect (others: 403)."""
    api = create(cli, "--name", "API", "--grant-type", "client_credentials", "--introspect")
    batch = create(cli, "--name", "Batch", "--grant-type", "client_credentials")
    assert api["introspect"] is True and batch["introspect"] is False
    token = client_credentials(client, batch["client_id"], batch["client_secret"]).get_json()["access_token"]
    assert introspect(client, api, token).get_json()["active"] is True
    refused = introspect(client, batch, token)
    assert refused.status_code == 403 and refused.get_json()["error"] == "unauthorized_client"
    assert {entry["client_id"]: entry["introspect"] for entry in listed(cli)} == {
        api["client_id"]: True, batch["client_id"]: False}


def test_list_shows_the_introspect_flag_in_plain_output(cli):
    """The plain list names a resource server's role beside its grant types."""
    api = create(cli, "--name", "API", "--grant-type", "client_credentials", "--introspect")
    result = cli.invoke(args=["clients", "list"])
    assert result.exit_code == 0, result.output
    line = next(line for line in result.output.splitlines() if line.startswith(api["client_id"]))
    assert line.split()[-2:] == ["client_credentials", "introspect"]


def test_public_client_cannot_introspect(cli):
    """A public client has no secret to authenticate with at the introspection endpoint."""
    result = cli.invoke(args=["clients", "create", "--name", "Spa", "--redirect-uri", "https://spa.example.com/cb",
                              "--public", "--introspect", "--json"])
    assert result.exit_code == 1 and "public client cannot introspect" in result.output
    assert listed(cli) == []


def test_show_prints_one_registration_without_the_secret(cli):
    """`clients show ID --json`: the registration as listed; an unknown id exits 1 with one line."""
    body = create(cli, "--name", "Billing", "--redirect-uri", "https://billing.example.com/cb")
    result = cli.invoke(args=["clients", "show", body["client_id"], "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == {name: body[name] for name in CLIENT_KEYS}
    plain = cli.invoke(args=["clients", "show", body["client_id"]])
    assert "introspect: False" in plain.output and body["client_secret"] not in plain.output
    missing = cli.invoke(args=["clients", "show", str(uuid.uuid4())])
    assert missing.exit_code == 1 and len(missing.output.strip().splitlines()) == 1


def test_update_introspect_takes_effect_at_once(cli, client):
    """--introspect / --no-introspect turn the resource-server role on and off; the secret stays."""
    api = create(cli, "--name", "API", "--grant-type", "client_credentials")
    token = client_credentials(client, api["client_id"], api["client_secret"]).get_json()["access_token"]
    assert introspect(client, api, token).status_code == 403
    result = cli.invoke(args=["clients", "update", api["client_id"], "--introspect", "--json"])
    assert result.exit_code == 0, result.output
    updated = json.loads(result.output)
    assert updated["introspect"] is True and "client_secret" not in updated
    assert introspect(client, api, token).get_json()["active"] is True
    assert cli.invoke(args=["clients", "update", api["client_id"], "--no-introspect"]).exit_code == 0
    assert introspect(client, api, token).status_code == 403


def test_update_replaces_only_what_is_given(cli, signed_in):
    """Name, URIs, scope, grants and consent change as given; the rest stays; the new URI works."""
    body = create(cli, "--name", "Billing", "--redirect-uri", "https://billing.example.com/cb",
                  "--post-logout-redirect-uri", "https://billing.example.com/bye", "--scope", "openid email")
    result = cli.invoke(args=["clients", "update", body["client_id"], "--name", "Invoices",
                              "--redirect-uri", "https://invoices.example.com/cb",
                              "--redirect-uri", "https://invoices.example.com/cb2", "--skip-consent", "--json"])
    assert result.exit_code == 0, result.output
    updated = json.loads(result.output)
    assert updated == {**{name: body[name] for name in CLIENT_KEYS}, "name": "Invoices", "skip_consent": True,
                       "redirect_uris": ["https://invoices.example.com/cb", "https://invoices.example.com/cb2"]}
    assert listed(cli) == [updated]
    response = code_flow(signed_in, {**body, **updated}, "https://invoices.example.com/cb2")
    assert response.status_code == 200, response.get_json()
    old = AuthorizationRequest(SimpleNamespace(client_id=body["client_id"], redirect_uris=body["redirect_uris"]))
    refused = signed_in.get(old.url)
    assert refused.status_code == 400 and "Location" not in refused.headers
    result = cli.invoke(args=["clients", "update", body["client_id"], "--scope", "openid", "--no-skip-consent",
                              "--grant-type", "authorization_code", "--json"])
    assert result.exit_code == 0, result.output
    again = json.loads(result.output)
    assert (again["scope"], again["skip_consent"], again["grant_types"]) == ("openid", False, ["authorization_code"])


@pytest.mark.parametrize("settings, args, message", [
    ({}, ["--redirect-uri", "https://app.example.com/cb#section"], "must not contain a fragment"),
    (HTTPS_ISSUER, ["--redirect-uri", "http://app.example.com/cb"], "must use https"),
    ({}, ["--grant-type", "implicit"], "unknown grant type 'implicit'"),
    ({}, ["--grant-type", "refresh_token"], "refresh_token needs the authorization_code grant"),
    ({}, ["--grant-type", "client_credentials"], "redirect URIs are only for the authorization_code grant"),
    ({}, ["--scope", 'openid "quoted"'], "not a valid scope token"),
    ({}, ["--name", " "], "name must be 1 to 200 characters"),
    ({}, ["--post-logout-redirect-uri", "/relative"], "must be an absolute URI"),
], ids=["fragment", "http-with-https-issuer", "unknown-grant", "refresh-alone", "service-with-redirect",
        "bad-scope", "blank-name", "relative-post-logout"])
def test_update_refuses_bad_input_with_one_line_and_changes_nothing(make_app, settings, args, message):
    """The rules of registration apply to an update: exit 1 with the reason, the registration unchanged."""
    cli = make_app(**settings).test_cli_runner()
    body = create(cli, "--name", "App", "--redirect-uri", "https://app.example.com/cb")
    result = cli.invoke(args=["clients", "update", body["client_id"], *args, "--json"])
    assert result.exit_code == 1
    assert message in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert listed(cli) == [{name: body[name] for name in CLIENT_KEYS}]


def test_update_refuses_introspect_for_a_public_client_and_unknown_ids(cli):
    """A public client cannot become a resource server; an unknown client_id is named."""
    spa = create(cli, "--name", "Spa", "--redirect-uri", "https://spa.example.com/cb", "--public")
    result = cli.invoke(args=["clients", "update", spa["client_id"], "--introspect"])
    assert result.exit_code == 1 and "public client cannot introspect" in result.output
    client_id = str(uuid.uuid4())
    result = cli.invoke(args=["clients", "update", client_id, "--name", "X"])
    assert result.exit_code == 1 and f"No application with client_id '{client_id}'" in result.output


# --- the relying-party registration fields (OpenID Connect Registration §2) ------------------------------

def _public_jwks() -> dict:
    from joserfc.jwk import ECKey
    return {"keys": [ECKey.generate_key("P-256", parameters={"kid": "rp-1"}).as_dict(private=False)]}


def test_create_with_every_registration_field(cli, tmp_path):
    """Every field given on the command line is registered and shown; --jwks reads JSON or @FILE."""
    jwks = _public_jwks()
    body = create(cli, "--name", "RP", "--redirect-uri", "https://rp.example.com/cb",
                  "--token-endpoint-auth-method", "private_key_jwt", "--jwks", json.dumps(jwks),
                  "--token-endpoint-auth-signing-alg", "ES256",
                  "--request-uri", "https://rp.example.com/request.jwt#abc",
                  "--request-uri", "https://rp.example.com/other.jwt",
                  "--request-object-signing-alg", "none", "--userinfo-signed-response-alg", "RS256",
                  "--backchannel-logout-uri", "https://rp.example.com/logout/back?tenant=1",
                  "--backchannel-logout-session-required",
                  "--frontchannel-logout-uri", "https://rp.example.com/logout/front",
                  "--frontchannel-logout-session-required")
    assert "client_secret" not in body  # private_key_jwt: the client's keys, no secret
    assert {name: body[name] for name in UNSET_METADATA} == {
        "jwks": jwks, "jwks_uri": None,
        "request_uris": ["https://rp.example.com/request.jwt#abc", "https://rp.example.com/other.jwt"],
        "request_object_signing_alg": "none", "token_endpoint_auth_signing_alg": "ES256",
        "userinfo_signed_response_alg": "RS256",
        "backchannel_logout_uri": "https://rp.example.com/logout/back?tenant=1",
        "backchannel_logout_session_required": True,
        "frontchannel_logout_uri": "https://rp.example.com/logout/front",
        "frontchannel_logout_session_required": True}
    assert body["token_endpoint_auth_method"] == "private_key_jwt" and body["public"] is False
    keys_file = tmp_path / "jwks.json"
    keys_file.write_text(json.dumps(jwks))
    from_file = create(cli, "--name", "RP2", "--grant-type", "client_credentials",
                       "--token-endpoint-auth-method", "private_key_jwt", "--jwks", f"@{keys_file}")
    assert from_file["jwks"] == jwks
    shown = json.loads(cli.invoke(args=["clients", "show", body["client_id"], "--json"]).output)
    assert shown == {name: body[name] for name in CLIENT_KEYS}
    plain = cli.invoke(args=["clients", "show", body["client_id"]]).output
    assert "backchannel_logout_uri: https://rp.example.com/logout/back?tenant=1" in plain


PRIVATE_JWKS = {"keys": [{"kty": "oct", "k": "c2VjcmV0"}]}


@pytest.mark.parametrize("settings, args, message", [
    ({}, ["--grant-type", "client_credentials", "--token-endpoint-auth-method", "private_key_jwt"],
     "private_key_jwt needs the client's public keys"),
    ({}, ["--grant-type", "client_credentials", "--jwks", json.dumps(PRIVATE_JWKS)], "public keys only"),
    ({}, ["--grant-type", "client_credentials", "--jwks", "{not json"], "--jwks must be a JWKS"),
    ({}, ["--grant-type", "client_credentials", "--jwks", "@/nonexistent/jwks.json"], "cannot read"),
    ({}, ["--grant-type", "client_credentials", "--jwks", '{"keys": []}'], "non-empty"),
    ({}, ["--grant-type", "client_credentials", "--jwks", "JWKS", "--jwks-uri", "https://rp.example.com/jwks"],
     "not both"),
    (HTTPS_ISSUER, ["--grant-type", "client_credentials", "--jwks-uri", "http://rp.example.com/jwks"], "https"),
    ({}, ["--grant-type", "client_credentials", "--request-uri", "http://rp.example.com/r.jwt"], "must use https"),
    ({}, ["--grant-type", "client_credentials", "--request-uri", "/r.jwt"], "absolute https URL"),
    ({}, ["--grant-type", "client_credentials", "--request-object-signing-alg", "HS256"],
     "request_object_signing_alg must be one of"),
    ({}, ["--grant-type", "client_credentials", "--token-endpoint-auth-signing-alg", "RS256"],
     "only for private_key_jwt and client_secret_jwt"),
    ({}, ["--grant-type", "client_credentials", "--token-endpoint-auth-method", "client_secret_jwt",
          "--token-endpoint-auth-signing-alg", "RS256"], "for client_secret_jwt must be one of HS256"),
    ({}, ["--grant-type", "client_credentials", "--token-endpoint-auth-method", "client_secret_jwt",
          "--token-endpoint-auth-signing-alg", "none"], "for client_secret_jwt must be one of"),
    ({}, ["--grant-type", "client_credentials", "--userinfo-signed-response-alg", "ES256"],
     "userinfo_signed_response_alg must be RS256"),
    ({}, ["--grant-type", "client_credentials", "--backchannel-logout-uri", "https://rp.example.com/bye#x"],
     "must not contain a fragment"),
    ({}, ["--grant-type", "client_credentials", "--backchannel-logout-uri", "/bye"], "absolute https URL"),
    (HTTPS_ISSUER, ["--grant-type", "client_credentials", "--backchannel-logout-uri", "http://rp.example.com/b"],
     "must use https"),
    ({}, ["--redirect-uri", "https://rp.example.com/cb", "--frontchannel-logout-uri", "https://evil.example.com/f"],
     "of a registered redirect URI"),
    ({}, ["--redirect-uri", "https://rp.example.com/cb", "--frontchannel-logout-uri", "https://rp.example.com/f#x"],
     "must not contain a fragment"),
    ({}, ["--grant-type", "client_credentials", "--backchannel-logout-session-required"],
     "needs a backchannel_logout_uri"),
    ({}, ["--redirect-uri", "https://rp.example.com/cb", "--frontchannel-logout-session-required"],
     "needs a frontchannel_logout_uri"),
    ({}, ["--grant-type", "client_credentials", "--token-endpoint-auth-method", "tls_client_auth"], "Invalid value"),
], ids=["pkjwt-without-keys", "private-jwks", "jwks-not-json", "jwks-file-missing", "jwks-empty", "jwks-and-uri",
        "jwks-uri-http", "request-uri-http", "request-uri-relative", "request-object-hmac",
        "assertion-alg-for-secret-client", "assertion-alg-wrong-family", "assertion-alg-none", "userinfo-alg",
        "backchannel-fragment", "backchannel-relative", "backchannel-http", "frontchannel-other-origin",
        "frontchannel-fragment", "backchannel-session-without-uri", "frontchannel-session-without-uri",
        "unknown-method"])
def test_create_refuses_bad_registration_fields_with_one_line(make_app, settings, args, message):
    cli = make_app(**settings).test_cli_runner()
    args = [json.dumps(_public_jwks()) if arg == "JWKS" else arg for arg in args]
    result = cli.invoke(args=["clients", "create", "--name", "Bad", *args, "--json"])
    assert result.exit_code != 0
    assert message in result.output, result.output
    assert listed(cli) == []


def test_update_sets_and_clears_registration_fields(cli):
    """Given options replace, --clear empties or unsets; the rest stays."""
    body = create(cli, "--name", "RP", "--redirect-uri", "https://rp.example.com/cb",
                  "--post-logout-redirect-uri", "https://rp.example.com/bye",
                  "--request-uri", "https://rp.example.com/r.jwt")

    def update(*args) -> dict:
        result = cli.invoke(args=["clients", "update", body["client_id"], *args, "--json"])
        assert result.exit_code == 0, result.output
        return json.loads(result.output)

    changed = update("--jwks-uri", "http://127.0.0.1:9/jwks.json", "--backchannel-logout-uri",
                     "https://rp.example.com/back", "--backchannel-logout-session-required",
                     "--request-object-signing-alg", "RS256", "--post-logout-redirect-uri",
                     "https://rp.example.com/bye2")
    assert (changed["jwks_uri"], changed["backchannel_logout_uri"], changed["backchannel_logout_session_required"],
            changed["request_object_signing_alg"], changed["post_logout_redirect_uris"], changed["request_uris"]) == (
        "http://127.0.0.1:9/jwks.json", "https://rp.example.com/back", True, "RS256",
        ["https://rp.example.com/bye2"], ["https://rp.example.com/r.jwt"])
    refused = cli.invoke(args=["clients", "update", body["client_id"], "--clear", "backchannel-logout-uri"])
    assert refused.exit_code == 1 and "needs a backchannel_logout_uri" in refused.output
    cleared = update("--clear", "jwks-uri", "--clear", "request-uris", "--clear", "post-logout-redirect-uris",
                     "--clear", "request-object-signing-alg", "--clear", "backchannel-logout-uri",
                     "--no-backchannel-logout-session-required")
    assert {name: cleared[name] for name in UNSET_METADATA} == UNSET_METADATA
    assert cleared["post_logout_redirect_uris"] == []
    both = cli.invoke(args=["clients", "update", body["client_id"], "--clear", "jwks-uri", "--jwks-uri",
                            "https://rp.example.com/jwks"])
    assert both.exit_code == 1 and "cannot go with a new value" in both.output


def test_update_between_authentication_methods(cli):
    """To client_secret_jwt: a new secret, shown once; to private_key_jwt: keys needed, no secret, no
    rotation; back to a secret method: a new secret again."""
    body = create(cli, "--name", "RP", "--grant-type", "client_credentials")
    result = cli.invoke(args=["clients", "update", body["client_id"], "--token-endpoint-auth-method",
                              "client_secret_jwt", "--json"])
    assert result.exit_code == 0, result.output
    switched = json.loads(result.output)
    assert SECRET.match(switched["client_secret"]) and switched["client_secret"] != body["client_secret"]
    again = cli.invoke(args=["clients", "update", body["client_id"], "--name", "RP 2", "--json"])
    assert "client_secret" not in json.loads(again.output)
    refused = cli.invoke(args=["clients", "update", body["client_id"], "--token-endpoint-auth-method",
                               "private_key_jwt"])
    assert refused.exit_code == 1 and "private_key_jwt needs the client's public keys" in refused.output
    keyed = cli.invoke(args=["clients", "update", body["client_id"], "--token-endpoint-auth-method",
                             "private_key_jwt", "--jwks", json.dumps(_public_jwks()), "--json"])
    assert keyed.exit_code == 0 and "client_secret" not in json.loads(keyed.output)
    rotate = cli.invoke(args=["clients", "rotate-secret", body["client_id"]])
    assert rotate.exit_code == 1 and "has no secret" in rotate.output
    plain = cli.invoke(args=["clients", "update", body["client_id"], "--token-endpoint-auth-method",
                             "client_secret_basic"])
    assert plain.exit_code == 0 and "client_secret: " in plain.output and "(shown once)" in plain.output
    public = cli.invoke(args=["clients", "update", body["client_id"], "--token-endpoint-auth-method", "none"])
    assert public.exit_code == 1 and "cannot change between public and confidential" in public.output
