"""The user directory at scale: with 100,000 accounts in PostgreSQL, the statements the directory
builds for its pages read an index, never the whole users table."""

from datetime import datetime
from datetime import timezone

import pytest
from sqlalchemy import text

from app.extensions import db
from app.services import directory
from app.services.directory import UserFilters

from ..helpers import production_only

COUNT = 100_000
FILL = text("""
    INSERT INTO users (id, email, fullname, email_verified, phone, is_active, two_factor_enabled, phone_verified,
                       created_at, updated_at)
    SELECT gen_random_uuid(), 'scale-' || i || '@example.com', 'Person ' || (i % 5000), i % 3 <> 0,
           '+1 555 ' || lpad(i::text, 7, '0'), i % 100 <> 0, false, false,
           timestamptz '2026-01-01 00:00:00+00' + i * interval '1 second',
           timestamptz '2026-01-01 00:00:00+00' + i * interval '1 second'
    FROM generate_series(1, :count) AS i
""")


@pytest.fixture
def many_users(app):
    """100,000 accounts written in one statement, statistics gathered; removed afterwards."""
    with app.app_context():
        db.session.execute(FILL, {"count": COUNT})
        db.session.commit()
        db.session.execute(text("ANALYZE users"))
        db.session.commit()
    yield
    with app.app_context():
        db.session.execute(text("DELETE FROM users WHERE email LIKE 'scale-%'"))
        db.session.commit()


def plan_of(app, filters: UserFilters, sort: str = directory.DEFAULT_SORT, cursor: str | None = None) -> str:
    with app.app_context():
        return directory.plan(directory.page_query(filters, sort, cursor, limit=20))


def a_cursor(app, sort: str) -> str:
    with app.app_context():
        page = directory.list_users(UserFilters(), sort, limit=20)
        assert len(page.items) == 20 and page.next_cursor
        return page.next_cursor


CASES = [
    ("default sort", UserFilters(), directory.DEFAULT_SORT, "ix_users_created_at_id"),
    ("oldest first", UserFilters(), "createdAt", "ix_users_created_at_id"),
    ("by email", UserFilters(), "email", "uq_users_email"),
    ("by fullname", UserFilters(), "-fullname", "ix_users_fullname_id"),
    ("deleted only", UserFilters(is_active=False), directory.DEFAULT_SORT, "ix_users_is_active_created_at_id"),
    ("an address", UserFilters(email="scale-4242@example.com"), directory.DEFAULT_SORT, "uq_users_email"),
    ("a phone", UserFilters(phone="+1 555 0004242"), directory.DEFAULT_SORT, "ix_users_phone"),
    ("a name", UserFilters(fullname="Person 42"), "fullname", "ix_users_fullname_id"),
    ("a time range", UserFilters(created_from=datetime(2026, 1, 1, 10, tzinfo=timezone.utc),
                                 created_to=datetime(2026, 1, 1, 11, tzinfo=timezone.utc), email_verified=True),
     directory.DEFAULT_SORT, "ix_users_created_at_id"),
]


@production_only
def test_pages_read_an_index(app, many_users):
    """EXPLAIN of the exact statement, first page and a later one, for each sort and filter: an index
    scan, never a Seq Scan on users (one fill of 100,000 rows serves every case)."""
    for name, filters, sort, index in CASES:
        for cursor in (None, a_cursor(app, sort) if filters == UserFilters() else None):
            plan = plan_of(app, filters, sort, cursor)
            assert "Seq Scan on users" not in plan, (name, plan)
            assert any(f"{scan} {index}" in plan for scan in ("Index Scan Backward using", "Index Scan using",
                                                              "Bitmap Index Scan on")), (name, plan)


@production_only
def test_a_deep_page_is_as_cheap_as_the_first(app, many_users):
    """Page 2,000 of 50 (a keyset cursor): the plan is the same index scan with a bound, not an OFFSET."""
    with app.app_context():
        page = directory.list_users(UserFilters(), limit=50)
        for _ in range(3):
            page = directory.list_users(UserFilters(), cursor=page.next_cursor, limit=50)
        assert len(page.items) == 50
        deep = directory.encode_cursor("users:-createdAt", [datetime(2026, 1, 1, 0, 5, tzinfo=timezone.utc),
                                                            "00000000-0000-0000-0000-000000000000"])
        plan = directory.plan(directory.page_query(UserFilters(), cursor=deep, limit=50))
        assert "Index Scan Backward using ix_users_created_at_id" in plan and "Index Cond" in plan, plan
        assert [user.email for user in directory.list_users(UserFilters(), cursor=deep, limit=3).items] == [
            "scale-299@example.com", "scale-298@example.com", "scale-297@example.com"]
        assert directory.list_users(UserFilters(is_active=False), limit=1, include_total=True).total == COUNT // 100
