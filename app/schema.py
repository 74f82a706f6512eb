"""The database schema's version: Flask-Migrate (Alembic) for ``flask db ...``, and the server's
start, which upgrades only a database that is behind the migrations' head.

Alembic is imported here only when a migration runs: no request needs it, and a start on a
database already at head knows that from the revision files' two assignment lines and one row of
``alembic_version`` (importing Alembic would cost a quarter of a second of every start).
"""

import re
from pathlib import Path

import click
import sqlalchemy as sa
from flask import Flask
from flask.cli import ScriptInfo

from .extensions import db

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"
# The two assignments every revision file of migrations/versions/ opens with (script.py.mako).
_ASSIGNMENT = re.compile(r"""^(revision|down_revision)\s*=\s*(?:["']([0-9a-z_]+)["']|None)\s*$""", re.MULTILINE)


def init_app(app: Flask) -> None:
    app.cli.add_command(_MigrationCommands("db", help="Database migrations (Flask-Migrate)."))


def use_migrations(app: Flask) -> None:
    """Set up Flask-Migrate on ``app`` (once), for ``flask_migrate.upgrade()`` and the others."""
    if "migrate" not in app.extensions:
        from flask_migrate import Migrate

        Migrate(app, db, directory=str(MIGRATIONS), render_as_batch=True, compare_type=True)


def heads() -> set[str]:
    """The revisions no other revision follows (one: the chain has a single head)."""
    revisions, followed = set(), set()
    for path in (MIGRATIONS / "versions").glob("*.py"):
        for name, value in _ASSIGNMENT.findall(path.read_text()):
            (revisions if name == "revision" else followed).add(value)
    return revisions - followed


def current_revisions() -> set[str]:
    """The revisions the database says it is at; empty for a database never migrated."""
    if not sa.inspect(db.engine).has_table("alembic_version"):
        return set()
    with db.engine.connect() as connection:
        return set(connection.execute(sa.text("SELECT version_num FROM alembic_version")).scalars())


def upgrade_if_behind(app: Flask) -> bool:
    """Bring the database to head (inside an application context); True when Alembic had to run."""
    if current_revisions() == heads():
        return False
    use_migrations(app)
    from flask_migrate import upgrade

    upgrade()
    return True


class _MigrationCommands(click.Group):
    """``flask db ...``: Flask-Migrate's own command group (its options, its commands), loaded with
    Alembic only when it is run; ``flask --help`` lists it from this stand-in."""

    def make_context(self, info_name, args, parent=None, **extra) -> click.Context:
        use_migrations(parent.ensure_object(ScriptInfo).load_app())
        from flask_migrate.cli import db as commands

        return commands.make_context(info_name, args, parent=parent, **extra)
