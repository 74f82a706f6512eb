"""The admin console's frame: who may open it, what its dashboard shows, the header's link."""

import re

import pytest
from sqlalchemy import select
from sqlalchemy import text

from app.extensions import db
from app.models import AuditEvent
from app.services import dashboard


def test_no_session_goes_to_the_sign_in_page_and_back(client):
    response = client.get("/admin")
    assert response.status_code == 302
    assert response.headers["Location"] == "/login?next=/admin"


def test_a_user_without_a_console_permission_gets_the_403_page_and_no_link(app, browser_as):
    browser = browser_as("user")
    response = browser.get("/admin")
    assert response.status_code == 403
    assert response.mimetype == "text/html"
    assert "Console" not in browser.get("/account").text
    with app.app_context():
        denied = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "permission.denied")).all()
        assert [event.actor_user_id for event in denied] == [browser.user.id]


@pytest.mark.parametrize("role", ["admin", "superAdmin"])
def test_an_admin_sees_the_figures_and_the_link(browser_as, make_user, role):
    make_user()
    browser = browser_as(role)
    page = browser.get("/admin")
    assert page.status_code == 200
    figures = dict(re.findall(r"<dt>([^<]+)</dt><dd>([^<]+)</dd>", page.text))
    assert figures["Users"] == "2"
    assert figures["Active sessions"] == "1"  # the admin's own
    assert figures["Sign-ins today"] == "1"
    assert figures["Failed sign-ins today"] == "0"
    assert 'href="/admin">Console</a>' in browser.get("/account").text
    assert 'aria-current="page">Dashboard</a>' in page.text


def test_a_capped_count_stops_at_the_ceiling(app, monkeypatch, make_user):
    monkeypatch.setattr(dashboard, "CEILING", 2)
    one = [make_user() for _ in range(3)][0]
    with app.app_context():
        from app.models import User

        assert dashboard.capped_count(select(User.id)) == "2+"
        assert dashboard.capped_count(select(User.id).where(User.email == one.email)) == "1"
        assert dashboard.table_size(User) == "3"
        monkeypatch.setattr(dashboard, "EXACT_BELOW", 2)  # past it: the estimate, after ANALYZE
        if db.engine.dialect.name == "postgresql":
            db.session.execute(text("ANALYZE users"))
            assert dashboard.table_size(User) == "about 3"
        else:
            assert dashboard.table_size(User) == "3"


def test_a_sections_own_pages_mark_it_current_in_the_navigation(browser_as, make_user):
    someone = make_user()
    browser = browser_as("superAdmin")
    page = browser.get(f"/admin/users/{someone.id}")
    assert page.status_code == 200
    assert 'aria-current="page">Users</a>' in page.text
    assert 'aria-current="page">Dashboard</a>' not in page.text
    keys = browser.get("/admin/keys")
    assert 'aria-current="page">Signing keys</a>' in keys.text
