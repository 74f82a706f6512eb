"""Entry point for WSGI servers (``granian --interface wsgi wsgi:app``, ``gunicorn wsgi:app``), the
command line (``flask --app wsgi ...``) and ``make run`` (``python wsgi.py``: app/serve.py)."""

import gc
import sys

# The exit status for "the application failed to load" (gunicorn's): a server's master then stops with
# that reason instead of starting new workers that would fail the same way.
APP_LOAD_ERROR = 4


def _load():
    """Import and build the application with the garbage collector off. Importing makes some 200,000
    objects and almost no garbage (a few hundred objects): the collections the allocations would trigger
    on the way cost ~150 ms of each start and free nothing worth it. Off, they also leave no freed holes
    among the objects a forked worker shares with ``make run``'s process (a worker's new objects would
    fill them, copying the page). ``make run`` turns the collector on again once it has frozen what was
    built (app/serve.py); any other loader gets it back on here."""
    gc.disable()
    try:
        from app import create_app
        from app.config import SettingsError

        try:
            return create_app()
        except SettingsError as error:
            # A bad setting is the operator's to fix: one line saying which, not a stack trace.
            print(f"Configuration error: {error}", file=sys.stderr)
            sys.exit(APP_LOAD_ERROR)
    finally:
        if __name__ != "__main__":
            gc.enable()


app = _load()

if __name__ == "__main__":
    from app import serve

    serve.main(app)
