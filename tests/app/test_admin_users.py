"""The admin users API: who may call each route, the directory's filters, sorts and keyset pages,
every change and its one audit event, the role rules (permissions held, the last superAdmin),
sessions and sign-ins, and hostile input."""

import base64
import threading
import uuid
from datetime import datetime
from datetime import timedelta
from datetime import timezone

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import AuditEvent
from app.models import LoginAttempt
from app.models import Role
from app.models import User
from app.services import audit
from app.services import rbac
from app.services import users as user_admin
from app.services.errors import LastSuperAdmin

from ..helpers import STRONG_PASSWORD
from ..helpers import AuthActions
from ..helpers import Browser
from ..helpers import bearer
from ..helpers import grant_tokens
from ..helpers import production_only

BASE = "/api/v1/admin/users"
PROBLEM = "application/problem+json"
NOBODY = "00000000-0000-4000-8000-000000000000"
USER_KEYS = {"id", "email", "fullname", "avatar", "roleId", "roles", "emailVerified", "phone", "address",
             "isActive", "createdAt", "updatedAt"}
# Every route: method, path (with {user}, {role}, {session}), the permission it needs, a JSON body.
ROUTES = [
    ("GET", BASE, "users:read", None),
    ("POST", BASE, "users:write", {"email": "new@example.com", "fullname": "New"}),
    ("GET", BASE + "/{user}", "users:read", None),
    ("PATCH", BASE + "/{user}", "users:write", {"fullname": "Renamed"}),
    ("DELETE", BASE + "/{user}", "users:write", None),
    ("POST", BASE + "/{user}/reactivate", "users:write", None),
    ("POST", BASE + "/{user}/password-reset", "users:write", None),
    ("PUT", BASE + "/{user}/roles", "users:write", {"roles": []}),
    ("POST", BASE + "/{user}/roles/{role}", "users:write", None),
    ("DELETE", BASE + "/{user}/roles/{role}", "users:write", None),
    ("GET", BASE + "/{user}/sessions", "sessions:read", None),
    ("DELETE", BASE + "/{user}/sessions/{session}", "sessions:write", None),
    ("DELETE", BASE + "/{user}/sessions", "sessions:write", None),
    ("GET", BASE + "/{user}/login-history", "users:read", None),
]
ROUTE_IDS = [f"{method} {path}" for method, path, _, _ in ROUTES]


def role_id(app, name: str) -> str:
    with app.app_context():
        return str(db.session.scalar(select(Role.id).where(Role.name == name)))


def audit_events(app, action: str | None = None) -> list[AuditEvent]:
    """The events about users (not sign-ins, refusals, or the applications a test registers)."""
    with app.app_context():
        query = select(AuditEvent).where(AuditEvent.target_type == "user", AuditEvent.action != "permission.denied",
                                         AuditEvent.action.notlike("signin.%"))
        if action:
            query = query.where(AuditEvent.action == action)
        return list(db.session.scalars(query.order_by(AuditEvent.created_at)))


def load(app, user_id) -> User:
    with app.app_context():
        user = db.session.get(User, uuid.UUID(str(user_id)))
        db.session.expunge_all()
        return user


def seed(app, rows: list[dict]) -> None:
    """Accounts written straight to the table (no password hashing), with the fields given."""
    with app.app_context():
        default_role = rbac.roles_named({rbac.DEFAULT_ROLE})
        for fields in rows:
            extra = fields.pop("extra_roles", ())
            db.session.add(User(avatar=None, roles=default_role + rbac.roles_named(set(extra)) if extra
                                else list(default_role), **fields))
        db.session.commit()


def path_of(template: str, app, user_id, session_id=None) -> str:
    return template.format(user=user_id, role=role_id(app, "admin"), session=session_id or uuid.uuid4())


# --- who may call ------------------------------------------------------------------------------------

@pytest.mark.parametrize("method, template, permission, body", ROUTES, ids=ROUTE_IDS)
def test_every_route_is_401_without_a_caller(app, client, make_user, method, template, permission, body):
    """No session and no token: 401 problem JSON with the Bearer challenge, nothing done."""
    target = make_user()
    response = client.open(path_of(template, app, target.id), method=method, json=body)
    assert response.status_code == 401
    assert response.mimetype == PROBLEM
    assert response.headers["WWW-Authenticate"].startswith("Bearer realm=")
    assert audit_events(app) == []


@pytest.mark.parametrize("method, template, permission, body", ROUTES, ids=ROUTE_IDS)
def test_every_route_is_403_access_denied_for_a_plain_user(app, browser_as, make_user, method, template,
                                                           permission, body):
    """A signed-in user without the permission: 403 Access Denied naming it, the refusal logged."""
    target = make_user()
    response = browser_as("user").send(method, path_of(template, app, target.id), json=body)
    assert response.status_code == 403
    assert response.mimetype == PROBLEM
    assert response.get_json()["title"] == "Access Denied"
    assert permission in response.get_json()["detail"]
    assert audit_events(app) == []
    assert load(app, target.id).fullname == "Ada Lovelace" and load(app, target.id).is_active


def test_a_token_with_the_admin_scope_lists_users(app, make_client, browser_as):
    """A bearer token of an admin, granted the admin scope, reads the list."""
    application = make_client(skip_consent=True, scope="openid profile email admin")
    token = grant_tokens(browser_as("admin").http, application, scope="openid admin")["access_token"]
    response = app.test_client().get(BASE, headers=bearer(token))
    assert response.status_code == 200
    assert set(response.get_json()) == {"items", "nextCursor", "total"}


# --- the directory -----------------------------------------------------------------------------------

def test_every_filter(app, browser_as):
    """Each filter alone narrows the list to exactly its matches."""
    admin = browser_as("superAdmin")
    base = datetime(2026, 1, 1, tzinfo=timezone.utc)
    seed(app, [
        {"email": "f-one@example.com", "fullname": "Grace Hopper", "phone": "+44 20 7946 0001",
         "email_verified": True, "is_active": True, "created_at": base, "extra_roles": ("admin",)},
        {"email": "f-two@example.com", "fullname": "Alan Turing", "phone": "+44 20 7946 0002",
         "email_verified": False, "is_active": True, "created_at": base + timedelta(days=1)},
        {"email": "f-three@example.com", "fullname": "Grace Hopper", "phone": None,
         "email_verified": True, "is_active": False, "created_at": base + timedelta(days=2)},
    ])
    admin_role = role_id(app, "admin")

    def emails(query: str) -> set[str]:
        response = admin.get(f"{BASE}?limit=100&q=f-&{query}")
        assert response.status_code == 200, response.get_json()
        return {item["email"] for item in response.get_json()["items"]}

    assert emails("") == {"f-one@example.com", "f-two@example.com", "f-three@example.com"}
    assert emails("email=F-One@Example.com") == {"f-one@example.com"}
    assert emails("fullname=Grace%20Hopper") == {"f-one@example.com", "f-three@example.com"}
    assert emails(f"roleId={admin_role}") == {"f-one@example.com"}
    assert emails("emailVerified=false") == {"f-two@example.com"}
    assert emails("emailVerified=true") == {"f-one@example.com", "f-three@example.com"}
    assert emails("phone=%2B44%2020%207946%200002") == {"f-two@example.com"}
    assert emails("isActive=false") == {"f-three@example.com"}
    assert emails("createdFrom=2026-01-02T00:00:00Z") == {"f-two@example.com", "f-three@example.com"}
    assert emails("createdTo=2026-01-02T00:00:00Z") == {"f-one@example.com"}
    assert emails("createdFrom=2026-01-01T12:00:00%2B00:00&createdTo=2026-01-03T00:00:00Z") == {"f-two@example.com"}
    # q: anywhere in the address or the full name, whatever its case.
    response = admin.get(f"{BASE}?q=TURING")
    assert [item["email"] for item in response.get_json()["items"]] == ["f-two@example.com"]
    assert admin.get(f"{BASE}?q=hopp&isActive=true").get_json()["items"][0]["email"] == "f-one@example.com"
    # A % or _ is looked for as itself; SQL in a filter is just text.
    assert admin.get(f"{BASE}?q=%25").get_json()["items"] == []
    assert admin.get(f"{BASE}?q=' OR 1=1 --").get_json()["items"] == []
    assert admin.get(f"{BASE}?email=' OR ''='").get_json()["items"] == []


def test_the_user_object_and_the_total(app, browser_as):
    """Items carry the specification's names; total only when asked."""
    admin = browser_as("superAdmin")
    body = admin.get(BASE).get_json()
    assert body["total"] is None and body["nextCursor"] is None
    [item] = body["items"]
    assert set(item) == USER_KEYS
    assert item["email"] == admin.user.email and item["roleId"] == role_id(app, "superAdmin")
    assert {role["name"] for role in item["roles"]} == {"superAdmin", "user"}
    assert admin.get(f"{BASE}?includeTotal=true").get_json()["total"] == 1


SORTED_BY = {
    "createdAt": lambda row: (row["created_at"], uuid.UUID(row["id"]).int),
    "email": lambda row: row["email"],
    "fullname": lambda row: (row["fullname"], uuid.UUID(row["id"]).int),
}


@pytest.mark.parametrize("sort", ["createdAt", "-createdAt", "email", "-email", "fullname", "-fullname"])
def test_pages_cover_every_match_once_in_order(app, browser_as, sort):
    """Keyset pages: no duplicate, no gap, in the sort's order, stable when sort keys are equal."""
    admin = browser_as("superAdmin")
    same_time = datetime(2026, 2, 1, tzinfo=timezone.utc)
    rows = [{"id": uuid.uuid4(), "email": f"page-{index:02d}@example.com", "fullname": f"name{index % 3}",
             "created_at": same_time if index % 2 else same_time + timedelta(seconds=index)}
            for index in range(23)]
    seed(app, [dict(row) for row in rows])
    expected = sorted(({"id": str(row["id"]), "email": row["email"], "fullname": row["fullname"],
                        "created_at": row["created_at"]} for row in rows),
                      key=SORTED_BY[sort.lstrip("-")], reverse=sort.startswith("-"))
    seen, cursor, pages = [], None, 0
    while True:
        url = f"{BASE}?q=page-&limit=4&sort={sort}" + (f"&cursor={cursor}" if cursor else "")
        response = admin.get(url)
        assert response.status_code == 200, response.get_json()
        body = response.get_json()
        seen += [item["id"] for item in body["items"]]
        pages += 1
        cursor = body["nextCursor"]
        if cursor is None:
            break
    assert seen == [row["id"] for row in expected]
    assert pages == 6


@pytest.mark.parametrize("query, status", [
    ("cursor=not-a-cursor", 400),
    ("cursor=eyJrIjoidXNlcnM6ZW1haWwiLCJ2IjpbMV19", 400),  # a cursor whose value is not text
    ("cursor=%00", 400),  # NUL is refused before any route
    ("limit=0", 422), ("limit=101", 422), ("limit=ten", 422),
    ("sort=password", 422), ("sort=-", 422),
    ("isActive=maybe", 422), ("roleId=1", 422), ("createdFrom=yesterday", 422),
    ("createdFrom=2026-01-01T00:00:00", 422),  # no zone: ambiguous
    ("q=a%00b", 400), ("email=" + "a" * 5000, 422), ("passwordHash=x", 422),
], ids=["garbage", "bad-value", "nul", "limit-0", "limit-101", "limit-text", "sort-unknown", "sort-dash",
        "bool", "uuid", "date", "naive-date", "nul-q", "huge", "unknown-field"])
def test_bad_list_queries_are_problems(browser_as, query, status):
    """Every malformed query answers problem JSON, never a 500."""
    response = browser_as("admin").get(f"{BASE}?{query}")
    assert response.status_code == status, response.get_json()
    assert response.mimetype == PROBLEM


def test_a_cursor_of_another_sort_is_refused(app, browser_as):
    """A cursor belongs to the sort that made it."""
    admin = browser_as("superAdmin")
    seed(app, [{"email": f"c-{index}@example.com", "fullname": "c"} for index in range(3)])
    cursor = admin.get(f"{BASE}?limit=1&sort=email").get_json()["nextCursor"]
    response = admin.get(f"{BASE}?limit=1&sort=fullname&cursor={cursor}")
    assert response.status_code == 400
    assert "cursor" in response.get_json()["detail"]
    # The same key in the other direction is another sort: the page would start at the wrong end.
    cursor = admin.get(f"{BASE}?limit=1&sort=-createdAt").get_json()["nextCursor"]
    response = admin.get(f"{BASE}?limit=1&sort=createdAt&cursor={cursor}")
    assert response.status_code == 400
    assert "cursor" in response.get_json()["detail"]


@pytest.mark.parametrize("path", [BASE, "/admin/users"])
def test_a_forged_cursor_holding_a_lone_surrogate_is_refused(browser_as, path):
    """A cursor is base64 JSON the client holds: JSON may escape half a UTF-16 pair, which no
    database takes (a 500 on PostgreSQL once, in the API and the console)."""
    forged = base64.urlsafe_b64encode(b'{"k":"users:email","v":["\\ud800"]}').decode().rstrip("=")
    response = browser_as("superAdmin").get(f"{path}?sort=email&cursor={forged}")
    assert response.status_code == 400


# --- one account ----------------------------------------------------------------------------------------

def test_get_one_and_unknown_ids(browser_as, make_user):
    """An id that is not there, or not a UUID, is a 404 problem."""
    admin = browser_as("admin")
    target = make_user()
    body = admin.get(f"{BASE}/{target.id}").get_json()
    assert set(body) == USER_KEYS and body["email"] == target.email
    for path in (f"{BASE}/{NOBODY}", f"{BASE}/not-a-uuid", f"{BASE}/{target.id}x", f"{BASE}/'%20OR%201=1"):
        response = admin.get(path)
        assert response.status_code == 404 and response.mimetype == PROBLEM
    response = admin.get(f"{BASE}/%00")  # NUL is refused before routing
    assert response.status_code == 400 and response.mimetype == PROBLEM


def test_create_a_verified_user_with_a_password(app, browser_as, mailbox):
    """The account exists with the user role added, may sign in at once, and one event records it."""
    admin = browser_as("superAdmin")
    body = {"email": "Grace@Example.com", "fullname": "Grace Hopper", "password": STRONG_PASSWORD,
            "phone": "+1 555 0100", "address": {"locality": "Arlington"}, "roles": [role_id(app, "admin")],
            "emailVerified": True}
    response = admin.send("POST", BASE, json=body)
    assert response.status_code == 201, response.get_json()
    created = response.get_json()
    assert response.headers["Location"].endswith(f"{BASE}/{created['id']}")
    assert created["email"] == "grace@example.com" and created["emailVerified"] is True
    assert [role["name"] for role in created["roles"]] == ["admin", "user"]
    assert created["roleId"] == role_id(app, "admin")
    assert created["address"] == {"locality": "Arlington"} and created["phone"] == "+1 555 0100"
    assert AuthActions(app.test_client()).login("grace@example.com", STRONG_PASSWORD).status_code == 303
    [event] = audit_events(app)
    assert (event.action, event.target_type, event.target_id) == ("user.create", "user", created["id"])
    assert event.actor_user_id == admin.user.id and event.before is None
    assert event.after["email"] == "grace@example.com" and event.after["roles"] == ["admin", "user"]
    assert "password" not in str(event.after).lower() and STRONG_PASSWORD not in str(event.after)
    assert mailbox.to("grace@example.com") == []


def test_create_without_a_password_mails_codes_to_set_one(app, browser_as, mailbox):
    """No password: a reset code (and a verification code) go to the address; the code sets it."""
    admin = browser_as("admin")
    response = admin.send("POST", BASE, json={"email": "linus@example.com", "fullname": "Linus"})
    assert response.status_code == 201
    assert response.get_json()["emailVerified"] is False
    subjects = {message["Subject"] for message in mailbox.to("linus@example.com")}
    assert subjects == {"Set your password", "Confirm your email address"}
    codes = {message["Subject"]: _code_in(message) for message in mailbox.to("linus@example.com")}
    answer = app.test_client().post("/api/v1/auth/password/reset", json={
        "email": "linus@example.com", "code": codes["Set your password"], "password": STRONG_PASSWORD})
    assert answer.status_code == 204
    verify = app.test_client().post("/api/v1/auth/verify", json={
        "email": "linus@example.com", "code": codes["Confirm your email address"]})
    assert verify.status_code == 200, verify.get_json()
    assert AuthActions(app.test_client()).login("linus@example.com", STRONG_PASSWORD).status_code == 303


def _code_in(message) -> str:
    text = message.get_body(preferencelist=("plain",)).get_content()
    return next(line.strip() for line in text.splitlines() if line.strip().isdigit() and len(line.strip()) == 6)


@pytest.mark.parametrize("body, status, field", [
    ({"email": "weak@example.com", "fullname": "W", "password": "password1"}, 400, None),
    ({"email": "not-an-address", "fullname": "W"}, 400, "email"),
    ({"email": "x@example.com"}, 422, "fullname"),
    ({"email": "x@example.com", "fullname": "W", "isAdmin": True}, 422, "isAdmin"),
    ({"email": "x@example.com", "fullname": "W\x00"}, 400, None),  # NUL: refused before any route
    ({"email": "x@example.com", "fullname": "W" * 10000}, 422, "fullname"),
    ({"email": "x@example.com", "fullname": "W", "roles": ["not-a-uuid"]}, 422, "roles.0"),
    ({"email": "x@example.com", "fullname": "W", "roles": [NOBODY]}, 400, "roles"),
    ({"email": "x@example.com", "fullname": "W", "phone": "call me"}, 400, "phone"),
    ({"email": "x@example.com", "fullname": "W", "address": {"planet": "Mars"}}, 400, "address.planet"),
], ids=["weak-password", "bad-email", "no-fullname", "unknown-field", "nul", "huge", "bad-role-id", "no-such-role",
        "bad-phone", "bad-address"])
def test_create_refuses_bad_input_and_writes_nothing(app, browser_as, body, status, field):
    """Bad input is a problem naming the field; no account and no event."""
    response = browser_as("superAdmin").send("POST", BASE, json=body)
    assert response.status_code == status, response.get_json()
    assert response.mimetype == PROBLEM
    if field:
        assert field in response.get_json()["errors"]
    assert audit_events(app) == []
    with app.app_context():
        assert db.session.scalar(select(User).where(User.email == "x@example.com")) is None


def test_create_an_existing_address_is_409(app, browser_as, make_user):
    target = make_user()
    response = browser_as("admin").send("POST", BASE, json={"email": target.email.upper(), "fullname": "Twin"})
    assert response.status_code == 409
    assert audit_events(app) == []


def test_create_with_a_role_whose_permissions_you_lack_is_403(app, browser_as):
    """An admin cannot hand out superAdmin (it holds role and key permissions the admin lacks)."""
    response = browser_as("admin").send("POST", BASE, json={"email": "up@example.com", "fullname": "Up",
                                                            "roles": [role_id(app, "superAdmin")]})
    assert response.status_code == 403
    assert response.get_json()["title"] == "Access Denied"
    assert audit_events(app) == []


def test_update_profile_fields_with_one_event(app, browser_as, make_user):
    """PATCH changes only what it sends; the event holds before and after of those fields."""
    admin = browser_as("admin")
    target = make_user()
    response = admin.send("PATCH", f"{BASE}/{target.id}", json={
        "fullname": "Ada King", "phone": "+44 20 7946 0958", "address": {"country": "UK"},
        "avatar": "https://pictures.example.com/ada.png"})
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert (body["fullname"], body["phone"], body["address"], body["avatar"]) == (
        "Ada King", "+44 20 7946 0958", {"country": "UK"}, "https://pictures.example.com/ada.png")
    assert body["email"] == target.email and body["emailVerified"] is True
    [event] = audit_events(app)
    assert event.action == "user.update" and event.target_id == str(target.id)
    assert event.before == {"fullname": "Ada Lovelace", "phone": None, "address": None,
                            "avatar": event.before["avatar"]}
    assert event.after == {"fullname": "Ada King", "phone": "+44 20 7946 0958", "address": {"country": "UK"},
                           "avatar": "https://pictures.example.com/ada.png"}


@pytest.mark.parametrize("body, status", [
    ({"fullname": "x\x00y"}, 400), ({"fullname": "x" * 300}, 422), ({"fullname": ""}, 400),
    ({"avatar": "http://insecure.example.com/a.png"}, 400), ({"email": None}, 422), ({"roles": None}, 422),
    ({"isActive": False}, 422), ({"passwordHash": "x"}, 422), ({"address": {"street_address": "x" * 5000}}, 400),
], ids=["nul", "huge", "empty-name", "http-avatar", "null-email", "null-roles", "isActive", "hash", "huge-address"])
def test_update_refuses_bad_input_and_changes_nothing(app, browser_as, make_user, body, status):
    target = make_user()
    response = browser_as("superAdmin").send("PATCH", f"{BASE}/{target.id}", json=body)
    assert response.status_code == status, response.get_json()
    assert response.mimetype == PROBLEM
    assert load(app, target.id).fullname == "Ada Lovelace"
    assert audit_events(app) == []


def test_update_unknown_user_is_404(browser_as):
    response = browser_as("superAdmin").send("PATCH", f"{BASE}/{NOBODY}", json={"fullname": "Ghost"})
    assert response.status_code == 404 and response.mimetype == PROBLEM


def test_a_json_body_is_required(browser_as, make_user):
    target = make_user()
    browser = browser_as("superAdmin")
    response = browser.http.patch(f"{BASE}/{target.id}", data="fullname=x",
                                  headers={"X-CSRFToken": browser.token, "Content-Type": "text/plain"})
    assert response.status_code == 415


def test_email_change_is_verified_again(app, browser_as, make_user, mailbox):
    """A new address is unverified, gets a code (which verifies it), and the old one is told."""
    admin = browser_as("admin")
    target = make_user()
    response = admin.send("PATCH", f"{BASE}/{target.id}", json={"email": "New.Address@Example.com"})
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["email"] == "new.address@example.com"
    assert response.get_json()["emailVerified"] is False
    [event] = audit_events(app)
    assert event.before["email"] == target.email and event.before["emailVerified"] is True
    assert event.after["email"] == "new.address@example.com" and event.after["emailVerified"] is False
    [notice] = mailbox.to(target.email)
    assert "new.address@example.com" in notice.get_body(preferencelist=("plain",)).get_content()
    code = mailbox.last_code("new.address@example.com")
    verify = app.test_client().post("/api/v1/auth/verify", json={"email": "new.address@example.com", "code": code})
    assert verify.status_code == 200, verify.get_json()
    assert load(app, target.id).email_verified is True


def test_email_change_to_a_taken_address_is_409(app, browser_as, make_user, mailbox):
    first, second = make_user(), make_user()
    response = browser_as("admin").send("PATCH", f"{BASE}/{first.id}", json={"email": second.email})
    assert response.status_code == 409
    assert load(app, first.id).email == first.email and audit_events(app) == []
    assert mailbox.messages == []


# --- soft delete, reactivation, forced reset ----------------------------------------------------------------

def test_delete_ends_sessions_and_tokens_then_reactivate(app, browser_as, make_client):
    """Deactivation: isActive false, the browser session and the access token stop; reactivation undoes
    the flag only."""
    admin = browser_as("admin")
    target = browser_as()
    application = make_client(skip_consent=True)
    token = grant_tokens(target.http, application)["access_token"]
    assert app.test_client().get("/oauth/userinfo", headers=bearer(token)).status_code == 200
    response = admin.send("DELETE", f"{BASE}/{target.user.id}")
    assert response.status_code == 204
    assert target.get("/currentuser").status_code == 401
    assert app.test_client().get("/oauth/userinfo", headers=bearer(token)).status_code == 401
    assert admin.get(f"{BASE}/{target.user.id}").get_json()["isActive"] is False
    assert admin.get(f"{BASE}?isActive=false").get_json()["items"][0]["id"] == str(target.user.id)
    [event] = audit_events(app)
    assert (event.action, event.before, event.after) == ("user.deactivate", {"isActive": True}, {"isActive": False})
    response = admin.send("POST", f"{BASE}/{target.user.id}/reactivate")
    assert response.status_code == 200 and response.get_json()["isActive"] is True
    assert [event.action for event in audit_events(app)] == ["user.deactivate", "user.reactivate"]
    assert target.get("/currentuser").status_code == 401  # ended sessions stay ended
    assert AuthActions(app.test_client()).login(target.user.email, target.user.password).status_code == 303


def test_forced_password_reset(app, browser_as, mailbox):
    """The password stops working, sessions end, a reset code arrives and sets a new password."""
    admin = browser_as("admin")
    target = browser_as()
    response = admin.send("POST", f"{BASE}/{target.user.id}/password-reset")
    assert response.status_code == 202
    assert response.get_json() == {"sessionsEnded": 1}
    assert target.get("/currentuser").status_code == 401
    assert AuthActions(app.test_client()).login(target.user.email, target.user.password).status_code != 303
    [event] = audit_events(app)
    assert (event.action, event.before, event.after) == ("user.password_reset", {"passwordSet": True},
                                                         {"passwordSet": False})
    code = mailbox.last_code(target.user.email)
    answer = app.test_client().post("/api/v1/auth/password/reset",
                                    json={"email": target.user.email, "code": code, "password": STRONG_PASSWORD})
    assert answer.status_code == 204
    assert AuthActions(app.test_client()).login(target.user.email, STRONG_PASSWORD).status_code == 303


# --- roles -----------------------------------------------------------------------------------------------------

def test_set_add_and_remove_roles(app, browser_as, make_user):
    """PUT sets the full set (user always kept), POST adds one, DELETE removes one; one event each."""
    admin = browser_as("superAdmin")
    target = make_user()
    response = admin.send("PUT", f"{BASE}/{target.id}/roles", json={"roles": [role_id(app, "admin")]})
    assert response.status_code == 200
    assert [role["name"] for role in response.get_json()["roles"]] == ["admin", "user"]
    response = admin.send("DELETE", f"{BASE}/{target.id}/roles/{role_id(app, 'admin')}")
    assert [role["name"] for role in response.get_json()["roles"]] == ["user"]
    response = admin.send("POST", f"{BASE}/{target.id}/roles/{role_id(app, 'superAdmin')}")
    assert [role["name"] for role in response.get_json()["roles"]] == ["superAdmin", "user"]
    response = admin.send("PATCH", f"{BASE}/{target.id}", json={"roles": []})
    assert [role["name"] for role in response.get_json()["roles"]] == ["user"]
    events = audit_events(app)
    assert [(event.action, event.before, event.after) for event in events] == [
        ("user.roles", {"roles": ["user"]}, {"roles": ["admin", "user"]}),
        ("user.roles", {"roles": ["admin", "user"]}, {"roles": ["user"]}),
        ("user.roles", {"roles": ["user"]}, {"roles": ["superAdmin", "user"]}),
        ("user.update", {"roles": ["superAdmin", "user"]}, {"roles": ["user"]}),
    ]


def test_the_user_role_stays_and_unknown_roles_are_refused(app, browser_as, make_user):
    admin = browser_as("superAdmin")
    target = make_user()
    response = admin.send("DELETE", f"{BASE}/{target.id}/roles/{role_id(app, 'user')}")
    assert response.status_code == 400 and "user role" in response.get_json()["detail"]
    assert admin.send("POST", f"{BASE}/{target.id}/roles/{NOBODY}").status_code == 404
    assert admin.send("DELETE", f"{BASE}/{target.id}/roles/{role_id(app, 'admin')}").status_code == 404
    assert admin.send("PUT", f"{BASE}/{target.id}/roles", json={"roles": [NOBODY]}).status_code == 400
    assert admin.send("PUT", f"{BASE}/{target.id}/roles", json={"roles": "admin"}).status_code == 422
    assert admin.send("PUT", f"{BASE}/{target.id}/roles", json={"roles": [NOBODY] * 51}).status_code == 422
    assert audit_events(app) == []


@pytest.mark.parametrize("method, suffix, body", [
    ("PUT", "/roles", "superAdmin"),
    ("POST", "/roles/{role}", None),
    ("PATCH", "", "superAdmin"),
], ids=["put", "post", "patch"])
def test_granting_a_role_with_permissions_you_lack_is_403(app, browser_as, make_user, method, suffix, body):
    """An admin lacks roles:write and keys:*: superAdmin is out of reach by every route."""
    admin = browser_as("admin")
    target = make_user()
    superadmin = role_id(app, "superAdmin")
    json = {"roles": [superadmin]} if body else None
    response = admin.send(method, f"{BASE}/{target.id}{suffix.format(role=superadmin)}", json=json)
    assert response.status_code == 403
    assert response.get_json()["title"] == "Access Denied"
    assert "permission" in response.get_json()["detail"]
    assert [role.name for role in load(app, target.id).roles] == ["user"]
    assert audit_events(app) == []


def test_removing_a_role_with_permissions_you_lack_is_403(app, browser_as, make_user):
    """Nor can an admin demote a superAdmin."""
    target = make_user(roles=("superAdmin",))
    response = browser_as("admin").send("DELETE", f"{BASE}/{target.id}/roles/{role_id(app, 'superAdmin')}")
    assert response.status_code == 403 and response.get_json()["title"] == "Access Denied"


@pytest.mark.parametrize("method, suffix, body", [
    ("PATCH", "", {"email": "attacker@example.net"}),
    ("PATCH", "", {"fullname": "Owned"}),
    ("DELETE", "", None),
    ("POST", "/password-reset", None),
    ("DELETE", "/sessions", None),
], ids=["email", "fullname", "deactivate", "password-reset", "end-sessions"])
@pytest.mark.parametrize("active", [True, False], ids=["active", "inactive"])
def test_an_admin_cannot_act_on_an_account_more_privileged_than_itself(app, browser_as, make_user, mailbox,
                                                                       method, suffix, body, active):
    """Changing a superAdmin's address and then forcing a reset mails its reset code to the
    attacker: an account holding permissions the caller lacks is out of the caller's reach."""
    target = make_user(roles=("superAdmin",))
    browser_as("superAdmin")  # the target is not the last superAdmin: that rule is not what refuses
    if not active:
        with app.app_context():
            db.session.get(User, target.id).is_active = False
            db.session.commit()
    before = load(app, target.id)
    response = browser_as("admin").send(method, f"{BASE}/{target.id}{suffix}", json=body)
    assert response.status_code == 403, response.get_json()
    assert response.get_json()["title"] == "Access Denied"
    after = load(app, target.id)
    assert (after.email, after.fullname, after.is_active, after.password_hash) == \
        (before.email, before.fullname, before.is_active, before.password_hash)
    assert audit_events(app) == []
    if not active:  # nor brought back to life
        response = browser_as("admin").send("POST", f"{BASE}/{target.id}/reactivate")
        assert response.status_code == 403 and not load(app, target.id).is_active


@pytest.mark.parametrize("method, suffix, body", [
    ("DELETE", "", None),
    ("PUT", "/roles", {"roles": []}),
    ("DELETE", "/roles/{superadmin}", None),
    ("PATCH", "", {"roles": []}),
], ids=["deactivate", "demote", "remove-role", "patch-roles"])
def test_the_last_superadmin_stays(app, browser_as, method, suffix, body):
    """The only active superAdmin cannot be deactivated or lose the role (409); nothing changes."""
    admin = browser_as("superAdmin")
    path = f"{BASE}/{admin.user.id}{suffix.format(superadmin=role_id(app, 'superAdmin'))}"
    response = admin.send(method, path, json=body)
    assert response.status_code == 409
    assert response.mimetype == PROBLEM
    assert "superAdmin" in response.get_json()["detail"]
    user = load(app, admin.user.id)
    assert user.is_active and "superAdmin" in user.role_names
    assert audit_events(app) == []


def test_a_superadmin_goes_when_another_active_one_stays(app, browser_as, make_user):
    """With a second active superAdmin, demotion and deactivation work; an inactive one does not count."""
    admin = browser_as("superAdmin")
    second = make_user(roles=("superAdmin",))
    assert admin.send("DELETE", f"{BASE}/{second.id}").status_code == 204
    # The second is inactive now: the caller is the last active one.
    assert admin.send("PUT", f"{BASE}/{admin.user.id}/roles", json={"roles": []}).status_code == 409
    assert admin.send("POST", f"{BASE}/{second.id}/reactivate").status_code == 200
    response = admin.send("PUT", f"{BASE}/{second.id}/roles", json={"roles": []})
    assert response.status_code == 200


@production_only
def test_two_demotions_at_once_leave_one_superadmin(app, make_user):
    """Two superAdmins demote each other at the same moment: one wins, the other gets LastSuperAdmin."""
    first, second = make_user(roles=("superAdmin",)), make_user(roles=("superAdmin",))
    barrier = threading.Barrier(2)
    outcomes = []

    def demote(user_id):
        with app.app_context():
            actor = audit.Actor.system()
            held = rbac.permissions_of(user_id)
            barrier.wait()
            try:
                user_admin.set_roles(actor, held, user_id, [])
                outcomes.append("demoted")
            except LastSuperAdmin:
                outcomes.append("refused")
            finally:
                db.session.remove()

    threads = [threading.Thread(target=demote, args=(user.id,)) for user in (first, second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(outcomes) == ["demoted", "refused"]
    holders = [user.id for user in (first, second) if "superAdmin" in load(app, user.id).role_names]
    assert len(holders) == 1


# --- sessions and sign-ins -----------------------------------------------------------------------------------

def test_list_and_end_one_session(app, browser_as):
    """sessions:read lists the live sessions; ending one signs that browser out, with one event."""
    admin = browser_as("admin")
    target = browser_as()
    other = Browser(app, target.user)
    response = admin.get(f"{BASE}/{target.user.id}/sessions")
    assert response.status_code == 200
    items = response.get_json()["items"]
    assert len(items) == 2
    assert set(items[0]) == {"id", "device", "userAgent", "ipAddress", "amr", "createdAt", "lastSeenAt", "expiresAt"}
    ended = target.session_id()
    assert admin.send("DELETE", f"{BASE}/{target.user.id}/sessions/{ended}").status_code == 204
    assert target.get("/currentuser").status_code == 401
    assert other.get("/currentuser").status_code == 200
    [event] = audit_events(app)
    assert event.action == "user.session_end" and event.after == {"session": ended, "live": False}
    # Ended, another user's, or unknown: 404.
    assert admin.send("DELETE", f"{BASE}/{target.user.id}/sessions/{ended}").status_code == 404
    assert admin.send("DELETE", f"{BASE}/{admin.user.id}/sessions/{other.session_id()}").status_code == 404
    assert admin.send("DELETE", f"{BASE}/{target.user.id}/sessions/{NOBODY}").status_code == 404
    assert len(audit_events(app)) == 1


def test_end_every_session_revokes_their_tokens(app, browser_as, make_client):
    admin = browser_as("admin")
    target = browser_as()
    token = grant_tokens(target.http, make_client(skip_consent=True))["access_token"]
    response = admin.send("DELETE", f"{BASE}/{target.user.id}/sessions")
    assert response.status_code == 200 and response.get_json() == {"sessionsEnded": 1}
    assert target.get("/currentuser").status_code == 401
    assert app.test_client().get("/oauth/userinfo", headers=bearer(token)).status_code == 401
    [event] = audit_events(app)
    assert (event.action, event.before, event.after) == ("user.sessions_end", {"liveSessions": 1},
                                                         {"liveSessions": 0})
    assert admin.get(f"{BASE}/{target.user.id}/sessions").get_json() == {"items": []}


def test_login_history_in_pages(app, browser_as, make_user):
    """Newest first, keyset pages with no duplicate or gap; another user's attempts never show."""
    admin = browser_as("admin")
    target = make_user()
    start = datetime(2026, 3, 1, tzinfo=timezone.utc)
    with app.app_context():
        for index in range(7):
            db.session.add(LoginAttempt(user_id=target.id, time=start + timedelta(minutes=index // 2),
                                        ip_address="192.0.2.1", device_info="curl/8.0", method="password",
                                        outcome="success" if index % 2 else "bad_password"))
        db.session.commit()
    seen, cursor = [], None
    while True:
        response = admin.get(f"{BASE}/{target.id}/login-history?limit=3" + (f"&cursor={cursor}" if cursor else ""))
        assert response.status_code == 200
        body = response.get_json()
        seen += body["items"]
        cursor = body["nextCursor"]
        if not cursor:
            break
    assert len(seen) == 7 and len({item["id"] for item in seen}) == 7
    assert [item["time"] for item in seen] == sorted((item["time"] for item in seen), reverse=True)
    assert seen[0]["device"] == "curl"
    assert admin.get(f"{BASE}/{target.id}/login-history?cursor=xyz").status_code == 400
    assert admin.get(f"{BASE}/{NOBODY}/login-history").status_code == 404


def test_sessions_need_the_sessions_permissions(app, browser_as, make_user):
    """A role with users:read only is refused the sessions routes (403)."""
    from app.models import Permission
    with app.app_context():
        role = Role(name="reader", description="reads users")
        role.permissions = list(db.session.scalars(select(Permission).where(Permission.name == "users:read")))
        db.session.add(role)
        db.session.commit()
    reader = browser_as("reader")
    target = make_user()
    assert reader.get(f"{BASE}/{target.id}").status_code == 200
    response = reader.get(f"{BASE}/{target.id}/sessions")
    assert response.status_code == 403 and "sessions:read" in response.get_json()["detail"]
    response = reader.send("DELETE", f"{BASE}/{target.id}/sessions")
    assert response.status_code == 403 and "sessions:write" in response.get_json()["detail"]


# --- the API described ---------------------------------------------------------------------------------------

def test_every_route_is_in_the_openapi_document(client):
    paths = client.get("/openapi.json").get_json()["paths"]
    for method, template, _, _ in ROUTES:
        documented = template.format(user="{user_id}", role="{role_id}", session="{session_id}")
        assert method.lower() in paths[documented], f"{method} {documented}"
        operation = paths[documented][method.lower()]
        assert "admin: users" in operation["tags"]
        assert "403" in operation["responses"]
