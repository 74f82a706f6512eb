"""Extensions, created unbound here and bound to an application by ``init_app``.

Flask-Migrate is not among them: ``app/schema.py`` sets it up when a migration runs."""

import select
from datetime import timezone

import redis
from flask import Flask
from flask import current_app
from flask_limiter import Limiter
from flask_mail import Mail
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect
from sqlalchemy import DateTime
from sqlalchemy import MetaData
from sqlalchemy import event
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

db = SQLAlchemy(metadata=MetaData(naming_convention=NAMING_CONVENTION))


class UTCDateTime(TypeDecorator):
    """An aware UTC datetime on every backend (SQLite keeps no zone, so it is restored here)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored; use app.clock.now()")
        value = value.astimezone(timezone.utc)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


mail = Mail()
csrf = CSRFProtect()


def init_app(app: Flask) -> None:
    """Bind every extension to ``app``; the Redis handle is None when REDIS_URL is unset."""
    db.init_app(app)
    teardowns = app.teardown_appcontext_funcs
    if db._teardown_session not in teardowns:
        raise RuntimeError("Flask-SQLAlchemy no longer removes the session in a teardown")
    teardowns[teardowns.index(db._teardown_session)] = remove_session
    with app.app_context():
        if db.engine.dialect.name == "postgresql":
            event.listen(db.engine, "checkout", refuse_closed_connection)
    mail.init_app(app)
    csrf.init_app(app)
    url = app.config.get("REDIS_URL")
    app.extensions["redis"] = (
        redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2,
                             health_check_interval=30)
        if url else None
    )


def remove_session(_error) -> None:
    """End of each application context: the session is closed, its transaction rolled back. On a
    connection the server ended while the request held it (pg_terminate_backend, a restart), that
    rollback fails, though the server has already rolled back and the answer is made: the dead
    connection is discarded (SQLAlchemy invalidated it) and the answer stands, never a bare 500."""
    try:
        db.session.remove()
    except DBAPIError as error:
        if not error.connection_invalidated:
            raise
        db.session.remove()  # the transaction is closed now: this forgets the session


def refuse_closed_connection(dbapi_connection, _record, _proxy) -> None:
    """Pool checkout: a pooled connection the server closed meanwhile (a restart, an administrator's
    pg_terminate_backend, an idle timeout, a keepalive that went unanswered) has something to read,
    its termination notice or the end of the stream, while a live idle connection has nothing. One
    poll of the socket tells them apart without a round trip; the pool then connects anew, before
    any statement of the request's unit of work has run (DisconnectionError: SQLAlchemy retries)."""
    poller = select.poll()
    poller.register(dbapi_connection.fileno(), select.POLLIN)
    if poller.poll(0):
        raise DisconnectionError("the server closed this pooled connection")


def get_limiter() -> Limiter:
    """The application's rate limiter (made by ``app.web.limits.init_app``)."""
    return current_app.extensions["rate_limiter"]


def get_redis() -> "redis.Redis | None":
    """The application's Redis client, or None when Redis is not configured."""
    return current_app.extensions["redis"]
