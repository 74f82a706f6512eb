"""The admin API's roles and what they grant: allowed and denied, built-in roles protected,
nobody grants what they do not hold, superAdmin never shrinks, one audit event per change."""

import uuid

import pytest

from app.extensions import db
from app.models import User
from app.services import rbac

from ..helpers import audit_events

ROLES = "/api/v1/admin/roles"
PROBLEM = "application/problem+json"


def role_id(browser, name):
    roles = browser.get(ROLES).get_json()["items"]
    return next(role["id"] for role in roles if role["name"] == name)


@pytest.fixture
def superadmin(browser_as):
    return browser_as("superAdmin")


@pytest.fixture
def custom(superadmin):
    body = {"name": "support", "description": "Helpdesk", "permissions": ["users:read"]}
    response = superadmin.send("POST", ROLES, json=body)
    assert response.status_code == 201, response.text
    return response.get_json()


def test_no_caller_is_401(client):
    assert client.get(ROLES).status_code == 401
    assert client.post(ROLES, json={"name": "x"}).status_code == 401


@pytest.mark.parametrize("method, path", [
    ("GET", ROLES), ("POST", ROLES), ("GET", f"{ROLES}/{uuid.uuid4()}"), ("PATCH", f"{ROLES}/{uuid.uuid4()}"),
    ("DELETE", f"{ROLES}/{uuid.uuid4()}"), ("PUT", f"{ROLES}/{uuid.uuid4()}/permissions"),
    ("POST", f"{ROLES}/{uuid.uuid4()}/permissions/users:read"),
    ("DELETE", f"{ROLES}/{uuid.uuid4()}/permissions/users:read"),
], ids=["list", "create", "get", "update", "delete", "set", "add", "remove"])
def test_a_plain_user_is_denied_everything(app, browser_as, method, path):
    response = browser_as("user").send(method, path, json={"name": "x"} if method in ("POST", "PATCH") else None)
    assert response.status_code == 403
    assert response.mimetype == PROBLEM
    assert response.get_json()["title"] == "Access Denied"
    assert len(audit_events(app, "permission.denied")) == 1


def test_admin_reads_roles_but_cannot_change_them(app, browser_as):
    admin = browser_as("admin")
    listed = admin.get(ROLES)
    assert listed.status_code == 200
    names = [role["name"] for role in listed.get_json()["items"]]
    assert names == ["superAdmin", "admin", "user"]
    user_role = role_id(admin, "user")
    assert admin.get(f"{ROLES}/{user_role}").get_json()["permissions"] == []
    for method, path, body in [("POST", ROLES, {"name": "support"}),
                               ("PATCH", f"{ROLES}/{user_role}", {"description": "x"}),
                               ("PUT", f"{ROLES}/{user_role}/permissions", {"permissions": []}),
                               ("POST", f"{ROLES}/{user_role}/permissions/users:read", None)]:
        response = admin.send(method, path, json=body)
        assert response.status_code == 403, path
        assert response.get_json()["title"] == "Access Denied"
        assert "roles:write" in response.get_json()["detail"]
    assert audit_events(app, "role.create", "role.update", "role.permissions.set", "role.permission.add") == []


def test_the_role_object(superadmin):
    roles = {role["name"]: role for role in superadmin.get(ROLES).get_json()["items"]}
    assert set(roles["admin"]) == {"id", "name", "description", "builtin", "permissions", "createdAt", "updatedAt"}
    assert roles["admin"]["builtin"] is True
    every = {item["name"] for item in superadmin.get("/api/v1/admin/permissions").get_json()["items"]}
    assert set(roles["superAdmin"]["permissions"]) == every
    assert set(roles["admin"]["permissions"]) == every - {"roles:write", "keys:read", "keys:write"}


def test_create_a_role_and_its_audit_event(app, superadmin, custom):
    assert custom["name"] == "support" and custom["builtin"] is False
    assert custom["permissions"] == ["users:read"]
    assert superadmin.get(f"{ROLES}/{custom['id']}").get_json() == custom
    [event] = audit_events(app)
    assert event.action == "role.create"
    assert event.actor_user_id == superadmin.user.id
    assert (event.target_type, event.target_id) == ("role", custom["id"])
    assert event.before is None
    assert event.after == {"name": "support", "description": "Helpdesk", "permissions": ["users:read"]}


@pytest.mark.parametrize("name", ["Support", "support", "admin", "ADMIN"])
def test_a_name_is_taken_whatever_its_case(superadmin, custom, name):
    response = superadmin.send("POST", ROLES, json={"name": name})
    assert response.status_code == 409
    assert response.mimetype == PROBLEM


@pytest.mark.parametrize("body, field", [
    ({"name": ""}, "name"), ({"name": "9lives"}, "name"), ({"name": "has space"}, "name"),
    ({"name": "x" * 65}, "name"), ({"name": "a\u0000b"}, None), ({"name": "x'; DROP TABLE roles;--"}, "name"),
    ({"name": "ok", "description": "d" * 256}, "description"), ({"name": "ok", "colour": "red"}, "colour"),
    ({"name": "ok", "permissions": ["p"] * 101}, "permissions"), ({}, "name"),
    ({"name": "ok", "permissions": "users:read"}, "permissions"),
], ids=["empty", "digit-first", "space", "too-long", "nul", "sql", "long-description", "unknown-field",
        "too-many", "missing", "not-a-list"])
def test_hostile_role_input_is_refused(app, superadmin, body, field):
    response = superadmin.send("POST", ROLES, json=body)
    assert response.status_code in (400, 422), response.text
    assert response.mimetype == PROBLEM
    if field:
        assert field in response.get_json()["errors"]
    assert audit_events(app) == []


def test_a_role_granting_an_unknown_permission_is_404(superadmin):
    response = superadmin.send("POST", ROLES, json={"name": "ops", "permissions": ["nope:nope"]})
    assert response.status_code == 404


def test_rename_and_describe(app, superadmin, custom):
    response = superadmin.send("PATCH", f"{ROLES}/{custom['id']}", json={"name": "helpdesk"})
    assert response.status_code == 200
    assert response.get_json()["name"] == "helpdesk"
    assert response.get_json()["description"] == "Helpdesk"
    [_, event] = audit_events(app)
    assert event.action == "role.update"
    assert event.before["name"] == "support" and event.after["name"] == "helpdesk"


@pytest.mark.parametrize("builtin", ["superAdmin", "admin", "user"])
def test_builtin_roles_are_neither_renamed_nor_deleted(app, superadmin, builtin):
    role = role_id(superadmin, builtin)
    renamed = superadmin.send("PATCH", f"{ROLES}/{role}", json={"name": "other"})
    assert renamed.status_code == 409
    assert renamed.mimetype == PROBLEM
    deleted = superadmin.send("DELETE", f"{ROLES}/{role}")
    assert deleted.status_code == 409
    assert builtin in deleted.get_json()["detail"]
    assert builtin in [item["name"] for item in superadmin.get(ROLES).get_json()["items"]]
    assert audit_events(app) == []


def test_deleting_a_role_removes_it_from_its_users(app, superadmin, custom, make_user):
    holder = make_user()
    with app.app_context():
        user = db.session.get(User, holder.id)
        user.roles = [*user.roles, *rbac.roles_named({"support"})]
        db.session.commit()
        assert "users:read" in rbac.permissions_of(holder.id)
    response = superadmin.send("DELETE", f"{ROLES}/{custom['id']}")
    assert response.status_code == 204
    assert superadmin.get(f"{ROLES}/{custom['id']}").status_code == 404
    with app.app_context():
        assert db.session.get(User, holder.id).role_names == ["user"]
        assert rbac.permissions_of(holder.id) == frozenset()
    event = audit_events(app)[-1]
    assert event.action == "role.delete"
    assert event.before == {"name": "support", "description": "Helpdesk", "permissions": ["users:read"], "users": 1}
    assert event.after is None


def test_unknown_and_malformed_role_ids_are_404(superadmin):
    for path in (f"{ROLES}/{uuid.uuid4()}", f"{ROLES}/not-a-uuid", f"{ROLES}/1%20OR%201=1"):
        assert superadmin.get(path).status_code == 404
        assert superadmin.send("DELETE", path).status_code == 404
        assert superadmin.send("PUT", f"{path}/permissions", json={"permissions": []}).status_code == 404


def test_set_add_and_remove_permissions(app, superadmin, custom):
    base = f"{ROLES}/{custom['id']}/permissions"
    response = superadmin.send("PUT", base, json={"permissions": ["sessions:read", "audit:read"]})
    assert response.status_code == 200
    assert response.get_json()["permissions"] == ["audit:read", "sessions:read"]
    added = superadmin.send("POST", f"{base}/users:write")
    assert added.get_json()["permissions"] == ["audit:read", "sessions:read", "users:write"]
    removed = superadmin.send("DELETE", f"{base}/audit:read")
    assert removed.get_json()["permissions"] == ["sessions:read", "users:write"]
    assert superadmin.send("DELETE", f"{base}/audit:read").status_code == 404
    assert superadmin.send("POST", f"{base}/nope:nope").status_code == 404
    events = audit_events(app)[1:]
    assert [event.action for event in events] == ["role.permissions.set", "role.permission.add",
                                                  "role.permission.remove"]
    assert events[0].before["permissions"] == ["users:read"]
    assert events[0].after["permissions"] == ["audit:read", "sessions:read"]
    assert events[2].after["permissions"] == ["sessions:read", "users:write"]


def test_nobody_grants_a_permission_they_do_not_hold(app, superadmin, custom, make_user, browser_as):
    # A delegate holding roles:read/roles:write and users:read, but not keys:write.
    body = {"name": "delegate", "permissions": ["roles:read", "roles:write", "users:read"]}
    response = superadmin.send("POST", ROLES, json=body)
    assert response.status_code == 201
    delegate = browser_as("delegate")
    refused = delegate.send("POST", f"{ROLES}/{custom['id']}/permissions/keys:write")
    assert refused.status_code == 403
    assert refused.get_json()["title"] == "Access Denied"
    assert "keys:write" in refused.get_json()["detail"]
    put = delegate.send("PUT", f"{ROLES}/{custom['id']}/permissions", json={"permissions": ["users:read", "keys:read"]})
    assert put.status_code == 403
    created = delegate.send("POST", ROLES, json={"name": "sneaky", "permissions": ["audit:read"]})
    assert created.status_code == 403
    assert superadmin.get(f"{ROLES}/{custom['id']}").get_json()["permissions"] == ["users:read"]
    assert delegate.send("POST", f"{ROLES}/{custom['id']}/permissions/roles:read").status_code == 200
    assert [event.action for event in audit_events(app)] == ["role.create", "role.create", "role.permission.add"]


def test_superadmin_permissions_cannot_be_reduced(app, superadmin):
    role = role_id(superadmin, "superAdmin")
    assert superadmin.send("DELETE", f"{ROLES}/{role}/permissions/users:read").status_code == 409
    assert superadmin.send("PUT", f"{ROLES}/{role}/permissions", json={"permissions": []}).status_code == 409
    with app.app_context():
        assert "users:read" in rbac.permissions_of(superadmin.user.id)
    assert audit_events(app) == []


def test_route_descriptions_are_in_openapi(client):
    paths = client.get("/openapi.json").get_json()["paths"]
    assert set(paths["/api/v1/admin/roles"]) == {"get", "post"}
    assert set(paths["/api/v1/admin/roles/{role_id}"]) == {"get", "patch", "delete"}
    assert set(paths["/api/v1/admin/roles/{role_id}/permissions"]) == {"put"}
    assert set(paths["/api/v1/admin/roles/{role_id}/permissions/{name}"]) == {"post", "delete"}
