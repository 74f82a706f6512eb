"""A Postman collection (format v2.1.0) made from the OpenAPI document, so it cannot drift either.

One folder per tag, one request per operation: ``{{baseUrl}}`` and the path as segments (path
parameters as ``:name`` variables), the documented query parameters (disabled unless required), a
JSON body from the request model's example, and bearer auth with ``{{accessToken}}`` where the
operation accepts a bearer token or OAuth 2.0.
"""

import json
import uuid

SCHEMA = "https://schema.getpostman.com/json/collection/v2.1.0/collection.json"
METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
BEARER_SCHEMES = {"bearerToken", "oauth2"}
# A stable collection id per server, so a re-import replaces the earlier copy.
NAMESPACE = uuid.UUID("2f6c4f0e-3d0b-4c53-9a57-6a7e3b1d5c21")


def collection(document: dict, base_url: str) -> dict:
    """The collection of every operation in ``document``."""
    folders: dict[str, list] = {}
    for path, operations in document.get("paths", {}).items():
        for method in METHODS:
            operation = operations.get(method)
            if operation is not None:
                tag = (operation.get("tags") or ["other"])[0]
                folders.setdefault(tag, []).append(_request(document, path, method, operation))
    info = document.get("info", {})
    return {
        "info": {"_postman_id": str(uuid.uuid5(NAMESPACE, base_url)), "name": info.get("title", "API"),
                 "description": f"Generated from {base_url}/openapi.json (version {info.get('version', '')}).",
                 "schema": SCHEMA},
        "item": [{"name": tag, "item": items} for tag, items in folders.items()],
        "variable": [
            {"key": "baseUrl", "value": base_url, "type": "string"},
            {"key": "accessToken", "value": "", "type": "string",
             "description": "An access token from /oauth/token (the account scope for /api/v1/me, admin for the "
                            "admin API)."},
        ],
        "auth": {"type": "noauth"},
    }


def _request(document: dict, path: str, method: str, operation: dict) -> dict:
    parameters = operation.get("parameters", [])
    segments = [_segment(part) for part in path.strip("/").split("/") if part]
    url = {"raw": "{{baseUrl}}/" + "/".join(segments), "host": ["{{baseUrl}}"], "path": segments}
    query = [{"key": item["name"], "value": _text(_example_of(document, item.get("schema", {}))),
              "description": item.get("description", ""), "disabled": not item.get("required", False)}
             for item in parameters if item.get("in") == "query"]
    if query:
        url["query"] = query
        url["raw"] += "?" + "&".join(f"{item['key']}={item['value']}" for item in query if not item["disabled"])
    variables = [{"key": item["name"], "value": "", "description": item.get("description", "")}
                 for item in parameters if item.get("in") == "path"]
    if variables:
        url["variable"] = variables
    request = {"method": method.upper(), "header": [], "url": url,
               "description": operation.get("description") or operation.get("summary", "")}
    body = operation.get("requestBody", {}).get("content", {})
    if "application/json" in body:
        request["header"].append({"key": "Content-Type", "value": "application/json"})
        example = _example_of(document, body["application/json"].get("schema", {}))
        request["body"] = {"mode": "raw", "raw": json.dumps(example, indent=2),
                           "options": {"raw": {"language": "json"}}}
    elif "application/x-www-form-urlencoded" in body:
        example = _example_of(document, body["application/x-www-form-urlencoded"].get("schema", {}))
        request["body"] = {"mode": "urlencoded", "urlencoded": [
            {"key": key, "value": _text(value), "type": "text"} for key, value in (example or {}).items()]}
    schemes = {name for requirement in operation.get("security", document.get("security", []))
               for name in requirement}
    request["auth"] = ({"type": "bearer", "bearer": [{"key": "token", "value": "{{accessToken}}", "type": "string"}]}
                       if schemes & BEARER_SCHEMES else {"type": "noauth"})
    return {"name": operation.get("summary") or f"{method.upper()} {path}", "request": request, "response": []}


def _segment(part: str) -> str:
    """``{session_id}`` -> ``:session_id`` (a Postman path variable)."""
    return ":" + part[1:-1] if part.startswith("{") and part.endswith("}") else part


def _text(value) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else json.dumps(value)


def _example_of(document: dict, schema: dict, depth: int = 0):
    """An example value for ``schema``: its own example, else one built from its properties."""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        schema = document.get("components", {}).get("schemas", {}).get(name, {})
    if depth > 8:
        return None
    if "example" in schema:
        return schema["example"]
    if schema.get("examples"):
        return schema["examples"][0]
    if "default" in schema and schema["default"] is not None:
        return schema["default"]
    if "enum" in schema:
        return schema["enum"][0]
    if "const" in schema:
        return schema["const"]
    for choice in ("anyOf", "oneOf"):
        if choice in schema:
            options = [option for option in schema[choice] if option.get("type") != "null"]
            return _example_of(document, options[0], depth + 1) if options else None
    kind = schema.get("type")
    if kind == "object" or "properties" in schema:
        required = set(schema.get("required", []))
        properties = schema.get("properties", {})
        return {name: _example_of(document, sub, depth + 1) for name, sub in properties.items()
                if name in required or "examples" in sub or "example" in sub}
    if kind == "array":
        return [_example_of(document, schema.get("items", {}), depth + 1)]
    return {"string": _string(schema), "integer": 0, "number": 0, "boolean": True}.get(kind)


def _string(schema: dict) -> str:
    return {"uuid": "00000000-0000-0000-0000-000000000000", "date-time": "2026-01-01T00:00:00Z",
            "email": "ada@example.com"}.get(schema.get("format"), "string")
