"""The admin API's one guard: who may call it (session, user token with the admin scope, an
application's own permissions), 401 and 403 in their exact shapes, and the denial logged."""

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import AuditEvent
from app.models import Permission
from oauth.clients import find
from oauth.models import application_permissions

from ..helpers import bearer
from ..helpers import grant_tokens
from ..helpers import token_request

PATH = "/api/v1/admin/permissions"
PROBLEM = "application/problem+json"
ADMIN_CLIENT_SCOPE = "openid profile email admin"


def denials(app):
    with app.app_context():
        return list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == "permission.denied")))


def test_no_caller_is_401_with_the_bearer_challenge(client):
    response = client.get(PATH)
    assert response.status_code == 401
    assert response.mimetype == PROBLEM
    assert response.headers["WWW-Authenticate"].startswith("Bearer realm=")


def test_an_invalid_token_is_401_invalid_token(client):
    response = client.get(PATH, headers=bearer("not.a.token"))
    assert response.status_code == 401
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]


@pytest.mark.parametrize("roles", [(), ("user",)])
def test_a_user_without_the_permission_is_403_access_denied_and_logged(app, browser_as, roles):
    browser = browser_as(*roles)
    response = browser.get(PATH)
    assert response.status_code == 403
    assert response.mimetype == PROBLEM
    body = response.get_json()
    assert body["title"] == "Access Denied"
    assert body["status"] == 403
    assert "roles:read" in body["detail"]
    [event] = denials(app)
    assert event.actor_user_id == browser.user.id
    assert event.detail == f"roles:read for {PATH}"
    assert event.ip_address == "127.0.0.1"


@pytest.mark.parametrize("role", ["admin", "superAdmin"])
def test_admins_read_the_permissions(browser_as, role):
    response = browser_as(role).get(PATH)
    assert response.status_code == 200
    names = [item["name"] for item in response.get_json()["items"]]
    assert {"users:read", "users:write", "roles:read", "roles:write", "clients:read", "clients:write",
            "keys:read", "keys:write", "sessions:read", "sessions:write", "audit:read"} <= set(names)
    assert names == sorted(names)


def test_a_deactivated_admin_holds_nothing(app, make_user):
    from app.services import rbac
    from app.services.accounts import deactivate
    admin = make_user(roles=("superAdmin",))
    make_user(roles=("superAdmin",))  # not the last one
    with app.app_context():
        assert "keys:write" in rbac.permissions_of(admin.id)
        deactivate(admin.email)
        assert rbac.permissions_of(admin.id) == frozenset()


def test_builtin_roles_map_as_specified(app, make_user):
    from app.services import rbac
    with app.app_context():
        every = {permission.name for permission in rbac.all_permissions()}
        superadmin, admin, user = (make_user(roles=(role,)) for role in ("superAdmin", "admin", "user"))
        assert rbac.permissions_of(superadmin.id) == every
        assert rbac.permissions_of(admin.id) == every - {"roles:write", "keys:read", "keys:write"}
        assert rbac.permissions_of(user.id) == frozenset()


def test_superadmin_holds_a_permission_added_later(app, make_user):
    from app.services import rbac
    superadmin = make_user(roles=("superAdmin",))
    with app.app_context():
        db.session.add(Permission(name="reports:read", description="added by a later release"))
        db.session.commit()
        assert "reports:read" in rbac.permissions_of(superadmin.id)


def test_a_user_token_needs_the_admin_scope(app, make_client, browser_as):
    application = make_client(skip_consent=True, scope=ADMIN_CLIENT_SCOPE)
    browser = browser_as("admin")
    without = grant_tokens(browser.http, application, scope="openid profile")["access_token"]
    response = app.test_client().get(PATH, headers=bearer(without))
    assert response.status_code == 403
    assert response.get_json()["title"] == "Access Denied"
    assert 'error="insufficient_scope"' in response.headers["WWW-Authenticate"]
    with_admin = grant_tokens(browser.http, application, scope="openid admin")["access_token"]
    assert app.test_client().get(PATH, headers=bearer(with_admin)).status_code == 200


def test_the_admin_scope_adds_no_right_to_a_plain_user(app, make_client, browser_as):
    application = make_client(skip_consent=True, scope=ADMIN_CLIENT_SCOPE)
    token = grant_tokens(browser_as().http, application, scope="openid admin")["access_token"]
    response = app.test_client().get(PATH, headers=bearer(token))
    assert response.status_code == 403
    assert "insufficient_scope" not in response.headers.get("WWW-Authenticate", "")


def test_a_service_account_holds_only_what_it_was_given(app, client, make_client):
    service = make_client(grant_types=["client_credentials"], scope="admin", redirect_uris=())
    token = token_request(client, service, grant_type="client_credentials", scope="admin").get_json()["access_token"]
    assert client.get(PATH, headers=bearer(token)).status_code == 403
    with app.app_context():
        permission = db.session.scalar(select(Permission).where(Permission.name == "roles:read"))
        db.session.execute(application_permissions.insert().values(
            application_id=find(service.client_id).id, permission_id=permission.id))
        db.session.commit()
    assert client.get(PATH, headers=bearer(token)).status_code == 200


def test_cookie_writes_need_the_csrf_token(app, browser_as):
    """With the cookie alone and no X-CSRFToken, an admin write is 400 and changes nothing; with the
    token it goes through."""
    from app.models import Role
    browser = browser_as("superAdmin")
    body = {"name": "support", "description": "Help desk"}
    response = browser.send("POST", "/api/v1/admin/roles", json=body, csrf=False)
    assert response.status_code == 400
    assert response.mimetype == PROBLEM
    with app.app_context():
        assert db.session.scalar(select(Role).where(Role.name == "support")) is None
    assert browser.send("POST", "/api/v1/admin/roles", json=body).status_code == 201


def test_the_last_superadmin_cannot_delete_their_own_account_or_be_deactivated(app, browser_as):
    from app.services import accounts
    from app.services.errors import LastSuperAdmin
    browser = browser_as("superAdmin")
    response = browser.send("DELETE", "/api/v1/me", json={"password": browser.user.password})
    assert response.status_code == 409
    assert response.get_json()["title"] == "Conflict"
    with app.app_context():
        with pytest.raises(LastSuperAdmin):
            accounts.deactivate(browser.user.email)
        assert accounts.active_user(browser.user.id) is not None


def test_every_deactivation_path_writes_one_audit_event(app, make_user, browser_as):
    """The command line (no actor) and a user deleting their own account (the user acts) go
    through the one deactivation the admin API uses, and its audit event."""
    from app.services import accounts
    operator_target = make_user()
    with app.app_context():
        accounts.deactivate(operator_target.email)
        accounts.deactivate(operator_target.email)  # already inactive: nothing more
    browser = browser_as()
    assert browser.send("DELETE", "/api/v1/me", json={"password": browser.user.password}).status_code == 204
    with app.app_context():
        events = list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == "user.deactivate")
                                         .order_by(AuditEvent.created_at)))
        assert [(event.target_id, event.actor_user_id) for event in events] == [
            (str(operator_target.id), None), (str(browser.user.id), browser.user.id)]
