"""Which family of error answers a request belongs to: problem JSON, or the HTML error page."""

from flask import request

# Blueprints whose errors are JSON problems; OAuth endpoints shape their own (RFC 6749).
JSON_BLUEPRINTS = frozenset({"api", "api_auth", "account_api", "api_phone", "keys", "docs"})
# The same by path, for errors raised before routing chose a blueprint (404, 405, 413).
JSON_PATHS = ("/api/", "/currentuser", "/health", "/admin/health", "/publickey", "/.well-known/", "/openapi.json",
              "/getPostmanCollection")


def wants_problem_json() -> bool:
    """The request is to the JSON API: its errors are RFC 9457 problems."""
    return request.blueprint in JSON_BLUEPRINTS or request.path.startswith(JSON_PATHS)
