"""How a JSON endpoint is declared: its request and response models (pydantic), from which the
request is validated and /openapi.json is written, so the two cannot drift apart.

- ``Body`` is the base of request models: camelCase names, unknown fields refused, strings bounded.
- ``Schema`` is the base of response models: camelCase names on the wire.
- ``validate(...)`` wraps SpecTree's decorator: a declared JSON body must be sent as JSON (415)
  and parse (400); a field that does not validate answers 422 problem JSON whose ``errors`` name
  each field, in the same shape as the services' own field errors.
- ``responses(...)`` declares the success model and the problem responses a route can give.

The OpenAPI document itself is assembled in ``app/api/docs.py``.
"""

import functools
from typing import Annotated

from flask import abort
from flask import request
from pydantic import BaseModel
from pydantic import ConfigDict
from pydantic import StringConstraints
from pydantic import ValidationError
from pydantic.alias_generators import to_camel
from spectree import Response
from spectree import SpecTree
from spectree.plugins.base import Context
from spectree.plugins.flask_plugin import FlaskPlugin

TITLE = "Identity provider"
VERSION = "0.1.0"
# The longest string any field accepts unless its model says less.
MAX_STRING = 4096


class Schema(BaseModel):
    """A JSON object the API answers with: snake_case in Python, camelCase on the wire.

    Its validator is built on first use, not at import: most processes use few of the models."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, serialize_by_alias=True,
                              from_attributes=True, defer_build=True)


class Body(Schema):
    """A JSON object (or query string) the API accepts: unknown fields are refused."""

    model_config = ConfigDict(extra="forbid", str_max_length=MAX_STRING)


def text(limit: int = MAX_STRING) -> type[str]:
    """A required string with something in it (not only spaces), at most ``limit`` characters."""
    return Annotated[str, StringConstraints(min_length=1, max_length=limit, pattern=r"\S")]


class Problem(Schema):
    """RFC 9457 problem details (``application/problem+json``)."""

    model_config = ConfigDict(extra="allow")

    type: str = "about:blank"
    title: str
    status: int
    detail: str | None = None


class FieldProblem(Problem):
    """A problem naming the fields to fix: ``errors`` maps each field to its messages."""

    errors: dict[str, list[str]] = {}


class InvalidRequest(Exception):
    """A request that did not validate against its model; ``errors`` by field."""

    def __init__(self, errors: dict[str, list[str]]):
        self.errors = errors
        super().__init__(errors)


def _field_errors(error) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    for item in error.errors():
        field = ".".join(str(part) for part in item["loc"]) or "body"
        errors.setdefault(field, []).append(item["msg"])
    return errors


def _refuse_invalid(_request, _response, error, _instance, _adapter):
    if error is not None:
        raise InvalidRequest(_field_errors(error))


class _DescribedLater(SpecTree):
    """SpecTree writing the models' JSON schemas when the document is first built (``describe_models``,
    from app/api/docs.py) instead of when each route is declared: no request needs them."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._undescribed: list[tuple[type[BaseModel], str]] = []

    def _add_model(self, model, mode="validation") -> str:
        self._undescribed.append((model, mode))
        return self.naming_strategy(model)

    def describe_models(self) -> None:
        """Write the schemas of the models declared since the last call, in declaration order."""
        while self._undescribed:
            model, mode = self._undescribed.pop(0)
            super()._add_model(model, mode)


class _FlaskPlugin(FlaskPlugin):
    """SpecTree's Flask plugin, which copies every header and cookie of a request into dicts
    before it looks at which models the route declared; a route that declares none skips that
    (~20 µs a request)."""

    def request_validation(self, request, query, json, form, headers, cookies):
        if query is None and json is None and form is None and headers is None and cookies is None:
            request.context = _NOTHING_DECLARED
            return
        super().request_validation(request, query, json, form, headers, cookies)


_NOTHING_DECLARED = Context(None, None, None, None, None)

api = _DescribedLater(
    "flask", backend=_FlaskPlugin, mode="strict", title=TITLE, version=VERSION, annotations=True,
    validation_error_status=422,
    before=_refuse_invalid, validation_error_model=FieldProblem,
    naming_strategy=lambda model: model.__name__,
    nested_naming_strategy=lambda _parent, child: child,
)

# Security requirements (the schemes are defined in app/api/docs.py), by who may call a route.
SESSION_OR_TOKEN = [{"sessionCookie": []}, {"bearerToken": []}]
ADMIN_SECURITY = SESSION_OR_TOKEN

# Problem statuses by meaning, for ``responses``.
PROBLEM_TITLES = {400: "Bad Request", 401: "Unauthorized", 403: "Access Denied", 404: "Not Found",
                  409: "Conflict", 413: "Content Too Large", 415: "Unsupported Media Type",
                  422: "Unprocessable Content", 429: "Too Many Requests", 503: "Service Unavailable"}


def responses(success: dict | None = None, errors: tuple[int, ...] = ()) -> Response:
    """The responses of a route: ``success`` maps status to model (or None for no body), and each
    status in ``errors`` answers problem JSON."""
    declared = {f"HTTP_{status}": model for status, model in (success or {}).items()}
    for status in errors:
        declared.setdefault(f"HTTP_{status}", FieldProblem if status in (400, 422) else Problem)
    return Response(**declared)


def validate(*, json: type[BaseModel] | None = None, **kwargs):
    """SpecTree's ``validate`` plus this API's rules for JSON bodies (see the module's docstring)."""
    described = api.validate(json=json, **kwargs)

    def decorate(view):
        if json is None:
            return described(view)

        @functools.wraps(view)
        def with_delete_body(*args, **view_kwargs):
            # SpecTree reads no body on DELETE; a DELETE that declares one (the account's password) is
            # checked here the same way.
            if request.method == "DELETE" and view_kwargs.get("json") is None:
                try:
                    view_kwargs["json"] = json.model_validate(request.get_json(silent=True))
                except ValidationError as error:
                    raise InvalidRequest(_field_errors(error)) from None
            return view(*args, **view_kwargs)

        validated = described(with_delete_body)

        @functools.wraps(validated)
        def json_only(*args, **view_kwargs):
            if not request.is_json:
                abort(415, "Send a JSON body (Content-Type: application/json).")
            if not isinstance(request.get_json(silent=True), dict):
                from .errors import problem
                return problem(400, "Bad Request", "The body must be a JSON object.",
                               errors={"body": ["Send a JSON object."]})
            return validated(*args, **view_kwargs)
        return json_only
    return decorate
