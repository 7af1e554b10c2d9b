"""The OpenAPI 3.1 document of the gateway, generated from the same routes (and so from the
commands' declarations: request schemas are `Command.schema()` less the path ids and `officer`).
Committed as docs/gateway.openapi.json (`python -m services.gateway openapi`); a test keeps the
file equal to what the app serves at /openapi.json. No web framework here."""
from __future__ import annotations

from services.gateway import paging
from services.gateway import routes as routing

PROBLEM_TYPE = "urn:zhonglou-civil-affairs:problem:"
PROBLEM = {
    "type": "object",
    "description": "RFC 9457 problem details; `code` is the stable rule code (docs/errors.md, docs/gateway.md)",
    "properties": {"type": {"type": "string"}, "title": {"type": "string"},
                   "status": {"type": "integer"}, "detail": {"type": "string"},
                   "field": {"type": ["string", "null"]}, "code": {"type": "string"},
                   "instance": {"type": "string"}},
    "required": ["type", "title", "status", "code"],
}
ERRORS = {
    "400": "malformed JSON body",
    "401": "no token, or a token that does not verify (WWW-Authenticate: Bearer)",
    "403": "the token's roles or areas do not allow this",
    "404": "no such record",
    "409": "conflicts with the current state (e.g. dibao.maker_checker)",
    "422": "input breaks a declared bound or a domain rule",
    "429": "over the per-client rate limit (gateway.rate_limited); retry after Retry-After seconds",
    "503": ("the service, or one it needed (e.g. a source feed), is unreachable or did not answer "
            "in time; retry after Retry-After seconds"),
}

REVEAL_REASON_PARAMETER = {
    "name": routing.REVEAL_REASON, "in": "query", "required": False,
    "description": "why the identity numbers are shown; required with reveal_identity=true "
                   "(422 audit.reveal_reason_required); recorded with the disclosure",
    "schema": {"type": "string", "minLength": 1, "maxLength": 500}}


def success_status(route: routing.Route) -> int:
    return 201 if route.command.kind == "command" and route.command.name.startswith("register_") else 200


def _operation(route: routing.Route) -> dict:
    command = route.command
    by_name = {a.name: a for a in command.args}
    parameters = [{"name": name, "in": "path", "required": True, "schema": by_name[name].type.schema()}
                  for name in route.path_args]
    operation = {"operationId": route.operation_id, "tags": [route.domain],
                 "summary": command.doc or command.name,
                 "x-command": command.name, "x-role": command.role,
                 "x-area": command.area, "x-area-via": command.area_via}
    if route.method == "GET":
        properties = route.body_schema()["properties"]
        required = set(route.body_schema()["required"])
        parameters += [{"name": a.name, "in": "query", "required": a.name in required,
                        "schema": properties[a.name]} for a in route.public_args]
        if route.reveals:
            parameters.append(REVEAL_REASON_PARAMETER)
        if route.pages:
            parameters += _page_parameters()
    else:
        operation["requestBody"] = {"required": bool(route.body_schema()["required"]),
                                    "content": {"application/json": {"schema": route.body_schema()}}}
    if parameters:
        operation["parameters"] = parameters
    ok = str(success_status(route))
    operation["responses"] = {
        ok: _success(route),
        **{status: {"$ref": f"#/components/responses/{status}"} for status in ERRORS
           if not (status == "400" and route.method == "GET")},
    }
    return operation


def _error_response(status: str, text: str) -> dict:
    response = {"description": text, "content": {"application/problem+json": {
        "schema": {"$ref": "#/components/schemas/Problem"}}}}
    if status == "429":
        response["headers"] = {"Retry-After": {
            "description": "whole seconds until the client's bucket holds a request again", "required": True,
            "schema": {"type": "integer", "minimum": 1}}}
    return response


def _page_parameters() -> list[dict]:
    return [{"name": arg.name, "in": "query", "required": False, "description": arg.doc,
             "schema": {**arg.type.schema(), **({} if arg.default is None else {"default": arg.default})}}
            for arg in paging.ARGS]


def _success(route: routing.Route) -> dict:
    if not route.pages:
        success = {"description": "the result", "content": {"application/json": {"schema": {
            "type": "object", "properties": {"result": {}}, "required": ["result"]}}}}
        if success_status(route) == 201:
            success["headers"] = {"Location": {"description": "the created record's URL", "required": True,
                                               "schema": {"type": "string", "maxLength": 200}}}
        return success
    return {"description": "one page of the list, only the items in the token's areas (an item's "
                           "`area`, or all its `areas`); `next` is the cursor of the next page, "
                           "null on the last",
            "content": {"application/json": {"schema": {
                "type": "object", "required": ["result", "next"],
                "properties": {"result": {"type": "array", "maxItems": paging.LIMIT.type.maximum},
                               "next": {"type": ["string", "null"]}}}}}}


def document(routes=None, version: str = "0.1.0") -> dict:
    routes = routing.build() if routes is None else routes
    paths: dict[str, dict] = {}
    for route in routes:
        paths.setdefault(route.path, {})[route.method.lower()] = _operation(route)
    return {
        "openapi": "3.1.0",
        "info": {"title": "Zhonglou District Civil Affairs — HTTP gateway", "version": version,
                 "description": "Every registered domain's commands (POST) and queries (GET), and the "
                                "reporting service's queries (/audit, /reports/district), built "
                                "from their declarations (docs/gateway.md). List queries are "
                                "paged (limit, cursor) and show only the token's areas."},
        "security": [{"bearer": []}],
        "paths": paths,
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}},
            "schemas": {"Problem": PROBLEM},
            "responses": {status: _error_response(status, text) for status, text in ERRORS.items()},
        },
    }
