"""The OpenAPI 3.1 document of the JSON contract, generated from the endpoint declarations.

Every route of every enabled feature appears with its path parameters, its body fields,
its success status and the errors it can answer (validation, authentication, CSRF, rate
limits, a store or mailer that is down), so the document cannot drift from the code.
Served at ``GET {prefix}/openapi.json``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from doorward.routing import Route
from doorward.settings import Settings

__all__ = ["openapi_document"]

_TYPES: dict[type, dict[str, Any]] = {
    str: {"type": "string"},
    bool: {"type": "boolean"},
    int: {"type": "integer"},
    object: {},
}
_ERROR = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {
                "code": {"type": "string"},
                "message": {"type": "string"},
                "fields": {
                    "type": "object",
                    "additionalProperties": {"type": "array", "items": {"type": "string"}},
                },
            },
        }
    },
}
_REASONS = {
    200: "OK",
    201: "Created",
    202: "Accepted: the same answer whatever the account's state",
    204: "Done",
    303: "A browser is sent on (pages only)",
    400: "Refused input, with a message per field",
    401: "Not authenticated, or a re-authentication is needed",
    403: "Forbidden, or the CSRF token is missing or wrong",
    404: "No such thing, or the feature is off",
    413: "The body is too large",
    415: "The body is not JSON or a form",
    429: "Rate limited; see Retry-After",
    500: "The database refused the write (DI-01)",
    503: "The store or the mailer is down, or the server is busy",
}
_PARAMETER = re.compile(r"{(\w+)}")
_UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def _summary(handler: Callable[..., Any]) -> str:
    doc = (handler.__doc__ or "").strip()
    return doc.split("\n\n", 1)[0].replace("\n", " ")


def _error(status: int) -> dict[str, Any]:
    return {
        "description": _REASONS[status],
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }


def _responses(route: Route) -> dict[str, Any]:
    declared = route.endpoint
    success: dict[str, Any] = {"description": _REASONS.get(declared.status, "OK")}
    if not declared.json:
        success["content"] = {declared.media_type: {"schema": {"type": "string"}}}
    elif declared.status != 204:
        success["content"] = {"application/json": {"schema": {"type": "object"}}}
    errors = {400, 404, 500, 503}
    if declared.method in _UNSAFE:
        errors |= {403, 413, 415, 429}
    if declared.access != "anyone" or declared.method == "POST":
        errors |= {401}
    if declared.limit is not None:
        errors |= {429}
    return {
        str(declared.status): success,
        **{str(status): _error(status) for status in sorted(errors - {declared.status})},
    }


def _request_body(route: Route, body: Mapping[str, type]) -> dict[str, Any]:
    schema: dict[str, Any] = {
        "type": "object",
        "properties": {name: _TYPES.get(kind, {}) for name, kind in body.items()},
    }
    if route.endpoint.required:
        schema["required"] = list(route.endpoint.required)
    return {
        "required": False,
        "content": {
            "application/json": {"schema": schema},
            "application/x-www-form-urlencoded": {"schema": schema},
        },
    }


def _operation(route: Route, body: Mapping[str, type]) -> dict[str, Any]:
    declared = route.endpoint
    operation: dict[str, Any] = {
        "operationId": f"{route.feature}.{route.name}.{declared.method.lower()}",
        "summary": _summary(route.handler),
        "tags": [route.feature],
        "responses": _responses(route),
    }
    names = _PARAMETER.findall(declared.path)
    if names:
        operation["parameters"] = [
            {
                "name": name,
                "in": "path",
                "required": True,
                "schema": {"type": "string", "pattern": "^[A-Za-z0-9_.~-]+$"},
            }
            for name in names
        ]
    if declared.method in _UNSAFE:
        operation["requestBody"] = _request_body(route, body)
    if declared.access != "anyone":
        operation["security"] = [{"session": []}, {"bearer": []}]
    return operation


def openapi_document(
    routes: Iterable[Route],
    settings: Settings,
    *,
    body_of: Callable[[Route], Mapping[str, type]] | None = None,
    version: str = "0.1.0",
) -> dict[str, Any]:
    """The document for ``routes`` mounted under ``settings.url_prefix``."""
    paths: dict[str, dict[str, Any]] = {}
    for route in routes:
        body = body_of(route) if body_of is not None else route.endpoint.body
        item = paths.setdefault(settings.url_prefix + route.path, {})
        item[route.method.lower()] = _operation(route, body)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": f"{settings.display_name} authentication",
            "version": version,
            "description": "doorward's HTTP contract (docs/http-api.md). Cookie-authenticated "
            "unsafe requests need the X-CSRF-Token header from GET /csrf.",
        },
        "servers": [{"url": settings.base_url.rstrip("/")}],
        "paths": paths,
        "components": {
            "schemas": {"Error": _ERROR},
            "securitySchemes": {
                "session": {
                    "type": "apiKey",
                    "in": "cookie",
                    "name": settings.cookie_name(settings.session_cookie),
                },
                "bearer": {"type": "http", "scheme": "bearer"},
            },
        },
    }
