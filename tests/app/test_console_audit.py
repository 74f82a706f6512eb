"""The console's audit log: newest first with readable times, the filters of the admin API, keyset
paging that neither skips nor repeats, bad filters a 400 page with the form, guarded."""

import html
import re
from datetime import datetime
from datetime import timedelta
from datetime import timezone

import pytest

from app.extensions import db
from app.pages.console import audit as audit_page
from app.services import audit
from app.services.history import Origin

from ..helpers import audit_events

AUDIT = "/admin/audit"
T0 = datetime(2026, 11, 1, 12, 0, tzinfo=timezone.utc)
OLD = {"until": "2026-11-02T00:00"}  # leaves out the sign-ins of the test's own browsers


def add_events(app, specs):
    """Store events as (action, actor_user_id, target_id, minutes after T0)."""
    with app.app_context():
        for action, actor, target, minutes in specs:
            event = audit.record(audit.Actor(actor, None, Origin("192.0.2.1", "test")), action,
                                 target_type="user" if target else None, target_id=target, detail="a test")
            event.created_at = event.updated_at = T0 + timedelta(minutes=minutes)
            db.session.flush()
        db.session.commit()


def targets(page):
    return re.findall(r"<code>(t\d+)</code>", page.text)


def older_link(page):
    match = re.search(r'<a href="([^"]+)" rel="next">Older events</a>', page.text)
    return html.unescape(match.group(1)) if match else None


@pytest.fixture
def reader(browser_as):
    return browser_as("admin")  # admin holds audit:read


@pytest.fixture
def events(app, make_user):
    alice, bob = make_user(email="alice@example.com"), make_user(email="bob@example.com")
    add_events(app, [("user.update", alice.id, "t1", 1), ("user.create", bob.id, "t2", 2),
                     ("role.create", alice.id, "t3", 3), ("signin.failure", None, "t4", 4),
                     ("user.update", bob.id, "t1", 5)])
    return alice, bob


def test_newest_first_with_readable_times_and_actors(app, reader, events):
    page = reader.http.get(AUDIT, query_string=OLD)
    assert page.status_code == 200
    assert targets(page) == ["t1", "t4", "t3", "t2", "t1"]
    assert '<time datetime="2026-11-01T12:05:00+00:00">2026-11-01 12:05:00 UTC</time>' in page.text
    assert "<td>bob@example.com</td>" in page.text and "<td>nobody (not signed in)</td>" in page.text
    assert 'aria-current="page">Audit log</a>' in page.text
    assert older_link(page) is None


def test_without_filters_the_newest_events_come_first(app, reader, events):
    page = reader.get(AUDIT)
    assert page.status_code == 200
    assert "<code>signin.success</code>" in page.text.split("<code>user.update</code>")[0]


@pytest.mark.parametrize("params, expected", [
    ({"action": "user.update"}, ["t1", "t1"]),
    ({"action": "user."}, ["t1", "t2", "t1"]),
    ({"target": "t1"}, ["t1", "t1"]),
    ({"actor": "alice@example.com"}, ["t3", "t1"]),
    ({"since": "2026-11-01T12:02", "until": "2026-11-01T12:04"}, ["t3", "t2"]),
    ({"since": "2026-11-01T13:02:00+01:00"}, ["t1", "t4", "t3", "t2"]),
    ({"action": "user.", "actor": "bob@example.com", "target": "t2"}, ["t2"]),
    ({"action": "keys."}, []),
], ids=["action", "prefix", "target", "actor-email", "range", "offset", "combined", "none"])
def test_filters(reader, events, params, expected):
    page = reader.http.get(AUDIT, query_string={**OLD, **params})
    assert page.status_code == 200
    assert targets(page) == expected
    if not expected:
        assert "No events match these filters." in page.text
    for name, value in params.items():
        assert f'name="{name}"' in page.text and html.escape(value) in page.text  # the form keeps them


def test_the_actor_filter_takes_an_id(reader, events):
    alice, _ = events
    page = reader.http.get(AUDIT, query_string={**OLD, "actor": str(alice.id)})
    assert targets(page) == ["t3", "t1"]


def test_paging_follows_the_cursor_keeping_the_filters(app, reader, monkeypatch):
    monkeypatch.setattr(audit_page, "PAGE_SIZE", 2)
    add_events(app, [("user.update", None, f"t{n}", n) for n in range(7)]
               + [("other.thing", None, "t99", 3)])
    seen, pages = [], 0
    link = f"{AUDIT}?action=user.update&until=2026-11-02T00:00"
    while link:
        page = reader.get(link)
        assert page.status_code == 200
        seen += targets(page)
        pages += 1
        assert ("Newest events" in page.text) == (pages > 1)
        link = older_link(page)
        if link:
            assert "action=user.update" in link and "cursor=" in link
    assert seen == [f"t{n}" for n in range(6, -1, -1)]
    assert pages == 4


@pytest.mark.parametrize("params, field", [
    ({"actor": "not-an-id"}, "actor"),
    ({"actor": "nobody@example.com"}, "actor"),  # no account: its own message
    ({"action": "no spaces allowed"}, "action"),
    ({"action": "x" * 65}, "action"),
    ({"target": "x" * 101}, "target"),
    ({"since": "yesterday"}, "since"),
    ({"until": "2026-13-01T00:00"}, "until"),
], ids=["actor-id", "actor-email", "action", "action-long", "target-long", "since", "until"])
def test_a_bad_filter_is_a_400_with_the_form(reader, events, params, field):
    page = reader.http.get(AUDIT, query_string=params)
    assert page.status_code == 400
    assert page.mimetype == "text/html"
    assert f'aria-describedby="{field}-errors"' in page.text and f'id="{field}-errors"' in page.text
    assert "<table>" not in page.text
    assert 'role="search"' in page.text
    told = "No account has this email address." if "@" in params.get("actor", "") else audit_page.HINTS[field]
    assert told in html.unescape(page.text)


@pytest.mark.parametrize("cursor", ["garbage", "x" * 201, "WyJub3QtYS10aW1lIiwgIjEyIl0"])
def test_a_forged_cursor_is_a_400_with_the_form(reader, cursor):
    page = reader.http.get(AUDIT, query_string={"cursor": cursor})
    assert page.status_code == 400
    assert 'role="search"' in page.text and 'class="field-errors" role="alert"' in page.text
    assert audit_page.HINTS["cursor"] in html.unescape(page.text)


def test_a_plain_user_gets_the_403_page(app, browser_as):
    response = browser_as("user").get(AUDIT)
    assert response.status_code == 403
    assert response.mimetype == "text/html"
    assert len(audit_events(app, "permission.denied")) == 1


def test_the_section_is_in_the_nav_only_for_holders(app, browser_as):
    assert 'href="/admin/audit"' in browser_as("admin").get("/admin").text
    with app.app_context():
        from app.services import rbac

        rbac.create_role(audit.Actor.system(), frozenset({"users:read"}), "lister", "", {"users:read"})
    lister = browser_as("lister")
    assert lister.get("/admin").status_code == 200
    assert 'href="/admin/audit"' not in lister.get("/admin").text
    assert lister.get(AUDIT).status_code == 403


def test_no_session_goes_to_the_sign_in_page(client):
    response = client.get(AUDIT)
    assert response.status_code == 302 and response.headers["Location"] == "/login?next=/admin/audit"


def test_without_users_read_actors_are_ids_and_no_email_is_looked_up(app, browser_as, events):
    """audit:read alone shows what the audit API shows: account ids. An email address in the actor
    filter would tell which addresses have an account: it is refused with what to enter instead."""
    from app.services import rbac

    alice, _bob = events
    with app.app_context():
        rbac.create_role(audit.Actor.system(), frozenset({"audit:read"}), "auditor", "", {"audit:read"})
        db.session.commit()
    auditor = browser_as("auditor")
    page = auditor.http.get(AUDIT, query_string=OLD)
    assert page.status_code == 200
    assert "alice@example.com" not in page.text and str(alice.id) in page.text
    for address in ("alice@example.com", "nobody@example.com"):
        refused = auditor.http.get(AUDIT, query_string={"actor": address})
        assert refused.status_code == 400
        assert "needs users:read" in refused.text and "No account has" not in refused.text
