"""Where a request comes from, and where it may send the browser next."""

from urllib.parse import urlsplit

from flask import request

from ..services.history import Origin


def request_origin() -> Origin:
    """The client's IP (ProxyFix has applied the trusted hops) and user agent."""
    agent = request.user_agent.string or None
    return Origin(request.remote_addr, agent[:512] if agent else None)


def local_path_or(target: str | None, default: str) -> str:
    """``target`` when it is a path on this server, else ``default`` (no open redirects)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or any(ord(char) < 32 for char in target):
        return default
    return target
