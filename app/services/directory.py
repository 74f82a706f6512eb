"""The user directory: the admin list of accounts (filters, sorting, keyset pages) and a user's
login history, in pages that stay fast however many accounts there are.

Pages are keyset pages: a page ends with an opaque cursor holding the last row's sort key and id,
and the next page starts strictly after that row, so a page costs one index range read whatever
its depth, and rows that share a sort key are neither repeated nor skipped (the id breaks ties).
Every sort has an index in that order (see the users model). ``total`` is a separate count, only
when asked: counting a million rows is the one read that does not stay small.
"""

import base64
import binascii
import json
from dataclasses import dataclass
from dataclasses import field
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import ClauseElement
from sqlalchemy import Executable
from sqlalchemy import Select
from sqlalchemy import exists
from sqlalchemy import func
from sqlalchemy import literal
from sqlalchemy import or_
from sqlalchemy import select
from sqlalchemy import tuple_
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import selectinload

from ..extensions import db
from ..models import LoginAttempt
from ..models import User
from ..models import user_roles
from .errors import InvalidInput

DEFAULT_SORT = "-createdAt"
MAX_LIMIT = 100
# Sort name -> the columns of its key, in index order. Email is unique: it is its own tie-break.
SORT_KEYS = {
    "createdAt": (User.created_at, User.id),
    "email": (User.email,),
    "fullname": (User.fullname, User.id),
}
SORTS = tuple(name for key in SORT_KEYS for name in (key, f"-{key}"))
LIKE_ESCAPE = "\\"


BAD_CURSOR = "The cursor is not valid for this list. Start again without one."


@dataclass(frozen=True)
class UserFilters:
    """The list's filters; None leaves one out. Strings match exactly but ``q``, which finds the
    text anywhere in the email address or full name, whatever its case."""

    email: str | None = None
    fullname: str | None = None
    role_id: UUID | None = None
    email_verified: bool | None = None
    phone: str | None = None
    is_active: bool | None = None
    created_from: datetime | None = None
    created_to: datetime | None = None
    q: str | None = None


@dataclass
class Page:
    items: list = field(default_factory=list)
    next_cursor: str | None = None
    total: int | None = None


# --- cursors ---------------------------------------------------------------------------------------

def encode_cursor(kind: str, values: list[Any]) -> str:
    """An opaque cursor: the list it belongs to and the last row's key values."""
    raw = json.dumps({"k": kind, "v": [_plain(value) for value in values]}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(kind: str, cursor: str, types: tuple[type, ...]) -> list[Any]:
    """The key values of a cursor made by ``encode_cursor`` for ``kind``; InvalidInput otherwise."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        data = json.loads(raw)
        if not isinstance(data, dict) or data.get("k") != kind:
            raise ValueError("another list's cursor")
        values = data.get("v")
        if not isinstance(values, list) or len(values) != len(types):
            raise ValueError("wrong length")
        return [_typed(value, kind_of) for value, kind_of in zip(values, types)]
    except (binascii.Error, UnicodeDecodeError, ValueError, TypeError, OverflowError):
        raise InvalidInput(BAD_CURSOR) from None


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, UUID):
        return str(value)
    return value


def _typed(value: Any, kind: type) -> Any:
    if not isinstance(value, str) or "\x00" in value:
        raise ValueError("not text")
    value.encode()  # UnicodeEncodeError (a ValueError) for a lone surrogate: JSON may escape one
    if kind is datetime:
        parsed = datetime.fromisoformat(value)
        if parsed.tzinfo is None:
            raise ValueError("naive")
        return parsed
    if kind is UUID:
        return UUID(value)
    return value


def _after(columns: tuple, values: list[Any], descending: bool):
    """Rows strictly after the cursor's row in the page order (a row comparison the index serves)."""
    if len(columns) == 1:
        return columns[0] < values[0] if descending else columns[0] > values[0]
    # Each value bound with its column's type (aware datetimes, UUIDs) as the column stores it.
    left, right = tuple_(*columns), tuple_(*(literal(value, column.type) for value, column in zip(values, columns)))
    return left < right if descending else left > right


# --- the user list -----------------------------------------------------------------------------------

def _sort(sort: str) -> tuple[str, tuple, bool]:
    if sort not in SORTS:
        raise InvalidInput(f"Sort by one of {', '.join(SORTS)}.")
    name = sort.lstrip("-")
    return name, SORT_KEYS[name], sort.startswith("-")


def _key_types(columns: tuple) -> tuple[type, ...]:
    return tuple(datetime if column is User.created_at else UUID if column is User.id else str
                 for column in columns)


def _filtered(query: Select, filters: UserFilters) -> Select:
    conditions = []
    if filters.email is not None:
        conditions.append(User.email == filters.email.strip().lower())
    if filters.fullname is not None:
        conditions.append(User.fullname == filters.fullname)
    if filters.phone is not None:
        conditions.append(User.phone == filters.phone)
    if filters.email_verified is not None:
        conditions.append(User.email_verified.is_(filters.email_verified))
    if filters.is_active is not None:
        conditions.append(User.is_active.is_(filters.is_active))
    if filters.created_from is not None:
        conditions.append(User.created_at >= filters.created_from)
    if filters.created_to is not None:
        conditions.append(User.created_at < filters.created_to)
    if filters.role_id is not None:
        conditions.append(exists().where(user_roles.c.user_id == User.id, user_roles.c.role_id == filters.role_id))
    if filters.q:
        pattern = "%" + _escape_like(filters.q.strip().lower()) + "%"
        conditions.append(or_(User.email.like(pattern, escape=LIKE_ESCAPE),
                              func.lower(User.fullname).like(pattern, escape=LIKE_ESCAPE)))
    return query.where(*conditions)


def _escape_like(text: str) -> str:
    # A % or _ typed into the search is looked for as itself.
    return text.replace(LIKE_ESCAPE, LIKE_ESCAPE * 2).replace("%", LIKE_ESCAPE + "%").replace("_", LIKE_ESCAPE + "_")


def _cursor_kind(name: str, descending: bool) -> str:
    """What a cursor belongs to: the sort key and its direction (a position in one order is
    another place in the reverse one)."""
    return f"users:{'-' if descending else ''}{name}"


def page_query(filters: UserFilters, sort: str = DEFAULT_SORT, cursor: str | None = None,
               limit: int = 20) -> Select:
    """The statement that reads one page (one row more than ``limit``, to know whether another follows)."""
    name, columns, descending = _sort(sort)
    query = _filtered(select(User), filters)
    if cursor:
        query = query.where(_after(columns, decode_cursor(_cursor_kind(name, descending), cursor, _key_types(columns)),
                                   descending))
    order = [column.desc() if descending else column.asc() for column in columns]
    return query.order_by(*order).limit(limit + 1)


def list_users(filters: UserFilters, sort: str = DEFAULT_SORT, cursor: str | None = None, limit: int = 20,
               include_total: bool = False) -> Page:
    """One page of accounts; ``next_cursor`` is None on the last page."""
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidInput(f"The limit is between 1 and {MAX_LIMIT}.")
    name, columns, descending = _sort(sort)
    query = page_query(filters, sort, cursor, limit).options(selectinload(User.profile))
    rows = list(db.session.scalars(query))
    page = Page(items=rows[:limit])
    if len(rows) > limit:
        last = page.items[-1]
        page.next_cursor = encode_cursor(_cursor_kind(name, descending),
                                         [getattr(last, column.key) for column in columns])
    if include_total:
        page.total = db.session.scalar(_filtered(select(func.count()).select_from(User), filters))
    return page


# --- login history -----------------------------------------------------------------------------------

def login_history(user_id: UUID, cursor: str | None = None, limit: int = 20) -> Page:
    """A user's sign-in attempts, newest first, by keyset pages on (time, id)."""
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidInput(f"The limit is between 1 and {MAX_LIMIT}.")
    columns = (LoginAttempt.time, LoginAttempt.id)
    query = select(LoginAttempt).where(LoginAttempt.user_id == user_id)
    if cursor:
        query = query.where(_after(columns, decode_cursor("login-history", cursor, (datetime, UUID)), True))
    rows = list(db.session.scalars(query.order_by(LoginAttempt.time.desc(), LoginAttempt.id.desc())
                                   .limit(limit + 1)))
    page = Page(items=rows[:limit])
    if len(rows) > limit:
        last = page.items[-1]
        page.next_cursor = encode_cursor("login-history", [last.time, last.id])
    return page


# --- the plan of a query -----------------------------------------------------------------------------

class Explain(Executable, ClauseElement):
    """``EXPLAIN <statement>``, executed with the statement's own parameters (for index checks)."""

    inherit_cache = False

    def __init__(self, statement):
        self.statement = statement


@compiles(Explain)
def _compile_explain(element, compiler, **kw):
    return "EXPLAIN " + compiler.process(element.statement, **kw)


def plan(statement) -> str:
    """The database's plan for ``statement`` (PostgreSQL's EXPLAIN), one line per node."""
    return "\n".join(row[0] for row in db.session.execute(Explain(statement)))
