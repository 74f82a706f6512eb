"""The user cache: who a user is and what they may do, for the reads on every request's hot path.

What: a ``CachedUser`` snapshot of an account (its columns but the password hash, its profile,
its roles and the permissions those roles give, from ``rbac.permissions_of``), by id, plus an
email -> id index. Callers get a frozen dataclass (with a copy of its one dict, the address); no ORM
object is kept or handed out, so nothing cached can be changed or lazily loaded by a caller.

Where: in each process (``app.extensions["user_cache"]``), at most USER_CACHE_SIZE users, least
recently used dropped first; entries live USER_CACHE_TTL seconds (0: no cache). A warm read costs
no round trip to the database or Redis.

Invalidation is central, so no service has to remember it: SQLAlchemy session events watch
every unit of work. ``after_flush`` collects the ids of changed ``User`` rows (a change to
``User.roles`` is a change of the user, so ``user_roles`` rows written through the ORM count)
and of ``Profile`` rows; a change to a ``Role`` or a ``Permission`` (their mappings included)
marks every user. ``do_orm_execute`` does the same for Core and bulk statements run through the
session on ``users``, ``profiles``, ``user_roles``, ``roles``, ``permissions`` and
``role_permissions``: the ids named in the statement's WHERE (``id == x``, ``id IN (...)``) or
values, and every user when it names none. ``after_commit`` applies what was collected; a unit of
work that ends without committing forgets it. A statement that sets every column to itself (the
row lock of ``accounts.lock`` on SQLite) changes nothing and is ignored.

Between processes: after the commit, the process that made the change drops its own entries and
announces the ids on the change notices (``app/services/notices.py``, topic ``users``); every other
process applies a notice before its next read (the notices say how soon that is). A reader that
loaded a row before a commit must not store it after the commit's invalidation: every invalidation
bumps the user's epoch (``notices.Epochs``), and a load that began before it is returned but not
stored.

Within one request a user is read once (its session check and its view both ask): the snapshot is
kept on the request until the request commits anything. A read inside a unit of work that has
already changed a user (flushed, not committed) goes to the database through that unit of work
and stores nothing.

Outage: while notices cannot arrive (REDIS_URL set, Redis unreachable), nothing is served from or
stored in the cache: every read goes to the database. Once the listener subscribes again, every
entry is dropped (a notice may have been missed meanwhile).
"""

import copy
import re
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from dataclasses import replace
from datetime import date
from datetime import datetime
from uuid import UUID

from flask import Flask
from flask import current_app
from flask import has_app_context
from flask import has_request_context
from flask import request
from sqlalchemy import event
from sqlalchemy.orm import Session
from sqlalchemy.orm import joinedload
from sqlalchemy.orm import selectinload
from sqlalchemy.sql import operators
from sqlalchemy.sql.elements import BinaryExpression
from sqlalchemy.sql.elements import BindParameter
from sqlalchemy.sql.elements import BooleanClauseList
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.elements import TextClause

from ..extensions import db
from ..models import Permission
from ..models import Profile
from ..models import Role
from ..models import User
from . import notices
from . import rbac

PENDING = "user_cache.pending"
# What one request has read, by user id: its session check and its view ask for the same user.
# Dropped when the request commits (its own change is then read anew).
MEMO = "idp.user_cache.read"
EVERYONE = "*"
# The tables a user's snapshot is made of, and the column naming the user in each.
USER_COLUMN = {"users": "id", "profiles": "user_id", "user_roles": "user_id"}
RBAC_TABLES = frozenset({"roles", "permissions", "role_permissions"})
TEXT_DML = re.compile(r"^\s*(insert|update|delete)\b.*\b(users|profiles|user_roles|roles|permissions|"
                      r"role_permissions)\b", re.IGNORECASE | re.DOTALL)


@dataclass(frozen=True)
class CachedRole:
    id: UUID
    name: str


@dataclass(frozen=True)
class CachedProfile:
    given_name: str | None
    family_name: str | None
    phone_number: str | None
    address: dict | None
    birthdate: date | None


@dataclass(frozen=True)
class CachedUser:
    """An account as it was committed; the names of ``User`` so that readers take either."""

    id: UUID
    email: str
    username: str | None
    fullname: str
    avatar: str | None
    email_verified: bool
    phone: str | None
    phone_verified: bool
    is_active: bool
    two_factor_enabled: bool
    last_login_at: datetime | None
    created_at: datetime
    updated_at: datetime
    roles: tuple[CachedRole, ...]
    permissions: frozenset[str]
    profile: CachedProfile | None

    @property
    def role_names(self) -> list[str]:
        return sorted(role.name for role in self.roles)


# --- reading -----------------------------------------------------------------------------------

def get(user_id: UUID | str) -> CachedUser | None:
    """The account with this id, active or not; None if there is none."""
    user_id = _as_uuid(user_id)
    if user_id is None:
        return None
    if _changed_here(user_id):
        return _load(db.session, user_id)
    memo = request.environ.setdefault(MEMO, {}) if has_request_context() else {}
    if user_id in memo:
        return memo[user_id]
    cache = _cache()
    user = memo[user_id] = _load_committed(user_id) if cache is None else cache.get(user_id)
    return user


def active(user_id: UUID | str) -> CachedUser | None:
    """The account with this id if it may still act (not deactivated), else None."""
    user = get(user_id)
    return user if user is not None and user.is_active else None


def by_email(email: str) -> CachedUser | None:
    """The account with this address (any case), active or not."""
    email = (email or "").strip().lower()
    if not email or len(email) > 254:
        return None
    cache = _cache()
    if cache is not None and not _pending():
        user_id = cache.email_index(email)
        if user_id is not None:
            user = get(user_id)
            if user is not None and user.email == email:  # the index is a hint, checked against the entry
                return user
    with Session(db.engine) as session:
        user_id = session.scalar(db.select(User.id).where(User.email == email))
    if user_id is None:
        return None
    user = get(user_id)
    if cache is not None and user is not None and user.email == email:
        cache.index_email(email, user_id)
    return user


def permissions_of(user_id: UUID | str) -> frozenset[str]:
    """What an active user may do through their roles (``rbac.permissions_of``, cached)."""
    user = active(user_id)
    return user.permissions if user is not None else frozenset()


def _as_uuid(value) -> UUID | None:
    if isinstance(value, UUID):
        return value
    try:
        return UUID(str(value))
    except ValueError:
        return None


def _changed_here(user_id: UUID) -> bool:
    pending = _pending()
    return bool(pending) and (user_id in pending or EVERYONE in pending)


def _pending() -> set | None:
    """The users the request's unit of work has changed so far; asking makes no unit of work."""
    registry = db.session.registry
    return registry().info.get(PENDING) if registry.has() else None


def _load_committed(user_id: UUID) -> CachedUser | None:
    # Its own connection: what is committed, not what the request's identity map holds.
    with Session(db.engine) as session:
        return _load(session, user_id)


def _load(session: Session, user_id: UUID) -> CachedUser | None:
    user = session.scalar(db.select(User).where(User.id == user_id)
                          .options(selectinload(User.roles).lazyload(Role.permissions), joinedload(User.profile)))
    if user is None:
        return None
    profile = user.profile
    return CachedUser(
        id=user.id, email=user.email, username=user.username, fullname=user.fullname, avatar=user.avatar,
        email_verified=user.email_verified, phone=user.phone, phone_verified=user.phone_verified,
        is_active=user.is_active, two_factor_enabled=user.two_factor_enabled, last_login_at=user.last_login_at,
        created_at=user.created_at, updated_at=user.updated_at,
        roles=tuple(CachedRole(role.id, role.name) for role in rbac.by_rank(list(user.roles))),
        permissions=rbac.permissions_of(user_id, session=session),
        profile=CachedProfile(profile.given_name, profile.family_name, profile.phone_number, profile.address,
                              profile.birthdate) if profile is not None else None,
    )


def _own_copy(user: CachedUser) -> CachedUser:
    """The user as a caller may keep: everything in it is immutable but the address (a dict), copied."""
    profile = user.profile
    if profile is None or profile.address is None:
        return user
    return replace(user, profile=replace(profile, address=copy.deepcopy(profile.address)))


# --- the stores --------------------------------------------------------------------------------

def init_app(app: Flask) -> None:
    """Give ``app`` its cache (none when USER_CACHE_TTL is 0) and watch every unit of work."""
    ttl = app.config["USER_CACHE_TTL"]
    app.extensions["user_cache"] = None if ttl <= 0 else \
        _Cache(ttl, app.config["USER_CACHE_SIZE"], notices.channel(app, "users"))
    for name, listener in (("after_flush", _after_flush), ("do_orm_execute", _before_statement),
                           ("after_commit", _after_commit), ("after_transaction_end", _after_transaction_end)):
        if not event.contains(Session, name, listener):
            event.listen(Session, name, listener)


def _cache():
    return current_app.extensions.get("user_cache")


class _Cache:
    """Entries in this application object, least recently used dropped first; the epochs of the
    users dropped (``notices.Epochs``)."""

    def __init__(self, ttl: int, size: int, channel: notices.Channel):
        self.ttl = ttl
        self.size = size
        self.entries: OrderedDict[UUID, tuple[CachedUser, float]] = OrderedDict()
        self.emails: OrderedDict[str, tuple[UUID, float]] = OrderedDict()
        self.epochs = notices.Epochs()
        self.lock = threading.Lock()
        self.notices = channel
        channel.listen(self.forget)

    def get(self, user_id: UUID) -> CachedUser | None:
        live = self.notices.poll()
        with self.lock:
            found = self.entries.get(user_id) if live else None
            if found is not None and found[1] > time.monotonic():
                self.entries.move_to_end(user_id)
                return _own_copy(found[0])
            started = self.epochs.start()
        user = _load_committed(user_id)
        if user is not None and live:
            with self.lock:
                if self.epochs.unchanged(str(user_id), started):  # not dropped since the read began
                    self._put(self.entries, user_id, (_own_copy(user), time.monotonic() + self.ttl))
        return user

    def email_index(self, email: str) -> UUID | None:
        if not self.notices.poll():
            return None
        with self.lock:
            found = self.emails.get(email)
            return found[0] if found is not None and found[1] > time.monotonic() else None

    def index_email(self, email: str, user_id: UUID) -> None:
        with self.lock:
            self._put(self.emails, email, (user_id, time.monotonic() + self.ttl))

    def _put(self, table: OrderedDict, key, value) -> None:
        table[key] = value
        table.move_to_end(key)
        while len(table) > self.size:
            table.popitem(last=False)

    def invalidate(self, user_ids: set) -> None:
        """This process committed a change of these users (EVERYONE: of any): drop them here,
        then tell the other processes."""
        everyone = EVERYONE in user_ids
        self.forget(None if everyone else {str(user_id) for user_id in user_ids})
        self.notices.announce(None if everyone else user_ids)

    def forget(self, ids: frozenset[str] | set[str] | None) -> None:
        """Drop the named users (None: everyone); called by notices from any thread."""
        with self.lock:
            self.epochs.drop(ids)
            if ids is None:
                self.entries.clear()
                self.emails.clear()
                return
            for user_id in ids:
                self.entries.pop(_as_uuid(user_id), None)


# --- invalidation ------------------------------------------------------------------------------

def _mark(session: Session, user_ids) -> None:
    session.info.setdefault(PENDING, set()).update(user_ids)


def _after_flush(session: Session, _context) -> None:
    changed = set()
    for instance in (*session.dirty, *session.deleted, *session.new):
        if isinstance(instance, User):
            if instance not in session.new and (instance in session.deleted or session.is_modified(instance)):
                changed.add(instance.id)
        elif isinstance(instance, Profile):
            changed.add(instance.user_id)
        elif isinstance(instance, (Role, Permission)):
            changed.add(EVERYONE)
    if changed:
        _mark(session, changed)


def _before_statement(state) -> None:
    statement = state.statement
    if isinstance(statement, TextClause):
        if TEXT_DML.search(statement.text):
            _mark(state.session, {EVERYONE})
        return
    if not (state.is_update or state.is_delete or state.is_insert):
        return
    table = getattr(statement.table, "name", None)
    if table in RBAC_TABLES:
        _mark(state.session, {EVERYONE})
    elif table in USER_COLUMN:
        if state.is_insert and table == "users":
            return  # a new id: nothing cached under it
        if state.is_update and _sets_nothing(statement):
            return
        ids = _named_ids(statement, USER_COLUMN[table], state.parameters, state.is_insert)
        _mark(state.session, ids if ids is not None and None not in ids else {EVERYONE})


def _sets_nothing(statement) -> bool:
    """An UPDATE whose every value is its own column (a row lock): it changes no data."""
    values = getattr(statement, "_values", None)
    if not values:
        return False
    for key, value in values.items():
        name = getattr(key, "key", key)
        if not (isinstance(value, ColumnElement) and getattr(value, "key", None) == name
                and getattr(getattr(value, "table", None), "name", None) == statement.table.name):
            return False
    return True


def _named_ids(statement, column: str, parameters, is_insert: bool) -> set | None:
    """The users a statement touches, from its parameters, values or WHERE; None if unknown."""
    rows = parameters if isinstance(parameters, list) else [parameters] if parameters else []
    if rows and all(column in row for row in rows):
        return {_as_uuid(row[column]) for row in rows}
    values = getattr(statement, "_values", None) or {}
    for key, value in values.items():
        if getattr(key, "key", key) == column and isinstance(value, BindParameter):
            return {_as_uuid(value.effective_value)}
    if is_insert:
        return None
    return _ids_in(statement.whereclause, column)


def _ids_in(clause, column: str) -> set | None:
    if clause is None:
        return None
    if isinstance(clause, BooleanClauseList):
        found = [_ids_in(part, column) for part in clause.clauses]
        if clause.operator is operators.and_:
            known = [ids for ids in found if ids is not None]
            return set.intersection(*known) if known else None
        return None if any(ids is None for ids in found) else set().union(*found)
    if isinstance(clause, BinaryExpression) and getattr(clause.left, "key", None) == column \
            and isinstance(clause.right, BindParameter):
        value = clause.right.effective_value
        if clause.operator is operators.eq:
            return {_as_uuid(value)}
        if clause.operator is operators.in_op and isinstance(value, (list, tuple)):
            return {_as_uuid(item) for item in value}
    return None


def _after_commit(session: Session) -> None:
    if has_request_context():
        request.environ.pop(MEMO, None)
    changed = session.info.pop(PENDING, None)
    if not changed or not has_app_context():
        return
    cache = _cache()
    if cache is not None:
        cache.invalidate({user_id for user_id in changed if user_id is not None})


def _after_transaction_end(session: Session, transaction) -> None:
    if transaction.parent is None:  # the unit of work ended without a commit: nothing changed
        session.info.pop(PENDING, None)
