"""Alembic environment: runs inside the application (``flask db ...``) on its engine and metadata.

Logging is left to the application: no fileConfig here, so running migrations inside
tests or the server does not silence existing loggers.
"""

from alembic import context
from flask import current_app


def run_migrations_offline() -> None:
    migrate = current_app.extensions["migrate"]
    context.configure(url=migrate.db.engine.url, target_metadata=migrate.db.metadata,
                      literal_binds=True, **migrate.configure_args)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    migrate = current_app.extensions["migrate"]

    def skip_empty_autogenerate(_context, _revision, directives):
        script = directives[0]
        if getattr(context.config.cmd_opts, "autogenerate", False) and script.upgrade_ops.is_empty():
            directives[:] = []

    with migrate.db.engine.connect() as connection:
        context.configure(connection=connection, target_metadata=migrate.db.metadata,
                          process_revision_directives=skip_empty_autogenerate,
                          **migrate.configure_args)
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
