"""Request input: a size limit on every endpoint, a nesting limit on JSON, no NUL characters, no
lone surrogates in JSON strings.

Python's JSON decoder recurses once per nesting level: ``[`` x 100000 raised RecursionError
wherever a body was parsed (a 500, and inside a rate limiter's key function a fallback that
dropped the per-account limit). Here a body nested deeper than ``MAX_JSON_DEPTH`` is malformed
JSON like any other: ``get_json(silent=True)`` gives None, ``get_json()`` a 400.

A NUL character is never part of an email, a token or a name, and PostgreSQL refuses it in any
text it is asked to compare or store (psycopg2 raises ValueError: a 500). A parameter or JSON
string holding one is refused at the edge with a 400, in the answer's usual family.
"""

import io
from urllib.parse import parse_qsl

from flask import Request
from flask import request
from flask.json.provider import DefaultJSONProvider
from werkzeug.exceptions import BadRequest
from werkzeug.exceptions import RequestEntityTooLarge

NUL = "\x00"

# The deepest body any endpoint takes is an object holding an object (a profile's address).
MAX_JSON_DEPTH = 32
URLENCODED = "application/x-www-form-urlencoded"


class FormRequest(Request):
    """Flask's request, parsing an urlencoded body already read (``refuse_nul_parameters`` reads it
    for every urlencoded request) straight from those bytes.

    The result is Werkzeug's (``FormDataParser._parse_urlencoded``: the same ``parse_qsl`` call, and
    an empty form for a body that is not UTF-8), without building a parser and a second stream per
    request. A body not read yet, and every other type, are parsed by Werkzeug as before.
    """

    def _load_form_data(self) -> None:
        cached = getattr(self, "_cached_data", None)
        if cached is not None and "form" not in self.__dict__ and self.mimetype == URLENCODED:
            try:
                items = parse_qsl(cached.decode(), keep_blank_values=True, errors="werkzeug.url_quote")
            except ValueError:
                items = []
            stream = io.BytesIO(cached)
            stream.seek(0, io.SEEK_END)  # read to its end, as the parser leaves it
            self.__dict__.update(stream=stream, form=self.parameter_storage_class(items),
                                 files=self.parameter_storage_class())
        super()._load_form_data()  # Werkzeug's returns at once when the form is set; Flask's debug aid runs


class RequestJSONProvider(DefaultJSONProvider):
    """Flask's JSON, refusing documents nested deeper than MAX_JSON_DEPTH."""

    def loads(self, s, **kwargs):
        try:
            value = super().loads(s, **kwargs)
        except RecursionError:
            raise ValueError("JSON nested too deeply") from None
        problem = unacceptable(value, MAX_JSON_DEPTH)
        if problem:
            raise ValueError(problem)
        return value


def unacceptable(value, limit: int) -> str | None:
    """Why a decoded JSON document is refused (nested deeper than ``limit``, or a string or key
    holding NUL), or None; walked without recursion."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            problem = _bad_text(item)
            if problem:
                return f"JSON strings {problem}"
            continue
        if isinstance(item, dict):
            problem = next((found for found in map(_bad_text, item) if found), None)
            if problem:
                return f"JSON keys {problem}"
            item = item.values()
        elif not isinstance(item, list):
            continue
        if depth > limit:
            return "JSON nested too deeply"
        stack.extend((child, depth + 1) for child in item)
    return None


def _bad_text(text: str) -> str | None:
    """Why a decoded JSON string is not text we take: a NUL, or half of a UTF-16 surrogate pair
    (JSON may escape one, ``\\ud800``, yet it is no Unicode text: hashing and encoding it fail)."""
    if NUL in text:
        return "must not contain NUL characters"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "must be Unicode text (a lone surrogate escape is not)"
    return None


def refuse_oversized_stream() -> None:
    """Before every request: a body sent without a Content-Length (chunked) larger than
    MAX_CONTENT_LENGTH is refused with 413, as one that declares its length is. Werkzeug would cut
    it at the limit and hand the view the first part as if it were the whole body. The part read
    (at most the limit) is kept for the view's own parsing."""
    environ = request.environ
    if "chunked" not in environ.get("HTTP_TRANSFER_ENCODING", "").lower() or not environ.get("wsgi.input_terminated"):
        return  # no body, or one whose declared length Werkzeug checks (a dictionary lookup per request)
    limit = request.max_content_length
    if limit is not None and len(request.get_data(cache=True)) >= limit and environ["wsgi.input"].read(1):
        raise RequestEntityTooLarge()


def refuse_nul_parameters() -> None:
    """Before every request: the path, query and form parameters hold no NUL character.

    Read where it is cheap, without parsing what the view may never parse: a NUL in a query string
    or an urlencoded body is ``%00`` or a raw NUL byte (no other escape decodes to one, and ``%00``
    always does); the body read here is kept for the view's own parsing. Multipart forms are parsed.
    """
    current = request._get_current_object()  # one context lookup, not one per attribute
    if NUL in current.path:
        raise BadRequest("The path must not contain NUL characters.")
    query = current.environ.get("QUERY_STRING", "")
    if "%00" in query or NUL in query:
        _refuse()
    mimetype = current.mimetype
    if mimetype == URLENCODED and "form" not in current.__dict__:
        body = current.get_data(cache=True)
        if b"%00" in body or b"\x00" in body:
            _refuse()
    elif mimetype in (URLENCODED, "multipart/form-data"):
        # Multipart, or a form parsed already by a hook that ran first (Flask-WTF's CSRF check reads
        # the form of every page's POST, and the stream with it): the parsed values are what the
        # view gets.
        for key, value in current.form.items(multi=True):
            if NUL in key or NUL in value:
                _refuse()


def _refuse():
    raise BadRequest("Parameters must not contain NUL characters.")
