"""Entry point for WSGI servers (``granian --interface wsgi wsgi:app``, ``gunicorn wsgi:app``), the
command line (``flask --app wsgi ...``) and ``make run`` (``python wsgi.py``: app/serve.py)."""

import sys

from app import create_app
from app.config import SettingsError

# The exit status for "the application failed to load" (gunicorn's): a server's master then stops with
# that reason instead of starting new workers that would fail the same way.
APP_LOAD_ERROR = 4

try:
    app = create_app()
except SettingsError as error:
    # A bad setting is the operator's to fix: one line saying which, not a stack trace.
    print(f"Configuration error: {error}", file=sys.stderr)
    sys.exit(APP_LOAD_ERROR)

if __name__ == "__main__":
    from app import serve

    serve.main(app)
