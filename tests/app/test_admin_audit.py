"""The security event log through the admin API: who may read it, sign-ins and lockouts in it,
filters, and keyset pagination that neither skips nor repeats an event."""

import uuid
from datetime import datetime
from datetime import timedelta
from datetime import timezone

import pytest
from sqlalchemy import text

from app.extensions import db
from app.services import audit
from app.services.history import Origin

from ..helpers import AuthActions
from ..helpers import audit_events

AUDIT = "/api/v1/admin/audit"
PROBLEM = "application/problem+json"
T0 = datetime(2026, 11, 1, 12, 0, tzinfo=timezone.utc)


def add_events(app, specs):
    """Store events as (action, actor_user_id, target_id, minutes after T0); returns their ids."""
    ids = []
    with app.app_context():
        for action, actor, target, minutes in specs:
            event = audit.record(audit.Actor(actor, None, Origin("192.0.2.1", "test")), action,
                                 target_type="user" if target else None, target_id=target)
            event.created_at = event.updated_at = T0 + timedelta(minutes=minutes)
            db.session.flush()
            ids.append(str(event.id))
        db.session.commit()
    return ids


def listed(browser, **params):
    response = browser.http.get(AUDIT, query_string=params)
    assert response.status_code == 200, response.text
    return response.get_json()


@pytest.fixture
def reader(browser_as):
    return browser_as("admin")  # admin holds audit:read


def test_no_caller_is_401(client):
    assert client.get(AUDIT).status_code == 401


def test_a_plain_user_is_denied(app, browser_as):
    response = browser_as("user").get(AUDIT)
    assert response.status_code == 403
    assert response.mimetype == PROBLEM
    assert response.get_json()["title"] == "Access Denied"
    assert "audit:read" in response.get_json()["detail"]


def test_signins_failures_and_lockouts_are_in_the_log(make_app, make_user, browser_as):
    app = make_app(LOGIN_RATE_LIMIT_ACCOUNT="2 per 15 minutes")
    victim = make_user()
    actions = AuthActions(app.test_client())
    assert actions.login(victim.email, "wrong password one").status_code == 400
    assert actions.login("nobody@example.com", "whatever it is").status_code == 400
    assert actions.login(victim.email, "wrong password two").status_code == 400
    assert actions.login(victim.email, "wrong password three").status_code == 429
    assert actions.login(victim.email, victim.password).status_code == 429  # still locked
    reader = browser_as("admin")
    events = audit_events(app, "signin.success", "signin.failure", "signin.locked")
    assert [(event.action, event.actor_user_id) for event in events] == [
        ("signin.failure", victim.id), ("signin.failure", None), ("signin.failure", victim.id),
        ("signin.locked", victim.id), ("signin.locked", victim.id), ("signin.success", reader.user.id)]
    assert events[0].detail == "method=password outcome=bad_password"
    assert events[1].detail == "method=password outcome=unknown_user"
    assert events[0].target_id == str(victim.id) and events[1].target_id is None
    assert events[0].ip_address == "127.0.0.1"
    page = listed(reader, action="signin.", actorUserId=str(victim.id))
    assert [item["action"] for item in page["items"]] == ["signin.locked", "signin.locked", "signin.failure",
                                                          "signin.failure"]
    assert set(page["items"][0]) == {"id", "action", "actorUserId", "actorClientId", "targetType", "targetId",
                                     "before", "after", "detail", "ipAddress", "userAgent", "createdAt"}


def test_an_event_and_the_sign_in_commit_together(app, make_user):
    # One unit of work: a sign-in attempt and its event (no second commit, nothing half-written).
    person = make_user()
    AuthActions(app.test_client()).login(person.email, person.password)
    with app.app_context():
        history = db.session.execute(text("SELECT count(*) FROM login_history")).scalar()
    assert history == len(audit_events(app, "signin.success", "signin.failure")) == 1


def test_pages_follow_each_other_newest_first(app, reader):
    # Ten events, four of them at the same instant: the cursor orders by (time, id).
    ids = add_events(app, [("user.update", None, None, minute) for minute in (1, 2, 3, 3, 3, 3, 4, 5, 6, 7)])
    seen, cursor = [], None
    for _ in range(5):
        page = listed(reader, action="user.update", limit=3, **({"cursor": cursor} if cursor else {}))
        seen += [item["id"] for item in page["items"]]
        cursor = page["nextCursor"]
        if cursor is None:
            break
    assert len(seen) == 10 and set(seen) == set(ids)
    times = [datetime.fromisoformat(item["createdAt"]) for item in listed(reader, action="user.update")["items"]]
    assert times == sorted(times, reverse=True)
    assert listed(reader, action="user.update", limit=10)["nextCursor"] is None


def test_filters(app, reader):
    actor, target = uuid.uuid4(), str(uuid.uuid4())
    ids = add_events(app, [("user.update", actor, target, 1), ("user.create", None, target, 2),
                           ("role.update", actor, None, 3), ("users.odd", None, None, 4)])

    def found(**params):
        return [item["id"] for item in listed(reader, **params)["items"] if item["id"] in ids]
    assert found(action="user.update") == [ids[0]]
    assert found(action="user.") == [ids[1], ids[0]]  # a prefix ends in a dot: not users.odd
    assert found(actorUserId=str(actor)) == [ids[2], ids[0]]
    assert found(targetId=target) == [ids[1], ids[0]]
    assert found(**{"from": (T0 + timedelta(minutes=2)).isoformat(), "to": (T0 + timedelta(minutes=4)).isoformat()}) \
        == [ids[2], ids[1]]
    assert found(action="user_.") == []  # "_" is no wildcard (it would match users.odd)


@pytest.mark.parametrize("params, field", [
    ({"limit": 0}, "limit"), ({"limit": 101}, "limit"), ({"limit": "ten"}, "limit"),
    ({"actorUserId": "1 OR 1=1"}, "actorUserId"), ({"from": "2026-11-01T00:00:00"}, "from"),
    ({"action": "x" * 65}, "action"), ({"action": "user' OR '1'='1"}, "action"), ({"colour": "red"}, "colour"),
    ({"cursor": "bm90IGEgY3Vyc29y"}, "cursor"), ({"cursor": "!!!"}, "cursor"), ({"cursor": "x" * 201}, "cursor"),
    # Well-formed JSON of the wrong types: ["2026-01-01T00:00:00Z", 5] and [1, 2].
    ({"cursor": "WyIyMDI2LTAxLTAxVDAwOjAwOjAwWiIsIDVd"}, "cursor"), ({"cursor": "WzEsIDJd"}, "cursor"),
], ids=["zero", "too-many", "not-a-number", "bad-uuid", "naive-time", "long-action", "sql", "unknown",
        "forged-cursor", "garbage-cursor", "huge-cursor", "cursor-number-id", "cursor-numbers"])
def test_hostile_queries_are_refused(reader, params, field):
    response = reader.http.get(AUDIT, query_string=params)
    assert response.status_code in (400, 422), response.text
    assert response.mimetype == PROBLEM
    assert field in response.get_json()["errors"]


def test_the_route_is_in_openapi(client):
    operation = client.get("/openapi.json").get_json()["paths"][AUDIT]["get"]
    assert {parameter["name"] for parameter in operation["parameters"]} >= {
        "action", "actorUserId", "targetId", "from", "to", "limit", "cursor"}
