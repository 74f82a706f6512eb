"""Entry point for gunicorn (``gunicorn wsgi:app``) and the command line (``flask --app wsgi ...``)."""

import sys

from app import create_app
from app.config import SettingsError

# gunicorn's exit status for "the application failed to load": its master then stops with that
# reason instead of starting new workers that would fail the same way.
APP_LOAD_ERROR = 4

try:
    app = create_app()
except SettingsError as error:
    # A bad setting is the operator's to fix: one line saying which, not a stack trace.
    print(f"Configuration error: {error}", file=sys.stderr)
    sys.exit(APP_LOAD_ERROR)
