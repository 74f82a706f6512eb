"""The console's users section: the directory with its filters and keyset pages, a user's page, the
actions on it (each for the permission its admin API route needs) and the form that creates a user."""

import re
import uuid
from datetime import datetime
from datetime import timezone
from html import unescape

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import AuditEvent
from app.models import Role
from app.models import User
from app.services import accounts
from app.services import rbac
from app.services import sessions
from tests.helpers import AuthActions
from tests.helpers import Browser

EMAIL_CELL = re.compile(r'<th scope="row"><a href="/admin/users/([0-9a-f-]{36})">([^<]+)</a></th>')


def listed(response) -> list[str]:
    return [email for _, email in EMAIL_CELL.findall(response.text)]


def next_link(response) -> str | None:
    match = re.search(r'<a href="([^"]+)" rel="next">Next page</a>', response.text)
    return unescape(match.group(1)) if match else None


def notices(response) -> list[tuple[str, str]]:
    return [(kind, unescape(text)) for kind, text in
            re.findall(r'<p class="notice notice-(\w+)" role="\w+">([^<]*)</p>', response.text)]


def role_id(app, name: str) -> uuid.UUID:
    with app.app_context():
        return db.session.scalar(select(Role.id).where(Role.name == name))


def roles_of(app, user_id) -> list[str]:
    with app.app_context():
        return sorted(role.name for role in db.session.get(User, user_id).roles)


def live_sessions(app, user_id) -> list:
    with app.app_context():
        return [item.id for item in sessions.list_for_user(user_id)]


@pytest.fixture
def reader_role(app):
    """A role that may read users and nothing else (no sessions:read, no users:write)."""
    with app.app_context():
        db.session.add(Role(id=uuid.uuid4(), name="reader", description="reads users",
                            permissions=rbac.permissions_named({"users:read"})))
        db.session.commit()
    return "reader"


def post(browser, path, data=None, csrf=True):
    form = dict(data or {})
    if csrf:
        form["csrf_token"] = browser.token
    return browser.http.post(path, data=form)


# --- the directory -------------------------------------------------------------------------------------

def test_no_session_goes_to_the_sign_in_page(client):
    response = client.get("/admin/users")
    assert response.status_code == 302
    assert response.headers["Location"] == "/login?next=/admin/users"


def test_a_plain_user_gets_403_on_every_page_and_no_nav_entry(browser_as, make_user):
    other = make_user()
    browser = browser_as("user")
    for path in ("/admin/users", f"/admin/users/{other.id}", "/admin/users/new", f"/admin/users/{other.id}/edit"):
        response = browser.get(path)
        assert response.status_code == 403, path
        assert response.mimetype == "text/html"


def test_the_nav_shows_users_to_a_reader(browser_as, reader_role):
    page = browser_as(reader_role).get("/admin")
    assert '<a href="/admin/users">Users</a>' in page.text


def test_the_list_shows_every_user_newest_first(browser_as, make_user):
    made = [make_user(fullname=f"Person {number}") for number in range(3)]
    browser = browser_as("admin")
    response = browser.get("/admin/users")
    assert response.status_code == 200
    assert listed(response) == [browser.user.email, *reversed([user.email for user in made])]
    assert 'href="/admin/users/new"' in response.text
    assert '<th scope="col">Email</th>' in response.text
    assert "admin, user" in response.text


def test_a_reader_is_not_offered_to_create_a_user(browser_as, reader_role):
    response = browser_as(reader_role).get("/admin/users")
    assert response.status_code == 200
    assert 'href="/admin/users/new"' not in response.text


def test_filters(app, browser_as, make_user):
    ada = make_user(email="ada@example.com", fullname="Ada Lovelace")
    grace = make_user(email="grace@example.com", fullname="Grace Hopper", verified=False)
    make_user(email="alan@example.com", fullname="Alan Turing", roles=("admin",))
    with app.app_context():
        user = db.session.get(User, ada.id)
        user.phone = "+441234567"
        db.session.commit()
    browser = browser_as("superAdmin", email="root@example.com", fullname="Root")
    assert listed(browser.get("/admin/users?email=GRACE@example.com")) == [grace.email]
    assert listed(browser.get("/admin/users?fullname=Ada+Lovelace")) == [ada.email]
    assert listed(browser.get("/admin/users?phone=%2B441234567")) == [ada.email]
    assert listed(browser.get("/admin/users?verified=no")) == [grace.email]
    assert listed(browser.get(f"/admin/users?role={role_id(app, 'admin')}")) == ["alan@example.com"]
    assert listed(browser.get("/admin/users?q=HOPP&sort=email")) == [grace.email]
    assert listed(browser.get("/admin/users?active=no")) == []
    assert "No user matches." in browser.get("/admin/users?active=no").text
    assert listed(browser.get("/admin/users?active=yes&sort=email")) == [
        "ada@example.com", "alan@example.com", "grace@example.com", "root@example.com"]


def test_created_dates_and_the_total(app, browser_as, make_user):
    old, new = make_user(email="old@example.com"), make_user(email="new@example.com")
    with app.app_context():
        db.session.get(User, old.id).created_at = datetime(2020, 5, 1, 12, tzinfo=timezone.utc)
        db.session.get(User, new.id).created_at = datetime(2024, 5, 1, 12, tzinfo=timezone.utc)
        db.session.commit()
    browser = browser_as("admin", email="me@example.com")
    assert listed(browser.get("/admin/users?created_to=2021-01-01")) == [old.email]
    assert listed(browser.get("/admin/users?created_from=2020-05-02&created_to=2024-05-01")) == []
    assert listed(browser.get("/admin/users?created_from=2024-05-01&created_to=2024-05-02")) == [new.email]
    assert listed(browser.get("/admin/users?created_from=2021-01-01&sort=email")) == [
        "me@example.com", "new@example.com"]
    assert "in all" not in browser.get("/admin/users").text
    counted = browser.get("/admin/users?total=y&limit=1")
    assert len(listed(counted)) == 1
    assert "Matching users: 3 in all" in counted.text


def test_keyset_pages_carry_the_filters_and_the_cursor(browser_as, make_user):
    for letter in "abcde":
        make_user(email=f"{letter}@example.com", fullname="Paged")
    browser = browser_as("admin", fullname="Somebody Else")
    seen = []
    path = "/admin/users?fullname=Paged&sort=email&limit=2"
    pages = 0
    while path:
        response = browser.get(path)
        assert response.status_code == 200
        assert len(listed(response)) <= 2
        seen += listed(response)
        path = next_link(response)
        if path:
            assert "fullname=Paged" in path and "sort=email" in path and "limit=2" in path and "cursor=" in path
            assert "OFFSET" not in path.upper()
        pages += 1
    assert seen == [f"{letter}@example.com" for letter in "abcde"]
    assert pages == 3
    # A later page links back to the first.
    later = browser.get("/admin/users?fullname=Paged&sort=email&limit=2&cursor=" +
                        next_link(browser.get("/admin/users?fullname=Paged&sort=email&limit=2")).split("cursor=")[1])
    assert "First page" in later.text


@pytest.mark.parametrize("query", [
    "limit=0", "limit=101", "limit=abc", "verified=maybe", "active=2", "sort=password", "role=not-a-role",
    f"role={uuid.uuid4()}", "cursor=garbage", "created_from=yesterday", "created_to=2024-13-01", "email=a%01b",
    "phone=%7F", "q=" + "x" * 201,
])
def test_bad_filters_answer_the_400_page(browser_as, query):
    response = browser_as("admin").get(f"/admin/users?{query}")
    assert response.status_code == 400
    assert response.mimetype == "text/html"
    assert 'class="field-errors"' in response.text
    assert "<table" not in response.text


HOSTILE = ["\t", '"', "\\", "\x1f\x7f", "é", "\u202e", "%", "%zz", "a" * 5000, "../..", "-1", "1e309", "null",
           "[]", "2024-02-30", "0", "9" * 40]
PARAMETERS = ["q", "email", "fullname", "phone", "role", "verified", "active", "created_from", "created_to", "sort",
              "limit", "total", "cursor"]


def test_hostile_values_in_every_filter_never_reach_a_500(browser_as, make_user):
    person = make_user()
    browser = browser_as("superAdmin")
    for name in PARAMETERS:
        for value in HOSTILE:
            response = browser.http.get("/admin/users", query_string={name: value})
            assert response.status_code in (200, 400), (name, value, response.status_code)
    for value in HOSTILE:
        response = browser.http.get(f"/admin/users/{person.id}", query_string={"history": value})
        assert response.status_code in (200, 400), (value, response.status_code)
    for value in HOSTILE:
        response = browser.http.post(f"/admin/users/{person.id}/roles", data={"role_id": value,
                                                                              "csrf_token": browser.token})
        assert response.status_code == 303, (value, response.status_code)
    for path in ("/admin/users/new", f"/admin/users/{person.id}/edit"):
        for name in ("email", "fullname", "password", "phone", "roles", "avatar", "locality", "email_verified"):
            for value in HOSTILE:
                form = {"email": "hostile@example.com", "fullname": "Hostile", name: value}
                response = post(browser, path, form)
                assert response.status_code in (303, 400), (path, name, value, response.status_code)


def test_a_nul_in_a_filter_is_400_not_500(browser_as):
    response = browser_as("admin").get("/admin/users?email=a%00b")
    assert response.status_code == 400
    assert response.mimetype == "text/html"


def test_a_cursor_of_another_sort_is_refused(browser_as, make_user):
    for _ in range(3):
        make_user()
    browser = browser_as("admin")
    cursor = next_link(browser.get("/admin/users?limit=1")).split("cursor=")[1]
    response = browser.get(f"/admin/users?limit=1&sort=email&cursor={cursor}")
    assert response.status_code == 400
    assert "The cursor is not valid for this list" in response.text


# --- one user ------------------------------------------------------------------------------------------

def test_the_user_page_shows_profile_roles_sessions_and_history(app, browser_as, make_user, client):
    person = make_user(email="person@example.com", fullname="Person Example", roles=("admin",))
    assert AuthActions(client).login(person.email, "wrong password").status_code != 303
    assert AuthActions(client).login(person.email, person.password).status_code == 303
    browser = browser_as("superAdmin")
    response = browser.get(f"/admin/users/{person.id}")
    assert response.status_code == 200
    text = response.text
    assert "<h1>Person Example</h1>" in text
    assert str(person.id) in text and "person@example.com" in text
    assert "<dt>Primary role</dt><dd>admin</dd>" in text
    assert "Wrong password" in text and "Signed in" in text
    assert text.count('<tr data-session-id="') == 1
    assert "End this session" in text and "End every session" in text
    assert "Deactivate the account" in text and "Force a password reset" in text
    assert 'aria-label="Remove the admin role"' in text
    assert 'aria-label="Remove the user role"' not in text
    assert '<option value="%s">superAdmin</option>' % role_id(app, "superAdmin") in text


def test_a_reader_sees_the_user_but_no_sessions_and_no_actions(browser_as, make_user, reader_role):
    person = make_user(roles=("admin",))
    response = browser_as(reader_role).get(f"/admin/users/{person.id}")
    assert response.status_code == 200
    assert "Sessions" not in response.text
    assert 'method="post"' not in response.text
    assert "Deactivate" not in response.text and "Add the role" not in response.text and "Edit" not in response.text
    assert "Remove" not in response.text


def test_an_unknown_user_is_404(browser_as):
    browser = browser_as("admin")
    response = browser.get(f"/admin/users/{uuid.uuid4()}")
    assert response.status_code == 404
    assert response.mimetype == "text/html"
    assert "There is no user with this id." in response.text
    assert browser.get("/admin/users/not-a-uuid").status_code == 404
    assert post(browser, f"/admin/users/{uuid.uuid4()}/deactivate").status_code == 404
    assert post(browser, f"/admin/users/{uuid.uuid4()}/sessions/end-all").status_code == 404


def test_a_bad_history_cursor_is_400(browser_as, make_user):
    person = make_user()
    browser = browser_as("admin")
    for cursor in ("garbage", "A" * 1025):
        response = browser.get(f"/admin/users/{person.id}?history={cursor}")
        assert response.status_code == 400
        assert response.mimetype == "text/html"
        assert "The cursor is not valid for this list" in response.text


def test_history_pages(app, browser_as, make_user, client, monkeypatch):
    from app.pages.console import users as page

    monkeypatch.setattr(page, "HISTORY_PAGE", 2)
    person = make_user()
    for _ in range(3):
        AuthActions(client).login(person.email, "wrong password")
    browser = browser_as("admin")
    first = browser.get(f"/admin/users/{person.id}")
    assert first.text.count("Wrong password") == 2
    older = re.search(r'<a href="([^"]+)" rel="next">Older sign-ins</a>', first.text).group(1)
    second = browser.get(unescape(older))
    assert second.status_code == 200
    assert second.text.count("Wrong password") == 1
    assert "Newest" in second.text and "Older sign-ins" not in second.text


# --- actions -------------------------------------------------------------------------------------------

def test_assign_and_remove_a_role(app, browser_as, make_user):
    person = make_user()
    browser = browser_as("admin")
    admin_role = role_id(app, "admin")
    response = post(browser, f"/admin/users/{person.id}/roles", {"role_id": str(admin_role)})
    assert response.status_code == 303
    assert response.headers["Location"] == f"/admin/users/{person.id}"
    assert roles_of(app, person.id) == ["admin", "user"]
    assert notices(browser.get(f"/admin/users/{person.id}")) == [("info", "The role was added.")]
    response = post(browser, f"/admin/users/{person.id}/roles/{admin_role}/remove")
    assert response.status_code == 303
    assert roles_of(app, person.id) == ["user"]
    assert notices(browser.get(f"/admin/users/{person.id}")) == [("info", "The role was removed.")]
    with app.app_context():
        actions = db.session.scalars(select(AuditEvent.action).where(AuditEvent.action == "user.roles")).all()
        assert len(actions) == 2


def test_role_refusals_are_flashed(app, browser_as, make_user):
    person = make_user()
    browser = browser_as("admin")
    # An admin lacks keys:* and roles:write: superAdmin is not theirs to hand out.
    response = post(browser, f"/admin/users/{person.id}/roles", {"role_id": str(role_id(app, "superAdmin"))})
    assert response.status_code == 303
    assert roles_of(app, person.id) == ["user"]
    [(kind, message)] = notices(browser.get(f"/admin/users/{person.id}"))
    assert kind == "error" and "you do not hold it" in message
    post(browser, f"/admin/users/{person.id}/roles/{role_id(app, 'user')}/remove")
    assert notices(browser.get(f"/admin/users/{person.id}")) == [("error", "Every account keeps the user role.")]
    post(browser, f"/admin/users/{person.id}/roles/{uuid.uuid4()}/remove")
    assert notices(browser.get(f"/admin/users/{person.id}")) == [("error", "No such role.")]
    post(browser, f"/admin/users/{person.id}/roles", {"role_id": "nonsense"})
    assert notices(browser.get(f"/admin/users/{person.id}")) == [("error", "Choose a role to add.")]


def test_the_last_superadmin_keeps_the_role_and_stays_active(app, browser_as):
    browser = browser_as("superAdmin")
    me = browser.user.id
    post(browser, f"/admin/users/{me}/roles/{role_id(app, 'superAdmin')}/remove")
    [(kind, message)] = notices(browser.get(f"/admin/users/{me}"))
    assert kind == "error" and "last active superAdmin" in message
    post(browser, f"/admin/users/{me}/deactivate")
    [(kind, message)] = notices(browser.get(f"/admin/users/{me}"))
    assert kind == "error" and "last active superAdmin" in message
    assert "superAdmin" in roles_of(app, me)


def test_deactivate_and_reactivate(app, browser_as, make_user):
    person = make_user()
    other = browser_as("user")
    browser = browser_as("admin")
    response = post(browser, f"/admin/users/{other.user.id}/deactivate")
    assert response.status_code == 303
    page = browser.get(f"/admin/users/{other.user.id}")
    assert notices(page)[0][0] == "info"
    assert "Reactivate the account" in page.text
    assert live_sessions(app, other.user.id) == []
    assert listed(browser.get("/admin/users?active=no")) == [other.user.email]
    response = post(browser, f"/admin/users/{other.user.id}/reactivate")
    assert response.status_code == 303
    page = browser.get(f"/admin/users/{other.user.id}")
    assert notices(page) == [("info", "The account was reactivated: it may sign in again.")]
    assert "Deactivate the account" in page.text
    with app.app_context():
        assert accounts.find_by_email(person.email).is_active


def test_end_one_session_and_all_sessions(app, browser_as, make_user):
    person = make_user()
    for _ in range(3):
        Browser(app, person)
    ids = live_sessions(app, person.id)
    assert len(ids) == 3
    browser = browser_as("admin")
    page = browser.get(f"/admin/users/{person.id}")
    assert page.text.count('<tr data-session-id="') == 3
    response = post(browser, f"/admin/users/{person.id}/sessions/{ids[0]}/end")
    assert response.status_code == 303
    assert notices(browser.get(f"/admin/users/{person.id}")) == [("info", "The session was ended.")]
    assert sorted(live_sessions(app, person.id)) == sorted(ids[1:])
    post(browser, f"/admin/users/{person.id}/sessions/{ids[0]}/end")
    assert notices(browser.get(f"/admin/users/{person.id}")) == [("error", "No such session.")]
    response = post(browser, f"/admin/users/{person.id}/sessions/end-all")
    assert response.status_code == 303
    assert notices(browser.get(f"/admin/users/{person.id}")) == [("info", "Sessions ended: 2.")]
    assert live_sessions(app, person.id) == []
    assert "No live session." in browser.get(f"/admin/users/{person.id}").text


def test_force_a_password_reset(app, browser_as, make_user, mailbox):
    person = make_user()
    Browser(app, person)
    browser = browser_as("admin")
    response = post(browser, f"/admin/users/{person.id}/password-reset")
    assert response.status_code == 303
    assert notices(browser.get(f"/admin/users/{person.id}")) == [
        ("info", "The password no longer works and a reset code was mailed. Sessions ended: 1.")]
    with app.app_context():
        assert accounts.find_by_email(person.email).password_hash is None
    assert live_sessions(app, person.id) == []


def test_an_admin_cannot_reset_a_superadmin(app, browser_as, make_user):
    root = make_user(roles=("superAdmin",))
    browser = browser_as("admin")
    post(browser, f"/admin/users/{root.id}/password-reset")
    [(kind, message)] = notices(browser.get(f"/admin/users/{root.id}"))
    assert kind == "error" and "which you do not: you cannot change it" in message
    with app.app_context():
        assert accounts.find_by_email(root.email).password_hash is not None


def edit_form(user, **changes) -> dict:
    return {"fullname": user.fullname, "email": user.email, "phone": user.phone or "", "avatar": user.avatar,
            "street_address": "", "locality": "", "region": "", "postal_code": "", "country": "", **changes}


def test_edit_the_profile(app, browser_as, make_user, mailbox):
    person = make_user(email="before@example.com", fullname="Before Name")
    browser = browser_as("admin")
    page = browser.get(f"/admin/users/{person.id}/edit")
    assert page.status_code == 200
    assert 'value="Before Name"' in page.text and 'value="before@example.com"' in page.text
    with app.app_context():
        user = db.session.get(User, person.id)
        current = edit_form(user)
    response = post(browser, f"/admin/users/{person.id}/edit",
                    {**current, "fullname": "After Name", "email": "after@example.com", "phone": "+15550001111",
                     "locality": "Paris", "country": "France"})
    assert response.status_code == 303
    assert response.headers["Location"] == f"/admin/users/{person.id}"
    page = browser.get(f"/admin/users/{person.id}")
    assert notices(page) == [("info", "The account was saved. A code was mailed to the new address to verify it.")]
    assert "<h1>After Name</h1>" in page.text and "Paris, France" in page.text
    with app.app_context():
        user = db.session.get(User, person.id)
        assert (user.email, user.email_verified, user.phone) == ("after@example.com", False, "+15550001111")
        event = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "user.update")).one()
        assert event.after["fullname"] == "After Name"
        unchanged = edit_form(user, locality="Paris", country="France")
    post(browser, f"/admin/users/{person.id}/edit", unchanged)
    assert notices(browser.get(f"/admin/users/{person.id}")) == [("info", "Nothing was changed.")]


def test_edit_refusals_show_the_form(app, browser_as, make_user):
    person, other = make_user(), make_user()
    root = make_user(roles=("superAdmin",))
    browser = browser_as("admin")
    with app.app_context():
        current = edit_form(db.session.get(User, person.id))
        root_form = edit_form(db.session.get(User, root.id))
    for changes, field, text in [({"fullname": ""}, "fullname", "This field is required."),
                                 ({"email": other.email}, "email", "already exists"),
                                 ({"email": "not an address"}, "email", ""),
                                 ({"avatar": "http://insecure.example.com/a.png"}, "avatar", ""),
                                 ({"fullname": "x" * 201}, "fullname", "")]:
        response = post(browser, f"/admin/users/{person.id}/edit", {**current, **changes})
        assert response.status_code == 400, changes
        assert f'id="{field}-errors"' in response.text, changes
        assert text in unescape(response.text)
    response = post(browser, f"/admin/users/{root.id}/edit", {**root_form, "fullname": "Taken Over"})
    assert response.status_code == 400
    assert "you cannot change it" in unescape(response.text)
    assert browser.get(f"/admin/users/{uuid.uuid4()}/edit").status_code == 404
    with app.app_context():
        assert db.session.get(User, root.id).fullname == "Ada Lovelace"


def test_actions_need_their_permission(app, browser_as, make_user, reader_role):
    person = make_user()
    admin_role = role_id(app, "admin")
    session_id = uuid.uuid4()
    actions = [(f"/admin/users/{person.id}/roles", {"role_id": str(admin_role)}),
               (f"/admin/users/{person.id}/roles/{admin_role}/remove", {}),
               (f"/admin/users/{person.id}/sessions/{session_id}/end", {}),
               (f"/admin/users/{person.id}/sessions/end-all", {}),
               (f"/admin/users/{person.id}/deactivate", {}),
               (f"/admin/users/{person.id}/reactivate", {}),
               (f"/admin/users/{person.id}/password-reset", {}),
               (f"/admin/users/{person.id}/edit", {"fullname": "Changed", "email": person.email}),
               ("/admin/users/new", {"email": "x@example.com", "fullname": "X"})]
    for role in ("user", reader_role):
        browser = browser_as(role)
        for path, data in actions:
            response = post(browser, path, data)
            assert response.status_code == 403, (role, path)
            assert response.mimetype == "text/html"
    assert roles_of(app, person.id) == ["user"]
    with app.app_context():
        assert accounts.find_by_email("x@example.com") is None


def test_actions_without_the_csrf_token_are_400(app, browser_as, make_user):
    person = make_user()
    browser = browser_as("superAdmin")
    admin_role = role_id(app, "admin")
    for path, data in [(f"/admin/users/{person.id}/roles", {"role_id": str(admin_role)}),
                       (f"/admin/users/{person.id}/roles/{admin_role}/remove", {}),
                       (f"/admin/users/{person.id}/sessions/end-all", {}),
                       (f"/admin/users/{person.id}/deactivate", {}),
                       (f"/admin/users/{person.id}/reactivate", {}),
                       (f"/admin/users/{person.id}/password-reset", {}),
                       (f"/admin/users/{person.id}/edit", {"fullname": "Changed", "email": person.email}),
                       ("/admin/users/new", {"email": "x@example.com", "fullname": "X"})]:
        response = post(browser, path, data, csrf=False)
        assert response.status_code == 400, path
        assert response.mimetype == "text/html"
    assert roles_of(app, person.id) == ["user"]
    with app.app_context():
        assert accounts.find_by_email(person.email).is_active
        assert accounts.find_by_email(person.email).password_hash is not None
        assert accounts.find_by_email("x@example.com") is None


# --- a new user ----------------------------------------------------------------------------------------

def test_create_a_user(app, browser_as, mailbox):
    browser = browser_as("admin")
    form = browser.get("/admin/users/new")
    assert form.status_code == 200
    assert '<label for="email">Email address</label>' in form.text
    response = post(browser, "/admin/users/new", {"email": "New.Person@Example.com", "fullname": "New Person",
                                                  "phone": "+15551234567", "roles": str(role_id(app, "admin"))})
    assert response.status_code == 303
    with app.app_context():
        created = accounts.find_by_email("new.person@example.com")
        assert created is not None and created.password_hash is None and not created.email_verified
        assert sorted(created.role_names) == ["admin", "user"]
        created_id = created.id
    assert response.headers["Location"] == f"/admin/users/{created_id}"
    page = browser.get(f"/admin/users/{created_id}")
    assert notices(page) == [("info", "The account new.person@example.com was created. "
                                      "Its owner was mailed a code to set a password.")]
    assert "+15551234567" in page.text


def test_create_with_a_password_and_verified(app, browser_as):
    browser = browser_as("superAdmin")
    response = post(browser, "/admin/users/new", {"email": "pw@example.com", "fullname": "With Password",
                                                  "password": "a long enough passphrase here",
                                                  "email_verified": "y"})
    assert response.status_code == 303
    with app.app_context():
        created = accounts.find_by_email("pw@example.com")
        assert created.password_hash is not None and created.email_verified


@pytest.mark.parametrize("data, field, message", [
    ({"email": "", "fullname": "X"}, "email", "This field is required."),
    ({"email": "not-an-address", "fullname": "X"}, "email", None),
    ({"email": "ok@example.com", "fullname": "X", "password": "short"}, "password", None),
    ({"email": "ok@example.com", "fullname": "X", "roles": "not-a-role"}, "roles", None),
])
def test_create_refuses_bad_input_with_the_form(browser_as, data, field, message):
    browser = browser_as("superAdmin")
    response = post(browser, "/admin/users/new", data)
    assert response.status_code == 400
    assert f'id="{field}-errors"' in response.text
    if message:
        assert message in response.text


def test_create_refuses_a_taken_address_and_a_role_not_held(app, browser_as, make_user):
    taken = make_user()
    browser = browser_as("admin")
    response = post(browser, "/admin/users/new", {"email": taken.email, "fullname": "X"})
    assert response.status_code == 400
    assert "An account with this email address already exists." in unescape(response.text)
    # A role granting what the admin does not hold is not offered, and not taken when forged.
    assert f'value="{role_id(app, "superAdmin")}"' not in browser.get("/admin/users/new").text
    assert f'value="{role_id(app, "admin")}"' in browser.get("/admin/users/new").text
    response = post(browser, "/admin/users/new", {"email": "fresh@example.com", "fullname": "X",
                                                  "roles": str(role_id(app, "superAdmin"))})
    assert response.status_code == 400
    assert "is not a valid choice for this field" in unescape(response.text)
    with app.app_context():
        assert accounts.find_by_email("fresh@example.com") is None


def test_the_edit_form_shows_an_account_only_to_who_may_read_and_change_it(app, browser_as, make_user):
    """The form is filled with the account's data: users:write alone does not show it (users:read
    does), and an account out of the admin's reach (a superAdmin, to an admin) is not offered."""
    from app.services import audit

    person = make_user()
    root = make_user(roles=("superAdmin",))
    with app.app_context():
        rbac.create_role(audit.Actor.system(), frozenset({"users:write"}), "writer", "", {"users:write"})
        db.session.commit()
    assert browser_as("writer").get(f"/admin/users/{person.id}/edit").status_code == 403
    admin = browser_as("admin")
    assert admin.get(f"/admin/users/{person.id}/edit").status_code == 200
    refused = admin.get(f"/admin/users/{root.id}/edit")
    assert refused.status_code == 302 and refused.headers["Location"] == f"/admin/users/{root.id}"
    assert "you cannot change it" in unescape(admin.get(f"/admin/users/{root.id}").text)


def test_an_account_out_of_reach_is_shown_without_actions(browser_as, make_user):
    """An admin reads a superAdmin's page but is offered none of the changes every service would
    refuse (deactivate, edit, roles, sessions)."""
    root = make_user(roles=("superAdmin",))
    page = browser_as("admin").get(f"/admin/users/{root.id}")
    assert page.status_code == 200
    assert "you can read it, not change it" in page.text
    assert "<form" not in page.text.split("<main", 1)[1].split("</main>")[0].replace('method="get"', "")
