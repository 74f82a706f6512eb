"""Readiness: each dependency answers, or the report names the one that does not."""

import logging
from collections.abc import Callable

from flask import Flask
from flask import current_app
from sqlalchemy import text

from ..extensions import db
from ..extensions import get_redis

log = logging.getLogger(__name__)

Check = Callable[[], None]


def register(app: Flask, name: str, check: Check) -> None:
    """Add a readiness check; it raises when its component is not usable."""
    app.extensions.setdefault("health_checks", {})[name] = check


def check_database() -> None:
    # A connection of its own: a readiness probe must not end the request's transaction.
    with db.engine.connect() as connection:
        connection.execute(text("SELECT 1"))


def check_redis() -> None:
    client = get_redis()
    if client is not None:
        client.ping()


def report() -> tuple[bool, dict[str, str]]:
    """Run every registered check; (all healthy, component -> "ok" or "unavailable")."""
    components = {}
    for name, check in current_app.extensions.get("health_checks", {}).items():
        try:
            check()
        except Exception:
            # Which component failed is public; why is for the log only.
            log.warning("health.failed component=%s", name, exc_info=True)
            components[name] = "unavailable"
        else:
            components[name] = "ok"
    return all(state == "ok" for state in components.values()), components
