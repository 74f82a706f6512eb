"""RFC 9457 problem details: the only place that builds the JSON API's error bodies."""

from flask import Response
from flask import jsonify


def problem(status: int, title: str, detail: str | None = None, **extra) -> Response:
    """A problem+json response; ``extra`` adds members such as ``errors``."""
    body = {"type": "about:blank", "title": title, "status": status}
    if detail:
        body["detail"] = detail
    body.update(extra)
    response = jsonify(body)
    response.status_code = status
    response.mimetype = "application/problem+json"
    return response
