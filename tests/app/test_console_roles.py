"""The console's roles section: the list, one role's permissions, a custom role created, its
permissions edited and deleted after a confirmation; refusals of the service flashed; guarded."""

import re
import uuid

import pytest

from app.extensions import db
from app.models import Role
from app.models import User
from app.services import rbac

from ..helpers import Browser
from ..helpers import audit_events

ROLES = "/admin/roles"


def post(browser, path, data=None, csrf=True):
    form = dict(data or {})
    if csrf:
        form["csrf_token"] = browser.token
    return browser.http.post(path, data=form)


def role_id(app, name):
    with app.app_context():
        role = db.session.scalar(db.select(Role).where(Role.name == name))
        return role.id if role is not None else None


def granted(app, name):
    with app.app_context():
        return rbac.permission_names(db.session.scalar(db.select(Role).where(Role.name == name)))


@pytest.fixture
def superadmin(browser_as):
    return browser_as("superAdmin")


@pytest.fixture
def support(app, superadmin):
    """A custom role made through the page."""
    response = post(superadmin, ROLES, {"name": "support", "description": "Helpdesk"})
    assert response.status_code == 303, response.text
    return role_id(app, "support")


def test_the_list_shows_every_role_to_a_reader_without_the_create_form(browser_as):
    admin = browser_as("admin")  # roles:read, not roles:write
    page = admin.get(ROLES)
    assert page.status_code == 200
    rows = re.findall(r'<th scope="row"><a href="/admin/roles/[0-9a-f-]+">([^<]+)</a></th>\s*<td>[^<]*</td>\s*'
                      r'<td>([^<]+)</td>\s*<td>(\d+)</td>', page.text)
    assert [(name, kind) for name, kind, _ in rows] == [
        ("superAdmin", "Built-in"), ("admin", "Built-in"), ("user", "Built-in")]
    counts = {name: int(count) for name, _, count in rows}
    assert counts["superAdmin"] == 11 and counts["admin"] == 8 and counts["user"] == 0
    assert "Create a custom role" not in page.text
    assert 'aria-current="page">Roles and permissions</a>' in page.text


def test_a_reader_sees_a_roles_permissions_without_checkboxes(app, browser_as):
    page = browser_as("admin").get(f"{ROLES}/{role_id(app, 'admin')}")
    assert page.status_code == 200
    assert "<code>users:read</code>: List and read user accounts" in page.text
    assert 'type="checkbox"' not in page.text and "Delete this role" not in page.text


def test_a_superadmin_creates_a_custom_role(app, superadmin):
    page = superadmin.get(ROLES)
    assert "Create a custom role" in page.text and 'name="csrf_token"' in page.text
    response = post(superadmin, ROLES, {"name": "support", "description": "Helpdesk"})
    assert response.status_code == 303
    new_id = role_id(app, "support")
    assert response.headers["Location"] == f"{ROLES}/{new_id}"
    role_page = superadmin.get(response.headers["Location"])
    assert "The role support was created" in role_page.text
    assert role_page.text.count('type="checkbox"') == 11
    assert "checked" not in role_page.text
    assert f'href="{ROLES}/{new_id}/delete"' in role_page.text
    assert role_page.text.count('name="csrf_token"') == 2 and role_page.text.count('id="csrf_token"') == 1
    listed = superadmin.get(ROLES).text
    assert re.search(r">support</a></th>\s*<td>Helpdesk</td>\s*<td>Custom</td>\s*<td>0</td>", listed)
    assert [event.target_id for event in audit_events(app, "role.create")] == [str(new_id)]


@pytest.mark.parametrize("name", ["", "1st", "has space", "x" * 65])
def test_a_bad_name_is_a_400_with_the_error_on_the_field(superadmin, name):
    response = post(superadmin, ROLES, {"name": name})
    assert response.status_code == 400
    assert 'aria-describedby="name-errors"' in response.text
    assert 'id="name-errors"' in response.text


def test_a_taken_name_is_flashed(app, superadmin, support):
    response = post(superadmin, ROLES, {"name": "Support"})
    assert response.status_code == 400
    assert "A role named &#39;Support&#39; already exists." in response.text
    assert len(audit_events(app, "role.create")) == 1


def test_a_superadmin_edits_a_custom_roles_permissions(app, superadmin, support):
    path = f"{ROLES}/{support}/permissions"
    response = superadmin.http.post(path, data={"csrf_token": superadmin.token,
                                                "permissions": ["users:read", "audit:read"]})
    assert response.status_code == 303
    assert granted(app, "support") == ["audit:read", "users:read"]
    page = superadmin.get(response.headers["Location"])
    assert "The permissions of support were saved." in page.text
    assert len(re.findall(r'checked[^>]*value="(?:users|audit):read"|value="(?:users|audit):read"[^>]*checked',
                          page.text)) == 2
    assert re.search(r">support</a></th>\s*<td>Helpdesk</td>\s*<td>Custom</td>\s*<td>2</td>",
                     superadmin.get(ROLES).text)
    # none ticked: the role grants nothing
    assert post(superadmin, path).status_code == 303
    assert granted(app, "support") == []
    assert [event.action for event in audit_events(app, "role.permissions.set")] == ["role.permissions.set"] * 2


def test_an_unknown_permission_is_a_400(app, superadmin, support):
    response = superadmin.http.post(f"{ROLES}/{support}/permissions",
                                    data={"csrf_token": superadmin.token, "permissions": ["nope:nope"]})
    assert response.status_code == 400
    assert "Choose permissions from the list." in response.text
    assert granted(app, "support") == []


def test_superadmin_keeps_every_permission_refusal_flashed(app, superadmin):
    response = post(superadmin, f"{ROLES}/{role_id(app, 'superAdmin')}/permissions", {"permissions": "users:read"})
    assert response.status_code == 400
    assert "The superAdmin role holds every permission" in response.text
    assert response.text.count("checked") == 11  # the stored state, not the refused one
    assert len(granted(app, "superAdmin")) == 11


def test_nobody_grants_what_they_do_not_hold(app, superadmin, make_user, support):
    assert post(superadmin, ROLES, {"name": "keeper"}).status_code == 303
    assert post(superadmin, f"{ROLES}/{role_id(app, 'keeper')}/permissions",
                {"permissions": ["roles:read", "roles:write"]}).status_code == 303
    keeper_user = make_user(roles=("keeper",))
    keeper = Browser(app, keeper_user)
    response = post(keeper, f"{ROLES}/{support}/permissions", {"permissions": "users:write"})
    assert response.status_code == 400
    assert "You cannot grant the users:write permission: you do not hold it." in response.text
    assert granted(app, "support") == []


def test_delete_asks_first_then_deletes(app, superadmin, support, make_user):
    holder = make_user(roles=("support",))
    confirm = superadmin.get(f"{ROLES}/{support}/delete")
    assert confirm.status_code == 200
    assert "Delete role support?" in confirm.text
    assert f'action="{ROLES}/{support}/delete"' in confirm.text
    assert role_id(app, "support") == support  # asking deleted nothing
    response = post(superadmin, f"{ROLES}/{support}/delete")
    assert response.status_code == 303 and response.headers["Location"] == ROLES
    assert role_id(app, "support") is None
    assert "The role support was deleted." in superadmin.get(ROLES).text
    [event] = audit_events(app, "role.delete")
    assert event.before["users"] == 1 and event.target_id == str(support)
    with app.app_context():
        assert [role.name for role in db.session.get(User, holder.id).roles] == ["user"]


def test_a_built_in_role_is_not_deleted_refusal_flashed(app, superadmin):
    admin_id = role_id(app, "admin")
    assert "Delete this role" not in superadmin.get(f"{ROLES}/{admin_id}").text
    response = post(superadmin, f"{ROLES}/{admin_id}/delete")
    assert response.status_code == 303
    page = superadmin.get(response.headers["Location"])
    assert "The built-in role &#39;admin&#39; cannot be deleted." in page.text
    assert role_id(app, "admin") == admin_id


def test_a_superadmin_renames_a_custom_role_and_describes_a_built_in_one(app, superadmin, support):
    response = post(superadmin, f"{ROLES}/{support}", {"name": "helpdesk", "description": "First line"})
    assert response.status_code == 303 and response.headers["Location"] == f"{ROLES}/{support}"
    assert "The role helpdesk was saved." in superadmin.get(response.headers["Location"]).text
    assert role_id(app, "helpdesk") == support
    admin_id = role_id(app, "admin")
    page = superadmin.get(f"{ROLES}/{admin_id}")
    assert re.search(r'<input[^>]*id="name"[^>]*readonly', page.text)
    assert "A built-in role keeps its name." in page.text
    assert post(superadmin, f"{ROLES}/{admin_id}", {"name": "admin", "description": "Staff"}).status_code == 303
    with app.app_context():
        assert db.session.get(Role, admin_id).description == "Staff"
    assert [event.action for event in audit_events(app, "role.update")] == ["role.update"] * 2


def test_renaming_refusals_are_flashed(app, superadmin, support):
    response = post(superadmin, f"{ROLES}/{role_id(app, 'user')}", {"name": "member"})
    assert response.status_code == 400
    assert "The built-in role &#39;user&#39; cannot be renamed." in response.text
    response = post(superadmin, f"{ROLES}/{support}", {"name": "ADMIN"})
    assert response.status_code == 400
    assert "A role named &#39;ADMIN&#39; already exists." in response.text
    assert role_id(app, "user") is not None and role_id(app, "support") == support
    assert audit_events(app, "role.update") == []


def test_a_bad_new_name_is_a_400_on_the_field(app, superadmin, support):
    response = post(superadmin, f"{ROLES}/{support}", {"name": "no spaces"})
    assert response.status_code == 400
    assert 'aria-describedby="name-errors"' in response.text
    assert role_id(app, "support") == support


@pytest.mark.parametrize("method, path", [
    ("GET", ROLES), ("POST", ROLES), ("GET", "{role}"), ("POST", "{role}"), ("POST", "{role}/permissions"),
    ("GET", "{role}/delete"), ("POST", "{role}/delete"),
], ids=["list", "create", "role", "update", "permissions", "confirm", "delete"])
def test_a_plain_user_gets_the_403_page(app, browser_as, method, path):
    path = path.format(role=f"{ROLES}/{role_id(app, 'admin')}")
    user = browser_as("user")
    response = user.get(path) if method == "GET" else post(user, path, {"name": "x"})
    assert response.status_code == 403
    assert response.mimetype == "text/html"
    assert len(audit_events(app, "permission.denied")) == 1


@pytest.mark.parametrize("method, path", [
    ("POST", ROLES), ("POST", "{role}"), ("POST", "{role}/permissions"), ("GET", "{role}/delete"),
    ("POST", "{role}/delete"),
], ids=["create", "update", "permissions", "confirm", "delete"])
def test_a_reader_cannot_change_anything(app, browser_as, support, method, path):
    path = path.format(role=f"{ROLES}/{support}")
    admin = browser_as("admin")
    response = admin.get(path) if method == "GET" else post(admin, path, {"name": "other"})
    assert response.status_code == 403
    assert role_id(app, "support") == support and role_id(app, "other") is None


def test_no_session_goes_to_the_sign_in_page(client):
    response = client.get(ROLES)
    assert response.status_code == 302 and response.headers["Location"] == "/login?next=/admin/roles"


@pytest.mark.parametrize("path", [ROLES, "{role}", "{role}/permissions", "{role}/delete"])
def test_a_post_without_the_csrf_token_is_a_400(app, superadmin, support, path):
    path = path.format(role=f"{ROLES}/{support}")
    response = post(superadmin, path, {"name": "other", "permissions": "users:read"}, csrf=False)
    assert response.status_code == 400
    assert response.mimetype == "text/html"
    assert role_id(app, "support") == support and role_id(app, "other") is None
    assert granted(app, "support") == []


@pytest.mark.parametrize("method, path", [
    ("GET", "{role}"), ("POST", "{role}"), ("POST", "{role}/permissions"), ("GET", "{role}/delete"),
    ("POST", "{role}/delete"), ("GET", f"{ROLES}/not-an-id"),
])
def test_an_unknown_role_is_a_404_page(superadmin, method, path):
    path = path.format(role=f"{ROLES}/{uuid.uuid4()}")
    response = superadmin.get(path) if method == "GET" else post(superadmin, path)
    assert response.status_code == 404
    assert response.mimetype == "text/html"


def test_a_holder_gets_what_the_role_now_grants_at_once(app, superadmin, support, make_user):
    holder = Browser(app, make_user(roles=("support",)))
    assert holder.get(ROLES).status_code == 403
    assert post(superadmin, f"{ROLES}/{support}/permissions", {"permissions": "roles:read"}).status_code == 303
    assert holder.get(ROLES).status_code == 200
    assert post(superadmin, f"{ROLES}/{support}/delete").status_code == 303
    assert holder.get(ROLES).status_code == 403
