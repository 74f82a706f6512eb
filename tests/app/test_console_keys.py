"""The console's signing keys: the ring with its dates for keys:read, rotation and revocation (after
a page saying what it breaks) for keys:write, through the same functions as the admin API."""

import re

import pytest

from app.services import audit
from app.services import rbac

from ..helpers import audit_events

KEYS = "/admin/keys"


def jwks_kids(client):
    return [key["kid"] for key in client.get("/.well-known/jwks.json").get_json()["keys"]]


def rows(page) -> dict[str, str]:
    """Each key's state, by kid, as the table shows it."""
    return dict(re.findall(r'<tr data-kid="([^"]+)">\s*<th scope="row"><code>[^<]+</code></th>\s*<td>(\w+)</td>',
                           page.text))


@pytest.fixture
def keeper(browser_as):
    return browser_as("superAdmin")


def test_no_session_goes_to_the_sign_in_page(client):
    response = client.get(KEYS)
    assert response.status_code == 302
    assert response.headers["Location"] == f"/login?next={KEYS}"


@pytest.mark.parametrize("role", ["user", "admin"])
@pytest.mark.parametrize("method, path", [
    ("GET", KEYS), ("POST", f"{KEYS}/rotate"), ("GET", f"{KEYS}/abc/revoke"), ("POST", f"{KEYS}/abc/revoke"),
], ids=["list", "rotate", "confirm", "revoke"])
def test_without_the_permission_the_403_page(app, browser_as, role, method, path):
    browser = browser_as(role)
    response = browser.http.open(path, method=method, data={"csrf_token": browser.token})
    assert response.status_code == 403
    assert response.mimetype == "text/html"
    assert audit_events(app, "key.rotate", "key.revoke") == []
    assert 'href="/admin/keys"' not in browser.get("/account").text


def test_the_ring_with_its_dates_and_the_next_rotation(client, keeper):
    page = keeper.get(KEYS)
    assert page.status_code == 200
    [kid] = jwks_kids(client)
    assert rows(page) == {kid: "current"}
    assert "RS256" in page.text
    assert "Next automatic rotation: <time" in page.text
    assert 'aria-current="page">Signing keys</a>' in page.text
    assert "Rotate now" in page.text and f"{KEYS}/{kid}/revoke" in page.text
    for member in ('"d"', "private_jwe", "privateJwe"):
        assert member not in page.text


def test_a_reader_sees_the_ring_without_the_actions(app, browser_as):
    with app.app_context():
        rbac.create_role(audit.Actor.system(), frozenset({"keys:read"}), "keyReader", permissions={"keys:read"})
    reader = browser_as("keyReader")
    page = reader.get(KEYS)
    assert page.status_code == 200
    assert "Rotate now" not in page.text and "/revoke" not in page.text
    assert reader.http.post(f"{KEYS}/rotate", data={"csrf_token": reader.token}).status_code == 403
    assert reader.get(f"{KEYS}/abc/revoke").status_code == 403


def test_rotate_now_makes_a_new_key_sign(app, client, keeper):
    [old] = jwks_kids(client)
    response = keeper.http.post(f"{KEYS}/rotate", data={"csrf_token": keeper.token})
    assert response.status_code == 303 and response.headers["Location"] == KEYS
    page = keeper.get(KEYS)
    states = rows(page)
    assert states[old] == "retired"
    [new] = [kid for kid, state in states.items() if state == "current"]
    assert f"Key {new} (RS256) signs from now on." in page.text
    assert set(jwks_kids(client)) == {old, new}
    [event] = audit_events(app, "key.rotate")
    assert event.actor_user_id == keeper.user.id and event.target_id == new


def test_rotate_without_the_csrf_token_is_400(app, client, keeper):
    before = jwks_kids(client)
    assert keeper.http.post(f"{KEYS}/rotate").status_code == 400
    assert keeper.http.post(f"{KEYS}/rotate", data={"csrf_token": "forged"}).status_code == 400
    assert jwks_kids(client) == before
    assert audit_events(app, "key.rotate") == []


def test_revoke_asks_first_and_says_what_it_breaks(client, keeper):
    [kid] = jwks_kids(client)
    page = keeper.get(f"{KEYS}/{kid}/revoke")
    assert page.status_code == 200
    assert "stops validating" in page.text and "ID tokens" in page.text
    assert "This key signs now" in page.text
    assert 'name="csrf_token"' in page.text
    assert jwks_kids(client) == [kid]  # asking changes nothing


def test_revoke_takes_the_key_out_and_another_signs(app, client, keeper):
    [kid] = jwks_kids(client)
    response = keeper.http.post(f"{KEYS}/{kid}/revoke", data={"csrf_token": keeper.token})
    assert response.status_code == 303
    page = keeper.get(KEYS)
    assert f"Key {kid} was revoked" in page.text
    states = rows(page)
    assert states[kid] == "removed"
    assert kid not in jwks_kids(client)
    assert list(states.values()).count("current") == 1
    assert [event.target_id for event in audit_events(app, "key.revoke")] == [kid]
    # A removed key cannot be revoked again: no page, no change.
    assert keeper.get(f"{KEYS}/{kid}/revoke").status_code == 404
    assert keeper.http.post(f"{KEYS}/{kid}/revoke", data={"csrf_token": keeper.token}).status_code == 404


def test_revoke_without_the_csrf_token_is_400(app, client, keeper):
    [kid] = jwks_kids(client)
    assert keeper.http.post(f"{KEYS}/{kid}/revoke").status_code == 400
    assert jwks_kids(client) == [kid]
    assert audit_events(app, "key.revoke") == []


@pytest.mark.parametrize("kid", ["no-such-key", "x" * 65])
def test_an_unknown_key_is_404(keeper, kid):
    response = keeper.get(f"{KEYS}/{kid}/revoke")
    assert response.status_code == 404
    assert response.mimetype == "text/html"
    assert keeper.http.post(f"{KEYS}/{kid}/revoke", data={"csrf_token": keeper.token}).status_code == 404


def test_the_dashboard_shows_the_key_age_to_key_readers_only(browser_as):
    figures = dict(re.findall(r"<dt>([^<]+)</dt><dd>([^<]+)</dd>", browser_as("superAdmin").get("/admin").text))
    assert figures["Signing key age"] == "0 days"
    figures = dict(re.findall(r"<dt>([^<]+)</dt><dd>([^<]+)</dd>", browser_as("admin").get("/admin").text))
    assert "Signing key age" not in figures


def test_the_next_rotation_is_the_end_of_the_period_or_the_next_keys_lead():
    from datetime import datetime
    from datetime import timedelta
    from datetime import timezone
    from types import SimpleNamespace

    from keys import rotation

    start = datetime(2026, 1, 1, tzinfo=timezone.utc)
    schedule = rotation.Schedule(alg="RS256", period=timedelta(days=30), lead=timedelta(days=1),
                                 retention=timedelta(hours=1))
    current = SimpleNamespace(alg="RS256", state="current", activated_at=start, published_at=start)
    assert rotation.next_rotation_at([current], schedule) == start + timedelta(days=30)
    early = SimpleNamespace(alg="RS256", state="next", activated_at=None, published_at=start + timedelta(days=29))
    assert rotation.next_rotation_at([current, early], schedule) == start + timedelta(days=30)
    late = SimpleNamespace(alg="RS256", state="next", activated_at=None, published_at=start + timedelta(days=40))
    assert rotation.next_rotation_at([current, late], schedule) == start + timedelta(days=41)
    assert rotation.next_rotation_at([], schedule) is None
