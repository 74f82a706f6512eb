"""The admin API's applications and users' grants: allowed and denied, every field, secrets shown
once and never their hash, deletion and withdrawal stopping tokens at once, the CLI and the API
going through the same service (and the same audit trail)."""

import json
from types import SimpleNamespace

import pytest

from oauth.models import secret_digest

from ..helpers import audit_events
from ..helpers import bearer
from ..helpers import grant_tokens
from ..helpers import introspect
from ..helpers import token_request

CLIENTS = "/api/v1/admin/clients"
PROBLEM = "application/problem+json"
CLIENT_KEYS = {"clientId", "name", "public", "tokenEndpointAuthMethod", "redirectUris", "postLogoutRedirectUris",
               "grantTypes", "responseTypes", "scope", "skipConsent", "introspect", "permissions", "createdAt",
               "updatedAt", "jwks", "jwksUri", "requestUris", "requestObjectSigningAlg", "tokenEndpointAuthSigningAlg",
               "userinfoSignedResponseAlg", "backchannelLogoutUri", "backchannelLogoutSessionRequired",
               "frontchannelLogoutUri", "frontchannelLogoutSessionRequired"}
CALLBACK = "https://billing.example.com/callback"


@pytest.fixture
def admin(browser_as):
    return browser_as("admin")  # holds clients:read/write, users:read/write; not keys:*


def create(browser, **fields):
    body = {"name": "Billing", "redirectUris": [CALLBACK], **fields}
    response = browser.send("POST", CLIENTS, json=body)
    assert response.status_code == 201, response.text
    return response.get_json()


def as_app(created):
    return SimpleNamespace(client_id=created["clientId"], client_secret=created.get("clientSecret"),
                           redirect_uris=created["redirectUris"], public=created["public"])


def test_no_caller_is_401(client):
    assert client.get(CLIENTS).status_code == 401
    assert client.post(CLIENTS, json={"name": "x"}).status_code == 401


@pytest.mark.parametrize("method, path", [
    ("GET", CLIENTS), ("POST", CLIENTS), ("GET", f"{CLIENTS}/x"), ("PATCH", f"{CLIENTS}/x"),
    ("POST", f"{CLIENTS}/x/secret"), ("DELETE", f"{CLIENTS}/x"),
    ("GET", "/api/v1/admin/users/00000000-0000-0000-0000-000000000000/grants"),
    ("DELETE", "/api/v1/admin/users/00000000-0000-0000-0000-000000000000/grants/x"),
], ids=["list", "create", "get", "update", "rotate", "delete", "grants", "revoke-grant"])
def test_a_plain_user_is_denied(app, browser_as, method, path):
    response = browser_as("user").send(method, path, json={} if method in ("POST", "PATCH") else None)
    assert response.status_code == 403
    assert response.mimetype == PROBLEM
    assert response.get_json()["title"] == "Access Denied"


def test_create_shows_the_secret_once_and_never_its_hash(app, client, admin):
    created = create(admin, postLogoutRedirectUris=["https://billing.example.com/bye"], scope="openid email",
                     skipConsent=True, tokenEndpointAuthMethod="client_secret_post")
    assert set(created) == CLIENT_KEYS | {"clientSecret"}
    assert created["tokenEndpointAuthMethod"] == "client_secret_post" and created["public"] is False
    secret = created["clientSecret"]
    shown = admin.get(f"{CLIENTS}/{created['clientId']}")
    assert set(shown.get_json()) == CLIENT_KEYS
    listing = admin.get(CLIENTS)
    for text in (shown.text, listing.text):
        assert secret not in text and secret_digest(secret) not in text
    [event] = audit_events(app)
    assert (event.action, event.actor_user_id, event.target_type, event.target_id) == (
        "client.create", admin.user.id, "client", created["clientId"])
    assert event.after["redirectUris"] == [CALLBACK] and event.after["scope"] == "openid email"
    assert secret not in json.dumps(event.after) and secret_digest(secret) not in json.dumps(event.after)


def test_a_public_client_has_no_secret(admin):
    created = create(admin, tokenEndpointAuthMethod="none")
    assert created["public"] is True and created["clientSecret"] is None
    assert admin.send("POST", f"{CLIENTS}/{created['clientId']}/secret").status_code == 400


@pytest.mark.parametrize("fields, field", [
    ({"redirectUris": ["https://app.example.com/cb#frag"]}, "redirectUris"),
    ({"redirectUris": ["javascript:alert(1)"]}, "redirectUris"),
    ({"redirectUris": ["http://app.example.com/cb"], "postLogoutRedirectUris": ["/relative"]},
     "postLogoutRedirectUris"),
    ({"redirectUris": []}, "redirectUris"),
    ({"grantTypes": ["password"]}, "grantTypes"),
    ({"scope": "openid \"quoted\""}, "scope"),
    ({"permissions": ["users:read"]}, "permissions"),
    ({"tokenEndpointAuthMethod": "none", "introspect": True}, "introspect"),
    ({"tokenEndpointAuthMethod": "tls_client_auth"}, "tokenEndpointAuthMethod"),
    ({"colour": "red"}, "colour"),
    ({"name": "x" * 201}, "name"),
    ({"redirectUris": ["https://a.example.com/" + "a" * 5000]}, "redirectUris.0"),
    ({"redirectUris": [f"https://a.example.com/{n}" for n in range(51)]}, "redirectUris"),
], ids=["fragment", "javascript", "relative-logout", "none", "grant", "scope", "permissions-not-service",
        "public-introspect", "auth-method", "unknown-field", "long-name", "huge-uri", "too-many-uris"])
def test_bad_registrations_name_the_field(app, admin, fields, field):
    response = admin.send("POST", CLIENTS, json={"name": "Billing", "redirectUris": [CALLBACK], **fields})
    assert response.status_code in (400, 422), response.text
    assert response.mimetype == PROBLEM
    assert field in response.get_json()["errors"]
    assert audit_events(app) == []
    assert admin.get(CLIENTS).get_json()["items"] == []


def test_nul_in_a_name_is_refused(admin):
    response = admin.send("POST", CLIENTS, json={"name": "Bil\u0000ling", "redirectUris": [CALLBACK]})
    assert response.status_code == 400
    assert response.mimetype == PROBLEM


def test_update_every_field_with_its_audit_event(app, admin):
    created = create(admin)
    changes = {"name": "Billing 2", "redirectUris": ["https://b.example.com/cb", "com.example.app:/cb"],
               "postLogoutRedirectUris": ["https://b.example.com/bye"], "grantTypes": ["authorization_code"],
               "scope": "openid email", "tokenEndpointAuthMethod": "client_secret_post", "skipConsent": True,
               "introspect": True}
    response = admin.send("PATCH", f"{CLIENTS}/{created['clientId']}", json=changes)
    assert response.status_code == 200, response.text
    body = response.get_json()
    for key, value in changes.items():
        assert body[key] == value, key
    event = audit_events(app)[-1]
    assert event.action == "client.update"
    assert event.before["name"] == "Billing" and event.after["name"] == "Billing 2"
    assert event.after["tokenEndpointAuthMethod"] == "client_secret_post"
    refused = admin.send("PATCH", f"{CLIENTS}/{created['clientId']}", json={"tokenEndpointAuthMethod": "none"})
    assert refused.status_code == 400 and "tokenEndpointAuthMethod" in refused.get_json()["errors"]
    bad = admin.send("PATCH", f"{CLIENTS}/{created['clientId']}", json={"redirectUris": ["https://x.example.com/#a"]})
    assert bad.status_code == 400 and "redirectUris" in bad.get_json()["errors"]
    assert admin.get(f"{CLIENTS}/{created['clientId']}").get_json()["redirectUris"] == changes["redirectUris"]
    assert len(audit_events(app)) == 2


def test_unknown_clients_are_404(admin):
    for path in (f"{CLIENTS}/00000000-0000-0000-0000-000000000000", f"{CLIENTS}/nope", f"{CLIENTS}/{'x' * 65}"):
        assert admin.get(path).status_code == 404
        assert admin.send("DELETE", path).status_code == 404
        assert admin.send("POST", f"{path}/secret").status_code == 404
        assert admin.send("PATCH", path, json={"name": "x"}).status_code == 404


def test_a_service_account_holds_only_what_its_creator_holds(app, client, admin):
    service = {"name": "Reports", "redirectUris": [], "grantTypes": ["client_credentials"], "scope": "admin"}
    refused = admin.send("POST", CLIENTS, json={**service, "permissions": ["users:read", "keys:read"]})
    assert refused.status_code == 403
    assert refused.get_json()["title"] == "Access Denied" and "keys:read" in refused.get_json()["detail"]
    created = create(admin, **service, permissions=["clients:read"])
    assert created["permissions"] == ["clients:read"]
    token = token_request(client, as_app(created), grant_type="client_credentials", scope="admin")
    access = token.get_json()["access_token"]
    assert client.get(CLIENTS, headers=bearer(access)).status_code == 200
    assert client.get("/api/v1/admin/audit", headers=bearer(access)).status_code == 403
    path = f"{CLIENTS}/{created['clientId']}"
    assert admin.send("PATCH", path, json={"permissions": ["keys:write"]}).status_code == 403
    emptied = admin.send("PATCH", path, json={"permissions": []})
    assert emptied.get_json()["permissions"] == []
    assert client.get(CLIENTS, headers=bearer(access)).status_code == 403
    assert [event.action for event in audit_events(app, "client.create", "client.update")] == [
        "client.create", "client.update"]


@pytest.mark.parametrize("method, suffix, body", [
    ("POST", "/secret", None),
    ("PATCH", "", {"name": "Mine now"}),
    ("PATCH", "", {"permissions": ["keys:read", "keys:write", "users:read"]}),
    ("DELETE", "", None),
], ids=["rotate-secret", "rename", "keep-permissions", "delete"])
def test_an_application_holding_more_than_the_caller_is_out_of_reach(app, client, admin, browser_as, method,
                                                                     suffix, body):
    """Whoever rotates a service account's secret can act as it: an admin (no keys:*) must not
    reach one that a superAdmin gave keys:write."""
    service = {"name": "Key bot", "redirectUris": [], "grantTypes": ["client_credentials"], "scope": "admin"}
    created = create(browser_as("superAdmin"), **service, permissions=["keys:read", "keys:write"])
    path = f"{CLIENTS}/{created['clientId']}"
    response = admin.send(method, path + suffix, json=body)
    assert response.status_code == 403, response.text
    assert response.get_json()["title"] == "Access Denied" and "keys:" in response.get_json()["detail"]
    assert "clientSecret" not in response.get_json()
    assert token_request(client, as_app(created), grant_type="client_credentials", scope="admin").status_code == 200
    unchanged = admin.get(path).get_json()
    assert (unchanged["name"], unchanged["permissions"]) == ("Key bot", ["keys:read", "keys:write"])
    assert [event.action for event in audit_events(app, "client.update", "client.secret.rotate", "client.delete")] == []


def test_a_rotated_secret_works_and_the_old_one_fails(app, client, admin):
    created = create(admin, redirectUris=[], grantTypes=["client_credentials"], scope="reports")
    old = as_app(created)
    response = admin.send("POST", f"{CLIENTS}/{created['clientId']}/secret")
    assert response.status_code == 200
    rotated = response.get_json()
    assert rotated["clientSecret"] and rotated["clientSecret"] != old.client_secret
    assert token_request(client, old, grant_type="client_credentials").status_code == 401
    new = as_app(rotated)
    assert token_request(client, new, grant_type="client_credentials").status_code == 200
    event = audit_events(app)[-1]
    assert (event.action, event.target_id, event.before, event.after) == (
        "client.secret.rotate", created["clientId"], None, None)


def test_deleting_a_client_stops_its_tokens_at_once(app, client, admin, make_client, user, signed_in):
    created = create(admin, skipConsent=True)
    application = as_app(created)
    tokens = grant_tokens(signed_in, application)
    resource_server = make_client(redirect_uris=(), grant_types=["client_credentials"], introspect=True)
    assert introspect(client, resource_server, tokens["access_token"])["active"] is True
    assert client.get("/oauth/userinfo", headers=bearer(tokens["access_token"])).status_code == 200
    assert admin.send("DELETE", f"{CLIENTS}/{created['clientId']}").status_code == 204
    assert introspect(client, resource_server, tokens["access_token"]) == {"active": False}
    assert client.get("/oauth/userinfo", headers=bearer(tokens["access_token"])).status_code == 401
    assert token_request(client, application, grant_type="refresh_token",
                         refresh_token=tokens["refresh_token"]).status_code == 401
    assert admin.get(f"{CLIENTS}/{created['clientId']}").status_code == 404
    event = audit_events(app, "client.delete")[0]
    assert event.actor_user_id == admin.user.id and event.before["name"] == "Billing" and event.after is None


def test_the_cli_and_the_api_share_the_service(app, admin):
    cli = app.test_cli_runner()
    result = cli.invoke(args=["clients", "create", "--name", "From CLI", "--redirect-uri", CALLBACK, "--json"])
    assert result.exit_code == 0, result.output
    client_id = json.loads(result.output)["client_id"]
    assert admin.get(f"{CLIENTS}/{client_id}").get_json()["name"] == "From CLI"
    assert admin.send("PATCH", f"{CLIENTS}/{client_id}", json={"name": "From API"}).status_code == 200
    shown = cli.invoke(args=["clients", "show", client_id, "--json"])
    assert json.loads(shown.output)["name"] == "From API"
    refused = cli.invoke(args=["clients", "update", client_id, "--redirect-uri", "https://x.example.com/#f"])
    assert refused.exit_code != 0 and "fragment" in refused.output
    assert cli.invoke(args=["clients", "rotate-secret", client_id]).exit_code == 0
    assert cli.invoke(args=["clients", "delete", client_id]).exit_code == 0
    events = audit_events(app)
    assert [(event.action, event.actor_user_id) for event in events] == [
        ("client.create", None), ("client.update", admin.user.id), ("client.secret.rotate", None),
        ("client.delete", None)]
    operator = [event for event in events if event.actor_user_id is None]
    assert all(event.actor_client_id is None and event.ip_address is None for event in operator)


def test_a_users_grants_listed_and_revoked(app, client, admin, make_client, user, signed_in):
    application = make_client(name="Photos")
    tokens = grant_tokens(signed_in, application, scope="openid email")
    grants = f"/api/v1/admin/users/{user.id}/grants"
    listed = admin.get(grants)
    assert listed.status_code == 200
    [grant] = listed.get_json()["items"]
    assert set(grant) == {"clientId", "name", "scope", "grantedAt"}
    assert (grant["clientId"], grant["name"]) == (application.client_id, "Photos")
    assert grant["scope"] == ["openid", "email"]
    assert client.get("/oauth/userinfo", headers=bearer(tokens["access_token"])).status_code == 200
    assert admin.send("DELETE", f"{grants}/{application.client_id}").status_code == 204
    assert client.get("/oauth/userinfo", headers=bearer(tokens["access_token"])).status_code == 401
    assert admin.get(grants).get_json()["items"] == []
    assert admin.send("DELETE", f"{grants}/{application.client_id}").status_code == 404
    [event] = audit_events(app, "user.grant.revoke")
    assert (event.action, event.actor_user_id, event.target_id) == ("user.grant.revoke", admin.user.id, str(user.id))
    assert event.before == {"clientId": application.client_id, "scope": "openid email"}


def test_a_superadmins_grants_are_out_of_an_admins_reach(app, client, admin, make_client, browser_as):
    application = make_client(name="Photos")
    superadmin = browser_as("superAdmin")
    tokens = grant_tokens(superadmin.http, application, scope="openid email")
    path = f"/api/v1/admin/users/{superadmin.user.id}/grants/{application.client_id}"
    refused = admin.send("DELETE", path)
    assert refused.status_code == 403 and refused.get_json()["title"] == "Access Denied"
    assert client.get("/oauth/userinfo", headers=bearer(tokens["access_token"])).status_code == 200
    assert audit_events(app, "user.grant.revoke") == []
    assert browser_as("superAdmin").send("DELETE", path).status_code == 204
    assert client.get("/oauth/userinfo", headers=bearer(tokens["access_token"])).status_code == 401


def test_grants_of_unknown_users_are_404(admin):
    assert admin.get("/api/v1/admin/users/00000000-0000-0000-0000-000000000000/grants").status_code == 404
    assert admin.get("/api/v1/admin/users/not-a-uuid/grants").status_code == 404


def test_the_routes_are_in_openapi(client):
    paths = client.get("/openapi.json").get_json()["paths"]
    assert set(paths[CLIENTS]) == {"get", "post"}
    assert set(paths[f"{CLIENTS}/{{client_id}}"]) == {"get", "patch", "delete"}
    assert set(paths[f"{CLIENTS}/{{client_id}}/secret"]) == {"post"}
    assert set(paths["/api/v1/admin/users/{user_id}/grants"]) == {"get"}
    assert set(paths["/api/v1/admin/users/{user_id}/grants/{client_id}"]) == {"delete"}


@pytest.mark.parametrize("change", [
    {"redirectUris": ["https://attacker.example.com/callback"]},
    {"skipConsent": True},
    None,  # rotate the secret
], ids=["redirect", "skip-consent", "rotate-secret"])
def test_an_application_users_sign_in_through_with_the_admin_scope_is_for_those_holding_everything(
        app, admin, browser_as, change):
    """Its tokens carry the permissions of whoever signs in (a superAdmin too): an admin who could
    register it, point it at their own URL or take its secret would collect them."""
    refused = admin.send("POST", CLIENTS, json={"name": "Console", "redirectUris": [CALLBACK],
                                                "scope": "openid admin"})
    assert refused.status_code == 403 and refused.get_json()["title"] == "Access Denied"
    created = create(browser_as("superAdmin"), scope="openid admin")
    path = f"{CLIENTS}/{created['clientId']}"
    response = (admin.send("PATCH", path, json=change) if change else admin.send("POST", f"{path}/secret"))
    assert response.status_code == 403 and response.get_json()["title"] == "Access Denied"
    assert admin.get(path).get_json()["redirectUris"] == [CALLBACK]
    # Adding the scope to an application the admin may change is refused the same way.
    own = create(admin, scope="openid profile")
    widened = admin.send("PATCH", f"{CLIENTS}/{own['clientId']}", json={"scope": "openid admin"})
    assert widened.status_code == 403
    # A service account (client credentials only) reaches nobody through users: its own permissions bound it.
    assert create(admin, redirectUris=[], grantTypes=["client_credentials"], scope="admin")["scope"] == "admin"


# --- the relying-party registration fields (OpenID Connect Registration §2) ------------------------------

def _public_jwks() -> dict:
    from joserfc.jwk import RSAKey
    return {"keys": [RSAKey.generate_key(2048, parameters={"kid": "rp-1"}).as_dict(private=False)]}


def test_every_registration_field_in_camel_case_with_its_audit_event(app, admin):
    jwks = _public_jwks()
    fields = {"tokenEndpointAuthMethod": "private_key_jwt", "jwks": jwks, "tokenEndpointAuthSigningAlg": "PS256",
              "requestUris": ["https://billing.example.com/r.jwt"], "requestObjectSigningAlg": "ES256",
              "userinfoSignedResponseAlg": "RS256", "backchannelLogoutUri": "https://billing.example.com/back",
              "backchannelLogoutSessionRequired": True, "frontchannelLogoutUri": "https://billing.example.com/front",
              "frontchannelLogoutSessionRequired": True, "postLogoutRedirectUris": ["https://billing.example.com/bye"]}
    created = create(admin, **fields)
    assert created["clientSecret"] is None and created["jwksUri"] is None
    shown = admin.get(f"{CLIENTS}/{created['clientId']}").get_json()
    for key, value in fields.items():
        assert shown[key] == value, key
    [event] = audit_events(app)
    assert event.after["jwks"] == jwks and event.after["backchannelLogoutUri"] == fields["backchannelLogoutUri"]
    # null clears an optional value; a field left out stays
    patched = admin.send("PATCH", f"{CLIENTS}/{created['clientId']}",
                         json={"frontchannelLogoutUri": None, "frontchannelLogoutSessionRequired": False,
                               "requestObjectSigningAlg": None})
    assert patched.status_code == 200, patched.text
    body = patched.get_json()
    assert (body["frontchannelLogoutUri"], body["requestObjectSigningAlg"], body["clientSecret"]) == (None, None, None)
    assert body["backchannelLogoutUri"] == fields["backchannelLogoutUri"] and body["jwks"] == jwks
    event = audit_events(app)[-1]
    assert event.before["frontchannelLogoutUri"] == fields["frontchannelLogoutUri"]
    assert event.after["frontchannelLogoutUri"] is None


@pytest.mark.parametrize("fields, field", [
    ({"tokenEndpointAuthMethod": "private_key_jwt"}, "jwks"),
    ({"jwks": {"keys": [{"kty": "oct", "k": "c2VjcmV0"}]}}, "jwks"),
    ({"jwks": {"keys": "nope"}}, "jwks"),
    ({"jwks": "JWKS", "jwksUri": "https://billing.example.com/jwks"}, "jwksUri"),
    ({"jwksUri": "ftp://billing.example.com/jwks"}, "jwksUri"),
    ({"requestUris": ["javascript:alert(1)"]}, "requestUris"),
    ({"requestObjectSigningAlg": "HS256"}, "requestObjectSigningAlg"),
    ({"tokenEndpointAuthSigningAlg": "RS256"}, "tokenEndpointAuthSigningAlg"),
    ({"tokenEndpointAuthMethod": "client_secret_jwt", "tokenEndpointAuthSigningAlg": "none"},
     "tokenEndpointAuthSigningAlg"),
    ({"userinfoSignedResponseAlg": "none"}, "userinfoSignedResponseAlg"),
    ({"backchannelLogoutUri": "https://billing.example.com/b#f"}, "backchannelLogoutUri"),
    ({"backchannelLogoutUri": "https://billing.example.com:99999/b"}, "backchannelLogoutUri"),
    ({"frontchannelLogoutUri": "https://elsewhere.example.com/f"}, "frontchannelLogoutUri"),
    ({"backchannelLogoutSessionRequired": True}, "backchannelLogoutSessionRequired"),
    ({"frontchannelLogoutSessionRequired": True}, "frontchannelLogoutSessionRequired"),
    ({"requestObjectSigningAlg": "x" * 17}, "requestObjectSigningAlg"),
], ids=["pkjwt-without-keys", "private-key", "keys-not-a-list", "both-key-sources", "jwks-uri-scheme",
        "request-uri", "request-object-hmac", "assertion-alg-for-secret-client", "assertion-alg-none",
        "userinfo-alg-none", "backchannel-fragment", "backchannel-port", "frontchannel-origin",
        "backchannel-session-alone", "frontchannel-session-alone", "long-alg"])
def test_bad_registration_fields_name_the_field(app, admin, fields, field):
    if fields.get("jwks") == "JWKS":
        fields = {**fields, "jwks": _public_jwks()}
    response = admin.send("POST", CLIENTS, json={"name": "Billing", "redirectUris": [CALLBACK], **fields})
    assert response.status_code in (400, 422), response.text
    assert response.mimetype == PROBLEM
    assert field in response.get_json()["errors"], response.get_json()
    assert audit_events(app) == []


def test_switching_to_client_secret_jwt_answers_the_new_secret_once(app, admin):
    created = create(admin, grantTypes=["client_credentials"], redirectUris=[])
    switched = admin.send("PATCH", f"{CLIENTS}/{created['clientId']}",
                          json={"tokenEndpointAuthMethod": "client_secret_jwt", "tokenEndpointAuthSigningAlg": "HS512"})
    assert switched.status_code == 200, switched.text
    body = switched.get_json()
    assert body["clientSecret"] and body["clientSecret"] != created["clientSecret"]
    assert body["tokenEndpointAuthSigningAlg"] == "HS512"
    assert body["clientSecret"] not in admin.get(f"{CLIENTS}/{created['clientId']}").text
    event = audit_events(app)[-1]
    assert event.after["secretIssued"] is True and body["clientSecret"] not in json.dumps(event.after)
    rotated = admin.send("POST", f"{CLIENTS}/{created['clientId']}/secret")
    assert rotated.status_code == 200 and rotated.get_json()["clientSecret"] != body["clientSecret"]
