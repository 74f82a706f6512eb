"""The signing key ring. Knows nothing of users or OAuth: it uses only the shared ``db`` handle
(with its column type) from ``app/extensions.py`` and the clock in ``app/clock.py``."""

from flask import Flask


def init_app(app: Flask) -> None:
    """Register the ring's table with the shared metadata."""
    from . import models  # noqa: F401
