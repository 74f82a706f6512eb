"""The console's applications: the list and one registration for clients:read; registering,
changing, a new secret (shown once) and deletion for clients:write, through oauth/clients.py as the
admin API; a refusal re-renders the form with the field's error (400), never a 500."""

import html
import re

import pytest
from sqlalchemy import select

from app.extensions import db
from oauth import clients
from oauth.models import Application
from oauth.models import secret_digest

from ..helpers import audit_events

APPS = "/admin/applications"
CALLBACK = "https://billing.example.com/callback"


def form(browser, **fields) -> dict:
    """A registration form as the browser posts it: the defaults a new form shows, then ``fields``."""
    data = {"csrf_token": browser.token, "name": "Billing", "token_endpoint_auth_method": "client_secret_basic",
            "grant_types": ["authorization_code", "refresh_token"], "redirect_uris": CALLBACK,
            "scope": "openid profile email"}
    data.update(fields)
    return {name: value for name, value in data.items() if value is not None}


def secret_on(page) -> str | None:
    found = re.search(r'<code id="client-secret" class="secret-value">([^<]+)</code>', page.text)
    return found.group(1) if found else None


def field_errors(page, name: str) -> list[str]:
    found = re.search(rf'<ul class="field-errors" id="{name}-errors">(.*?)</ul>', page.text, re.S)
    return [html.unescape(error) for error in re.findall(r"<li>([^<]+)</li>", found.group(1))] if found else []


def stored(app, client_id) -> Application | None:
    with app.app_context():
        return db.session.scalar(select(Application).where(Application.client_id == client_id))


@pytest.fixture
def admin(browser_as):
    return browser_as("admin")


@pytest.fixture
def registered(make_client):
    return make_client(name="Photo Album")


def test_no_session_goes_to_the_sign_in_page(client):
    response = client.get(APPS)
    assert response.status_code == 302
    assert response.headers["Location"] == f"/login?next={APPS}"


@pytest.mark.parametrize("method, path", [
    ("GET", APPS), ("GET", f"{APPS}/new"), ("POST", f"{APPS}/new"), ("GET", f"{APPS}/{{id}}"),
    ("POST", f"{APPS}/{{id}}"), ("POST", f"{APPS}/{{id}}/secret"), ("GET", f"{APPS}/{{id}}/delete"),
    ("POST", f"{APPS}/{{id}}/delete"),
], ids=["list", "new", "create", "show", "update", "secret", "confirm", "delete"])
def test_a_plain_user_gets_the_403_page(app, browser_as, registered, method, path):
    browser = browser_as("user")
    response = browser.http.open(path.format(id=registered.client_id), method=method,
                                 data=form(browser, name="Taken over"))
    assert response.status_code == 403
    assert response.mimetype == "text/html"
    assert stored(app, registered.client_id).name == "Photo Album"
    assert len(audit_events(app, "client.create")) == 1  # the fixture's
    assert audit_events(app, "client.update", "client.secret.rotate", "client.delete") == []


def test_the_list_shows_each_application(admin, registered, make_client):
    make_client(name="Resource Server", redirect_uris=(), grant_types=["client_credentials"])
    page = admin.get(APPS)
    assert page.status_code == 200
    assert 'aria-current="page">Applications</a>' in page.text
    assert page.text.index("Photo Album") < page.text.index("Resource Server")
    assert registered.client_id in page.text
    assert "authorization_code, refresh_token" in page.text and "client_credentials" in page.text
    assert f'href="{APPS}/new"' in page.text


def test_the_list_pages_by_cursor(app, admin, make_client, monkeypatch):
    from oauth import console

    monkeypatch.setattr(console, "PAGE_SIZE", 2)
    names = [f"App {number}" for number in range(5)]
    for name in names:
        make_client(name=name)
    seen, path = [], APPS
    while path:
        page = admin.get(path)
        assert page.status_code == 200
        seen += re.findall(r">(App \d)</a></th>", page.text)
        found = re.search(r'href="([^"]+)" rel="next"', page.text)
        path = found.group(1).replace("&amp;", "&") if found else None
    assert sorted(seen) == names  # each once (rows made in the same instant follow their ids)


@pytest.mark.parametrize("cursor", ["nonsense", "eyJrIjoidXNlcnMiLCJ2IjpbXX0"])
def test_a_bad_cursor_is_400(admin, cursor):
    response = admin.get(f"{APPS}?after={cursor}")
    assert response.status_code == 400
    assert response.mimetype == "text/html"


def test_a_reader_sees_no_write_actions(app, browser_as, registered):
    from app.services import audit
    from app.services import rbac

    with app.app_context():
        rbac.create_role(audit.Actor.system(), frozenset({"clients:read"}), "clientReader",
                         permissions={"clients:read"})
    reader = browser_as("clientReader")
    assert f'href="{APPS}/new"' not in reader.get(APPS).text
    page = reader.get(f"{APPS}/{registered.client_id}")
    assert page.status_code == 200 and "Photo Album" in page.text
    assert "Rotate secret" not in page.text and "Save changes" not in page.text and "/delete" not in page.text
    assert reader.get(f"{APPS}/new").status_code == 403


def test_register_shows_the_secret_once(app, admin):
    page = admin.get(f"{APPS}/new")
    assert page.status_code == 200
    assert 'name="csrf_token"' in page.text and '<label for="name">Name</label>' in page.text
    response = admin.http.post(f"{APPS}/new", data=form(admin, skip_consent="y"))
    assert response.status_code == 200
    secret = secret_on(response)
    assert secret and "shown this once" in response.text
    assert response.headers["Cache-Control"] == "no-store"
    assert 'src="/static/js/copy.js"' in response.text and "<script>" not in response.text
    [event] = audit_events(app, "client.create")
    application = stored(app, event.target_id)
    assert application.name == "Billing" and application.redirect_uris == [CALLBACK] and application.skip_consent
    assert application.owner_id == admin.user.id and event.actor_user_id == admin.user.id
    assert application.client_secret_hash == secret_digest(secret)
    # Never again: neither the application's page nor the list carries it.
    for path in (f"{APPS}/{application.client_id}", APPS):
        again = admin.get(path)
        assert again.status_code == 200
        assert secret not in again.text and secret_on(again) is None


def test_a_public_client_gets_no_secret(app, admin):
    response = admin.http.post(f"{APPS}/new", data=form(admin, token_endpoint_auth_method="none"))
    assert response.status_code == 200
    assert secret_on(response) is None and "without a secret" in response.text
    [event] = audit_events(app, "client.create")
    assert stored(app, event.target_id).is_public


@pytest.mark.parametrize("fields, field, message", [
    ({"name": ""}, "name", "This field is required."),
    ({"redirect_uris": "http://billing.example.com/callback#x"}, "redirect_uris", "must not contain a fragment"),
    ({"redirect_uris": ""}, "redirect_uris", "needs at least one redirect URI"),
    ({"grant_types": ["refresh_token"]}, "grant_types", "refresh_token needs the authorization_code grant"),
    ({"grant_types": None}, "grant_types", "Choose at least one grant type."),
    ({"grant_types": ["implicit"]}, "grant_types", "'implicit' is not a valid choice"),
    ({"scope": "openid \"bad"}, "scope", "is not a valid scope token"),
    ({"jwks": "{not json"}, "jwks", "must be a JSON object"),
    ({"token_endpoint_auth_method": "private_key_jwt"}, "jwks", "private_key_jwt needs the client's public keys"),
    ({"permissions": ["users:read"]}, "permissions", "only a confidential client with the client_credentials"),
    ({"frontchannel_logout_session_required": "y"}, "frontchannel_logout_session_required",
     "needs a frontchannel_logout_uri"),
    ({"jwks": "[" * 50000 + "]" * 50000}, "jwks", "must be a JSON object"),
    ({"jwks": '{"keys": [], "x": "a\\u0000b"}'}, "jwks", "must be a JSON object"),
    ({"redirect_uris": "\n".join(f"https://a.example/{n}" for n in range(51))}, "redirect_uris", "At most 50 URIs"),
    ({"redirect_uris": "https://a.example/" + "x" * 2000}, "redirect_uris", "each at most 2000 characters"),
    ({"request_uris": "\n".join(f"https://a.example/r{n}" for n in range(21))}, "request_uris", "At most 20 URIs"),
], ids=["name", "fragment", "no-redirect", "refresh-alone", "no-grant", "unknown-grant", "scope", "jwks-json",
        "private-key-jwt", "permissions", "frontchannel", "jwks-deep", "jwks-nul", "too-many-uris", "long-uri",
        "too-many-request-uris"])
def test_bad_input_re_renders_the_form_with_the_fields_error(app, admin, fields, field, message):
    response = admin.http.post(f"{APPS}/new", data=form(admin, **fields))
    assert response.status_code == 400
    errors = field_errors(response, field)
    assert any(message in error for error in errors), (errors, response.text[-3000:])
    assert f'aria-describedby="{field}-errors"' in response.text
    assert audit_events(app, "client.create") == []


def test_a_permission_the_admin_lacks_is_refused(app, admin):
    # An admin holds no keys:write: handing it to an application is refused, the form shown again.
    response = admin.http.post(f"{APPS}/new", data=form(
        admin, grant_types=["client_credentials"], redirect_uris="", permissions=["keys:write"]))
    assert response.status_code == 403
    assert "You cannot grant the keys:write permission" in response.text
    assert audit_events(app, "client.create") == []


@pytest.mark.parametrize("suffix", [None, "", "/secret", "/delete"], ids=["create", "update", "secret", "delete"])
@pytest.mark.parametrize("token", [None, "forged"])
def test_a_change_without_the_csrf_token_is_400(app, admin, registered, suffix, token):
    path = f"{APPS}/new" if suffix is None else f"{APPS}/{registered.client_id}{suffix}"
    response = admin.http.post(path, data=form(admin, csrf_token=token, name="Changed"))
    assert response.status_code == 400
    assert response.mimetype == "text/html"
    assert stored(app, registered.client_id).name == "Photo Album"
    assert stored(app, registered.client_id).deleted_at is None
    assert len(audit_events(app, "client.create")) == 1  # the fixture's
    assert audit_events(app, "client.update", "client.secret.rotate", "client.delete") == []


def test_the_page_shows_the_registration_and_its_edit_form(admin, registered):
    page = admin.get(f"{APPS}/{registered.client_id}")
    assert page.status_code == 200
    assert "Photo Album" in page.text and registered.client_id in page.text
    assert 'value="Photo Album"' in page.text
    assert "https://app.example.com/callback</textarea>" in page.text
    assert "Rotate secret" in page.text and f"{APPS}/{registered.client_id}/delete" in page.text


def test_an_edit_changes_every_field_given(app, admin, registered):
    path = f"{APPS}/{registered.client_id}"
    response = admin.http.post(path, data=form(
        admin, name="Photo Album 2", redirect_uris=f"{CALLBACK}\nhttps://billing.example.com/other",
        post_logout_redirect_uris="https://billing.example.com/bye", scope="openid email", introspect="y",
        backchannel_logout_uri="https://billing.example.com/logout", backchannel_logout_session_required="y"))
    assert response.status_code == 303 and response.headers["Location"] == path
    assert "The changes were saved" in admin.get(path).text
    application = stored(app, registered.client_id)
    assert application.name == "Photo Album 2"
    assert application.redirect_uris == [CALLBACK, "https://billing.example.com/other"]
    assert application.post_logout_redirect_uris == ["https://billing.example.com/bye"]
    assert application.scope == "openid email" and application.introspect
    assert application.backchannel_logout_uri == "https://billing.example.com/logout"
    assert application.backchannel_logout_session_required
    [event] = audit_events(app, "client.update")
    assert event.actor_user_id == admin.user.id
    # The secret stayed as it was.
    assert application.client_secret_hash == secret_digest(registered.client_secret)


def test_an_edit_with_bad_input_is_400_and_changes_nothing(app, admin, registered):
    response = admin.http.post(f"{APPS}/{registered.client_id}", data=form(admin, redirect_uris="not a uri"))
    assert response.status_code == 400
    assert any("must be an absolute URI" in error for error in field_errors(response, "redirect_uris"))
    assert 'value="Billing"' in response.text  # what was typed stays in the form
    assert stored(app, registered.client_id).name == "Photo Album"
    assert audit_events(app, "client.update") == []


def test_an_edit_cannot_make_a_confidential_client_public(app, admin, registered):
    response = admin.http.post(f"{APPS}/{registered.client_id}",
                               data=form(admin, token_endpoint_auth_method="none"))
    assert response.status_code == 400
    assert any("cannot change between public and confidential" in error
               for error in field_errors(response, "token_endpoint_auth_method"))


def test_a_switch_to_client_secret_jwt_shows_its_new_secret_once(app, admin, registered):
    response = admin.http.post(f"{APPS}/{registered.client_id}",
                               data=form(admin, token_endpoint_auth_method="client_secret_jwt"))
    assert response.status_code == 200
    secret = secret_on(response)
    assert secret and stored(app, registered.client_id).client_secret_hash == secret_digest(secret)
    assert secret not in admin.get(f"{APPS}/{registered.client_id}").text


def test_rotate_secret_shows_the_new_one_once(app, admin, registered):
    path = f"{APPS}/{registered.client_id}"
    response = admin.http.post(f"{path}/secret", data={"csrf_token": admin.token})
    assert response.status_code == 200
    secret = secret_on(response)
    assert secret and secret != registered.client_secret
    with app.app_context():
        assert clients.get(registered.client_id).client_secret_hash == secret_digest(secret)
    assert [event.target_id for event in audit_events(app, "client.secret.rotate")] == [registered.client_id]
    page = admin.get(path)
    assert secret not in page.text and secret_on(page) is None


def test_a_public_client_has_no_secret_to_rotate(app, admin, make_client):
    public = make_client(public=True)
    page = admin.get(f"{APPS}/{public.client_id}")
    assert "Rotate secret" not in page.text
    response = admin.http.post(f"{APPS}/{public.client_id}/secret", data={"csrf_token": admin.token})
    assert response.status_code == 400
    assert "a public client has no secret" in response.text
    assert audit_events(app, "client.secret.rotate") == []


def test_rotate_without_the_csrf_token_is_400(app, admin, registered):
    assert admin.http.post(f"{APPS}/{registered.client_id}/secret").status_code == 400
    assert audit_events(app, "client.secret.rotate") == []


def test_delete_asks_first_then_takes_the_application_out(app, admin, registered):
    path = f"{APPS}/{registered.client_id}"
    page = admin.get(f"{path}/delete")
    assert page.status_code == 200
    assert "Every access and refresh token issued to it stops working" in page.text
    assert stored(app, registered.client_id).deleted_at is None
    assert admin.http.post(f"{path}/delete").status_code == 400  # no CSRF token
    assert stored(app, registered.client_id).deleted_at is None
    response = admin.http.post(f"{path}/delete", data={"csrf_token": admin.token})
    assert response.status_code == 303 and response.headers["Location"] == APPS
    listing = admin.get(APPS).text
    assert "Photo Album was taken out of service" in listing
    assert f'{path}"' not in listing
    assert stored(app, registered.client_id).deleted_at is not None
    assert [event.target_id for event in audit_events(app, "client.delete")] == [registered.client_id]
    assert admin.get(path).status_code == 404


@pytest.mark.parametrize("method, suffix", [
    ("GET", ""), ("POST", ""), ("POST", "/secret"), ("GET", "/delete"), ("POST", "/delete"),
], ids=["show", "update", "secret", "confirm", "delete"])
@pytest.mark.parametrize("client_id", ["no-such-client", "x" * 65])
def test_an_unknown_application_is_404(admin, method, suffix, client_id):
    response = admin.http.open(f"{APPS}/{client_id}{suffix}", method=method, data=form(admin))
    assert response.status_code == 404
    assert response.mimetype == "text/html"


def test_the_dashboard_counts_applications_for_client_readers(browser_as, make_client):
    make_client()
    make_client(name="Other")
    figures = dict(re.findall(r"<dt>([^<]+)</dt><dd>([^<]+)</dd>", browser_as("admin").get("/admin").text))
    assert figures["Applications"] == "2"
    assert browser_as("user").get("/admin").status_code == 403
