"""The admin API's signing keys: who may list, rotate and revoke; a revoked key leaves the JWKS at
once and its tokens stop verifying; every change one audit event; never any private material."""

import json
from datetime import timedelta

import pytest

from ..helpers import audit_events
from ..helpers import bearer
from ..helpers import claims_of
from ..helpers import grant_tokens

KEYS = "/api/v1/admin/keys"
PROBLEM = "application/problem+json"
KEY_FIELDS = {"kid", "alg", "state", "createdAt", "publishedAt", "activatedAt", "retiredAt", "removeAfter"}


def jwks_kids(client):
    return [key["kid"] for key in client.get("/.well-known/jwks.json").get_json()["keys"]]


def states(browser):
    return {key["kid"]: key["state"] for key in browser.get(KEYS).get_json()["items"]}


@pytest.fixture
def keeper(browser_as):
    return browser_as("superAdmin")


def test_no_caller_is_401(client):
    assert client.get(KEYS).status_code == 401
    assert client.post(f"{KEYS}/rotate").status_code == 401


@pytest.mark.parametrize("role", ["admin", "user"])
@pytest.mark.parametrize("method, path, permission", [
    ("GET", KEYS, "keys:read"), ("POST", f"{KEYS}/rotate", "keys:write"), ("POST", f"{KEYS}/abc/revoke", "keys:write"),
], ids=["list", "rotate", "revoke"])
def test_admin_and_users_are_denied(app, browser_as, role, method, path, permission):
    browser = browser_as(role)
    before = states(browser_as("superAdmin"))
    response = browser.send(method, path)
    assert response.status_code == 403
    assert response.mimetype == PROBLEM
    assert response.get_json()["title"] == "Access Denied"
    assert permission in response.get_json()["detail"]
    assert states(browser_as("superAdmin")) == before
    assert audit_events(app, "key.rotate", "key.revoke") == []


def test_the_list_shows_states_and_no_private_material(client, keeper):
    response = keeper.get(KEYS)
    assert response.status_code == 200
    [key] = response.get_json()["items"]
    assert set(key) == KEY_FIELDS
    assert key["state"] == "current" and key["alg"] == "RS256" and key["activatedAt"]
    assert key["kid"] in jwks_kids(client)
    for member in ('"d"', '"p"', '"q"', '"dp"', '"dq"', '"qi"', '"privateJwe"', '"n"'):
        assert member not in response.text  # no key material at all, private or public


def test_rotate_now_keeps_the_old_key_verifying(app, client, keeper, make_client, user, signed_in):
    application = make_client(skip_consent=True)
    token = grant_tokens(signed_in, application)["access_token"]
    old_kid = claims_of(token)[0]["kid"]
    response = keeper.send("POST", f"{KEYS}/rotate")
    assert response.status_code == 200
    new = response.get_json()
    assert new["state"] == "current" and new["kid"] != old_kid
    assert states(keeper) == {new["kid"]: "current", old_kid: "retired"}
    assert set(jwks_kids(client)) == {new["kid"], old_kid}
    assert client.get("/oauth/userinfo", headers=bearer(token)).status_code == 200
    fresh = grant_tokens(signed_in, application)["access_token"]
    assert claims_of(fresh)[0]["kid"] == new["kid"]
    [event] = audit_events(app, "key.rotate")
    assert (event.actor_user_id, event.target_type, event.target_id) == (keeper.user.id, "key", new["kid"])
    assert event.before == {old_kid: "current"} and event.after == {old_kid: "retired", new["kid"]: "current"}


def test_rotate_now_signs_with_the_pre_published_key(make_app, clock, browser_as):
    app = make_app()
    [current] = jwks_kids(app.test_client())
    clock.shift(timedelta(days=30) - timedelta(seconds=3600) + timedelta(seconds=1))
    keeper = browser_as("superAdmin")
    published = states(keeper)  # a request took the due step: the next key is published
    [upcoming] = [kid for kid, state in published.items() if state == "next"]
    assert upcoming in jwks_kids(app.test_client())
    assert keeper.send("POST", f"{KEYS}/rotate").get_json()["kid"] == upcoming
    assert states(keeper) == {upcoming: "current", current: "retired"}


def test_revoking_the_current_key_removes_it_and_its_tokens(app, client, keeper, make_client, user, signed_in):
    application = make_client(skip_consent=True)
    token = grant_tokens(signed_in, application)["access_token"]
    kid = claims_of(token)[0]["kid"]
    assert client.get("/oauth/userinfo", headers=bearer(token)).status_code == 200
    response = keeper.send("POST", f"{KEYS}/{kid}/revoke")
    assert response.status_code == 200
    assert response.get_json()["state"] == "removed"
    assert kid not in jwks_kids(client)
    assert client.get("/oauth/userinfo", headers=bearer(token)).status_code == 401
    assert client.get(f"/publickey?keyId={kid}").status_code == 404
    after = states(keeper)
    [signing] = [other for other, state in after.items() if state == "current"]
    assert signing != kid and after[kid] == "removed"
    fresh = grant_tokens(signed_in, application)["access_token"]
    assert claims_of(fresh)[0]["kid"] == signing
    assert client.get("/oauth/userinfo", headers=bearer(fresh)).status_code == 200
    [event] = audit_events(app, "key.revoke")
    assert (event.actor_user_id, event.target_id) == (keeper.user.id, kid)
    assert event.before == {kid: "current"} and event.after == {kid: "removed", signing: "current"}
    assert "private" not in json.dumps(event.after) and "d" not in event.after


def test_revoking_a_retired_key(app, client, keeper, make_client, user, signed_in):
    application = make_client(skip_consent=True)
    token = grant_tokens(signed_in, application)["access_token"]
    old = claims_of(token)[0]["kid"]
    keeper.send("POST", f"{KEYS}/rotate")
    assert client.get("/oauth/userinfo", headers=bearer(token)).status_code == 200
    assert keeper.send("POST", f"{KEYS}/{old}/revoke").status_code == 200
    assert old not in jwks_kids(client)
    assert client.get("/oauth/userinfo", headers=bearer(token)).status_code == 401
    assert keeper.send("POST", f"{KEYS}/{old}/revoke").status_code == 404  # already out of the ring


@pytest.mark.parametrize("kid", ["unknown", "x" * 65, "a%00b", "' OR 1=1 --"])
def test_unknown_kids_are_404(keeper, kid):
    response = keeper.send("POST", f"{KEYS}/{kid}/revoke")
    assert response.status_code in (400, 404)
    assert response.mimetype == PROBLEM


def test_the_cli_records_its_rotation_too(app, keeper):
    result = app.test_cli_runner().invoke(args=["keys", "rotate", "--json"])
    assert result.exit_code == 0, result.output
    [event] = audit_events(app, "key.rotate")
    assert event.actor_user_id is None and event.target_id == json.loads(result.output)["kid"]


def test_the_routes_are_in_openapi(client):
    paths = client.get("/openapi.json").get_json()["paths"]
    assert set(paths[KEYS]) == {"get"}
    assert set(paths[f"{KEYS}/rotate"]) == {"post"}
    assert set(paths[f"{KEYS}/{{kid}}/revoke"]) == {"post"}
