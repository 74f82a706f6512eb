"""Request bodies: a size limit on every endpoint and a nesting limit on JSON.

Python's JSON decoder recurses once per nesting level: ``[`` x 100000 raised RecursionError
wherever a body was parsed (a 500, and inside a rate limiter's key function a fallback that
dropped the per-account limit). Here a body nested deeper than ``MAX_JSON_DEPTH`` is malformed
JSON like any other: ``get_json(silent=True)`` gives None, ``get_json()`` a 400.
"""

from flask.json.provider import DefaultJSONProvider

# The deepest body any endpoint takes is an object holding an object (a profile's address).
MAX_JSON_DEPTH = 32


class RequestJSONProvider(DefaultJSONProvider):
    """Flask's JSON, refusing documents nested deeper than MAX_JSON_DEPTH."""

    def loads(self, s, **kwargs):
        try:
            value = super().loads(s, **kwargs)
        except RecursionError:
            raise ValueError("JSON nested too deeply") from None
        if too_deep(value, MAX_JSON_DEPTH):
            raise ValueError("JSON nested too deeply")
        return value


def too_deep(value, limit: int) -> bool:
    """Whether arrays and objects in ``value`` nest deeper than ``limit`` (without recursion)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            item = item.values()
        elif not isinstance(item, list):
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in item)
    return False
