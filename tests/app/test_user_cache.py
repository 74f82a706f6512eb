"""The user cache: a read after every kind of write shows the new value, across processes too; a
Redis outage reads the database; and a warm cache really saves queries."""

import re
import socket
import threading
from uuid import UUID

import pytest
from sqlalchemy import bindparam
from sqlalchemy import delete
from sqlalchemy import event
from sqlalchemy import insert
from sqlalchemy import select
from sqlalchemy import update

from app.api.schemas.users import UserOut
from app.extensions import db
from app.models import Permission
from app.models import Role
from app.models import User
from app.models import role_permissions
from app.models import user_roles
from app.services import accounts
from app.services import email_change
from app.services import passwords
from app.services import profile
from app.services import user_cache

from ..helpers import Browser
from ..helpers import TcpProxy
from ..helpers import bearer
from ..helpers import grant_tokens
from ..helpers import production_only
from ..helpers import wait_until

PATH = "/api/v1/admin/permissions"  # needs roles:read (admin and superAdmin hold it)
NEW_PASSWORD = "an entirely different passphrase"
USER_TABLES = re.compile(r"\b(users|profiles|user_roles|roles|permissions|role_permissions)\b")


def role_names(current_user: dict) -> list[str]:
    """The role names /currentuser shows, most privileged first."""
    return [role["name"] for role in current_user["roles"]]


def fullname(browser) -> str:
    response = browser.get("/currentuser")
    assert response.status_code == 200
    return response.get_json()["fullname"]


def role_id(name: str) -> UUID:
    return db.session.scalar(select(Role.id).where(Role.name == name))


def test_the_cached_user_is_shown_like_the_stored_one(app, make_user):
    """UserOut (the admin API's and /currentuser's user object) takes the cached copy as it takes
    the database's row, so admin reads can be served from the cache."""
    user = make_user(roles=("admin",))
    with app.app_context():
        profile.update_profile(user.id, {"address": {"locality": "London"}, "birthdate": "1990-12-10"})
        cached = user_cache.get(user.id)
        assert UserOut.of(cached) == UserOut.of(db.session.get(User, user.id))
        assert cached.profile.birthdate.isoformat() == "1990-12-10"
        assert user_cache.get(user.id) == cached  # read back from the cache, decoded alike


def test_a_profile_update_is_read_at_once(app, browser_as):
    """/currentuser and the cached profile show a profile change made through the service."""
    browser = browser_as()
    assert fullname(browser) == "Ada Lovelace"
    with app.app_context():
        profile.update_profile(browser.user.id, {"fullname": "Ada King", "given_name": "Ada"})
    assert fullname(browser) == "Ada King"
    with app.app_context():
        assert user_cache.get(browser.user.id).profile.given_name == "Ada"


def test_userinfo_reads_a_profile_update_at_once(app, make_client, browser_as):
    """/oauth/userinfo reads the user through the cache, and sees the change."""
    application = make_client(skip_consent=True)
    browser = browser_as()
    token = grant_tokens(browser.http, application)["access_token"]
    http = app.test_client()
    assert http.get("/oauth/userinfo", headers=bearer(token)).get_json()["name"] == "Ada Lovelace"
    with app.app_context():
        profile.update_profile(browser.user.id, {"fullname": "Ada King", "family_name": "King"})
    claims = http.get("/oauth/userinfo", headers=bearer(token)).get_json()
    assert (claims["name"], claims["family_name"]) == ("Ada King", "King")


def test_an_email_change_is_read_at_once_by_id_and_by_email(app, browser_as, mailbox):
    """The confirmed change shows on /currentuser; the old address finds nobody, the new one the user."""
    browser = browser_as()
    old, new = browser.user.email, f"renamed-{browser.user.email}"
    with app.app_context():
        assert user_cache.by_email(old.upper()).id == browser.user.id  # fills the email index
        email_change.request_change(browser.user.id, new, browser.user.password)
    code = mailbox.last_code(new)
    with app.app_context():
        email_change.confirm_change(browser.user.id, code)
    assert browser.get("/currentuser").get_json()["email"] == new
    with app.app_context():
        assert user_cache.by_email(old) is None
        assert user_cache.by_email(new).id == browser.user.id
        assert user_cache.by_email("nobody@example.com") is None


def test_a_role_assignment_and_removal_are_read_at_once(app, browser_as):
    """Roles changed through the ORM relationship: the guard and /currentuser follow at once."""
    browser = browser_as()
    assert browser.get(PATH).status_code == 403
    with app.app_context():
        user = db.session.get(User, browser.user.id)
        user.roles.append(db.session.get(Role, role_id("admin")))
        db.session.commit()
    assert browser.get(PATH).status_code == 200
    assert role_names(browser.get("/currentuser").get_json()) == ["admin", "user"]
    with app.app_context():
        user = db.session.get(User, browser.user.id)
        user.roles = [role for role in user.roles if role.name != "admin"]
        db.session.commit()
    assert browser.get(PATH).status_code == 403
    assert role_names(browser.get("/currentuser").get_json()) == ["user"]


def test_a_role_given_at_creation_is_read(app, browser_as):
    """accounts.create_user with extra roles: the new account's first read holds them."""
    browser = browser_as("superAdmin")
    assert browser.get(PATH).status_code == 200
    with app.app_context():
        assert "keys:write" in user_cache.permissions_of(browser.user.id)


def test_core_statements_on_the_user_tables_are_read_at_once(app, browser_as):
    """INSERT/DELETE on user_roles and UPDATE on users as Core statements, by id or by another column."""
    browser = browser_as()
    uid = browser.user.id
    assert browser.get(PATH).status_code == 403
    with app.app_context():
        db.session.execute(insert(user_roles).values(user_id=uid, role_id=role_id("admin")))
        db.session.commit()
    assert browser.get(PATH).status_code == 200
    with app.app_context():
        db.session.execute(delete(user_roles).where(user_roles.c.user_id == uid,
                                                    user_roles.c.role_id == role_id("admin")))
        db.session.commit()
    assert browser.get(PATH).status_code == 403
    with app.app_context():
        db.session.execute(update(User).where(User.id.in_([uid])).values(fullname="By Id"))
        db.session.commit()
    assert fullname(browser) == "By Id"
    with app.app_context():  # no id in the statement: every user is dropped
        db.session.execute(update(User).where(User.email == browser.user.email).values(fullname="By Email"))
        db.session.commit()
    assert fullname(browser) == "By Email"
    with app.app_context():  # an executemany whose ids are bound row by row
        users = User.__table__
        db.session.execute(update(users).where(users.c.id == bindparam("uid")).values(fullname=bindparam("name")),
                           [{"uid": uid, "name": "Bound"}])
        db.session.commit()
    assert fullname(browser) == "Bound"
    with app.app_context():  # assignments of a role, whoever holds it
        db.session.execute(insert(user_roles).values(user_id=uid, role_id=role_id("admin")))
        db.session.commit()
        assert "users:read" in user_cache.permissions_of(uid)
        db.session.execute(delete(user_roles).where(user_roles.c.role_id == role_id("admin")))
        db.session.commit()
        assert user_cache.permissions_of(uid) == frozenset()


def test_a_role_permission_change_reaches_every_holder(app, browser_as):
    """Taking a permission from a role, then giving it back (ORM, then Core), for both holders."""
    with app.app_context():
        readable = db.session.scalar(select(Permission).where(Permission.name == "roles:read"))
        role = Role(name="auditor", permissions=[readable])
        db.session.add(role)
        db.session.commit()
        auditor, permission_id = role.id, readable.id
    holders = [browser_as("auditor"), browser_as("auditor")]
    assert [holder.get(PATH).status_code for holder in holders] == [200, 200]
    with app.app_context():
        db.session.get(Role, auditor).permissions = []
        db.session.commit()
    assert [holder.get(PATH).status_code for holder in holders] == [403, 403]
    with app.app_context():
        db.session.execute(insert(role_permissions).values(role_id=auditor, permission_id=permission_id))
        db.session.commit()
    assert [holder.get(PATH).status_code for holder in holders] == [200, 200]


def test_superadmin_holds_a_new_permission_at_once(app, make_user):
    """A permission added later is superAdmin's at once, cached or not."""
    admin = make_user(roles=("superAdmin",))
    with app.app_context():
        assert "reports:read" not in user_cache.permissions_of(admin.id)
        db.session.add(Permission(name="reports:read", description="Read reports"))
        db.session.commit()
        assert "reports:read" in user_cache.permissions_of(admin.id)


@pytest.mark.parametrize("how", ["row", "service"])
def test_deactivation_is_refused_at_once(app, make_client, browser_as, how):
    """The row alone (sessions and tokens left as they are), or accounts.deactivate: the session
    and the bearer token stop at once, and the guard refuses the token with Access Denied."""
    application = make_client(skip_consent=True, scope="openid profile email admin account")
    browser = browser_as("admin")
    token = grant_tokens(browser.http, application, scope="openid admin account")["access_token"]
    http = app.test_client()
    assert http.get(PATH, headers=bearer(token)).status_code == 200
    assert http.get("/currentuser", headers=bearer(token)).status_code == 200
    assert browser.get("/currentuser").status_code == 200
    with app.app_context():
        if how == "row":
            db.session.get(User, browser.user.id).is_active = False
            db.session.commit()
        else:
            accounts.deactivate(browser.user.email)
    assert browser.get("/currentuser").status_code == 401
    assert browser.get(PATH).status_code == 401
    assert http.get("/currentuser", headers=bearer(token)).status_code == 401
    if how == "row":  # the service also revokes the token, which the guard then calls invalid
        denied = http.get(PATH, headers=bearer(token))
        assert denied.status_code == 403 and denied.get_json()["title"] == "Access Denied"
    with app.app_context():
        assert user_cache.active(browser.user.id) is None
        assert user_cache.permissions_of(browser.user.id) == frozenset()


def test_a_password_change_is_read_at_once(app, browser_as):
    """The kept session goes on with the new updated_at; the other session ends; no hash is cached."""
    browser = browser_as()
    other = Browser(app, browser.user)
    assert fullname(browser) == fullname(other) == "Ada Lovelace"
    with app.app_context():
        before = user_cache.get(browser.user.id).updated_at
        passwords.change_password(browser.user.id, browser.user.password, NEW_PASSWORD,
                                  keep=UUID(browser.session_id()))
        stored = db.session.get(User, browser.user.id).updated_at
        assert user_cache.get(browser.user.id).updated_at == stored != before
        assert not hasattr(user_cache.get(browser.user.id), "password_hash")
    assert browser.get("/currentuser").status_code == 200
    assert other.get("/currentuser").status_code == 401


def test_two_app_objects_see_each_others_invalidations(make_app, make_user):
    """Like two processes on one database (and one Redis, or the SQLite generation files)."""
    first, second = make_app(), make_app()
    user = make_user()
    browser = Browser(first, user)
    assert fullname(browser) == "Ada Lovelace"
    with second.app_context():
        profile.update_profile(user.id, {"fullname": "Ada King"})
    assert fullname(browser) == "Ada King"
    with second.app_context():
        assert user_cache.permissions_of(user.id) == frozenset()
    with first.app_context():
        account = db.session.get(User, user.id)
        account.roles.append(db.session.get(Role, role_id("admin")))
        db.session.commit()
    with second.app_context():
        assert "users:read" in user_cache.permissions_of(user.id)


def test_a_change_not_yet_committed_is_seen_only_by_its_unit_of_work(app, make_user):
    """Flushed but not committed: read through the unit of work, stored nowhere; a rollback leaves
    the cached user as committed."""
    user = make_user()
    with app.app_context():
        assert user_cache.get(user.id).fullname == "Ada Lovelace"
        db.session.get(User, user.id).fullname = "Uncommitted"
        db.session.flush()
        assert user_cache.get(user.id).fullname == "Uncommitted"
        db.session.rollback()
        assert user_cache.get(user.id).fullname == "Ada Lovelace"
    with app.app_context():
        assert user_cache.get(user.id).fullname == "Ada Lovelace"


def test_a_request_reads_its_own_committed_change(app, make_user):
    """A request reads a user once, and anew after it commits (its session check and view share
    the first read; a change it made itself is never hidden by it), flushed or committed."""
    user = make_user()
    with app.test_request_context():
        assert user_cache.get(user.id).fullname == "Ada Lovelace"
        db.session.get(User, user.id).fullname = "Ada King"
        db.session.flush()
        assert user_cache.get(user.id).fullname == "Ada King"
        db.session.commit()
        assert user_cache.get(user.id).fullname == "Ada King"
        profile.update_profile(user.id, {"fullname": "Ada Byron", "given_name": "Ada"})
        assert user_cache.active(user.id).fullname == "Ada Byron"
    with app.test_request_context():
        assert user_cache.get(user.id).fullname == "Ada Byron"


def test_a_reader_that_loaded_the_old_row_does_not_store_it_after_the_commit(app, make_user):
    """The race of a reader and a writer: the reader has read the user's row when the writer
    commits and invalidates; what the reader then stores must not outlive the commit."""
    user = make_user()
    reader = threading.get_ident()
    state = {"done": False}

    def write_in_between(_connection, _cursor, statement, *_args):
        # The roles are read after the user's row: the row is in hand, no statement is open.
        if not state["done"] and threading.get_ident() == reader and "user_roles" in statement:
            state["done"] = True
            writer = threading.Thread(target=rename, args=("Ada King",))
            writer.start()
            writer.join()

    def rename(name):
        with app.app_context():
            profile.update_profile(user.id, {"fullname": name})

    with app.app_context():
        engine = db.engine
        event.listen(engine, "before_cursor_execute", write_in_between)
        try:
            assert user_cache.get(user.id).fullname == "Ada Lovelace"  # loaded before the commit
        finally:
            event.remove(engine, "before_cursor_execute", write_in_between)
        assert state["done"]
        assert user_cache.get(user.id).fullname == "Ada King"


def test_a_warm_cache_saves_queries(make_app, make_user):
    """/currentuser: once the user is cached, no statement reads the user's tables (the session
    lookup remains); without the cache, the account, its roles and permissions are read each time."""
    user = make_user()

    def statements(app) -> list[str]:
        browser = Browser(app, user)
        assert browser.get("/currentuser").status_code == 200
        seen = []
        with app.app_context():
            engine = db.engine

        def record(_connection, _cursor, statement, *_args):
            seen.append(statement)

        event.listen(engine, "before_cursor_execute", record)
        try:
            assert browser.get("/currentuser").status_code == 200
        finally:
            event.remove(engine, "before_cursor_execute", record)
        return seen

    def of_users(seen: list[str]) -> list[str]:
        return [statement for statement in seen if USER_TABLES.search(statement)]

    cold, warm = statements(make_app(USER_CACHE_TTL=0)), statements(make_app())
    assert len(warm) < len(cold)
    assert of_users(warm) == [] and len(of_users(cold)) >= 2


@production_only
def test_a_redis_outage_falls_back_to_the_database(make_app, make_user, private_redis, sql_statements):
    """The cache is trusted only while notices can arrive. A process cut off from Redis (its
    subscription dropped, then Redis stopped) reads every user from the database, so a change
    another process announced meanwhile, unheard, is never hidden; once it listens again it drops
    what it held and caches again."""
    proxy = TcpProxy("127.0.0.1", private_redis.port)
    try:
        server = make_app(REDIS_URL=f"redis://127.0.0.1:{proxy.port}/0")
        operator = make_app(REDIS_URL=f"redis://127.0.0.1:{private_redis.port}/0")
        user = make_user()
        browser = Browser(server, user)
        assert fullname(browser) == "Ada Lovelace"
        with sql_statements(server) as sent:
            assert fullname(browser) == "Ada Lovelace"
        assert not [statement for statement in sent if USER_TABLES.search(statement)]  # cached

        proxy.cut()
        with operator.app_context():
            profile.update_profile(user.id, {"fullname": "Ada King"})  # announced; the server hears nothing
        assert fullname(browser) == "Ada King"

        proxy.restore()
        wait_until(lambda: fullname(browser) == "Ada King" and _listening(server))
        with operator.app_context():
            profile.update_profile(user.id, {"fullname": "Ada Byron"})
        assert fullname(browser) == "Ada Byron"  # the notice, heard again

        private_redis.stop()
        with operator.app_context():
            profile.update_profile(user.id, {"fullname": "Ada, Countess of Lovelace"})  # announcing fails
        assert fullname(browser) == "Ada, Countess of Lovelace"
    finally:
        proxy.close()


def _listening(app) -> bool:
    with app.app_context():
        return user_cache._cache().notices.poll()


@production_only
def test_a_redis_that_does_not_answer_falls_back_to_the_database(make_app, make_user, caplog):
    """Connections complete but nothing ever answers: the subscription never starts, so every
    lookup reads the database, and announcing a change times out (logged, never a 500)."""
    silent = socket.create_server(("127.0.0.1", 0))  # never accepts: the kernel completes connections
    try:
        app = make_app(REDIS_URL=f"redis://127.0.0.1:{silent.getsockname()[1]}/0")
        user = make_user(roles=("admin",))
        with app.app_context():
            assert user_cache.get(user.id).fullname == "Ada Lovelace"
            profile.update_profile(user.id, {"fullname": "Ada King"})
            assert user_cache.get(user.id).fullname == "Ada King"
            assert "users:read" in user_cache.permissions_of(user.id)
            assert not _listening(app)  # nothing was served from the cache
        assert "notices.announce_failed topic=users error=TimeoutError" in caplog.text
    finally:
        silent.close()
