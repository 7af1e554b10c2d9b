"""Interface layer: the gateway's FastAPI app (`create_app()`), its routes built from the
declarations (`services.gateway.routes`), each request in this order, nothing sent to a service
before every check passed:

1. the Bearer token verifies (401, `WWW-Authenticate: Bearer`);
2. the policy table gives one of the token's roles the command's declared role (403);
3. the body (a JSON object; 400 when not JSON) or the query parameters, with the path ids and
   `officer` = the token's `sub`, bind to the declaration (`Command.bind`: 422 with the field and
   code); a client can never name `officer` (422 input.unknown_field);
4. `reveal_identity=true` needs a role with the reveal right (403);
5. the area: an area argument must be in the token's areas; an `area_via` id is resolved with the
   domain's `get_<record>` query over RPC first (404 if there is no such record); district-wide
   commands and queries need areas "*" (403);
6. the RPC call; domain errors map to 422/404/409, an unreachable service or timeout to 503;
7. a list query's answer shows only the token's areas and is paged (services/gateway/paging.py):
   `{"result": [...], "next": cursor or null}`; a list without an area argument needs no "*".

Before all of it, the per-client rate limit (services.gateway.ratelimit): 429 `gateway.rate_limited`
with `Retry-After`. GET /metrics (services.gateway.metrics) and /healthz need no token and are not
limited. Errors are RFC 9457 `application/problem+json`; every response carries `X-Request-ID` and
`traceparent`. The request id (from `X-Request-ID`, else the trace id), the W3C trace context
(continuing the caller's `traceparent` with a span of our own, else a new trace) and the token's
subject, roles and client travel with every RPC call as context data, into every stored event
(shared/audit.py) and the published CloudEvents (`requestid`, `traceparent`).
"""
from __future__ import annotations

import json
import logging
import re
import secrets
import threading
import uuid
from collections import OrderedDict
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from services.gateway import metrics, openapi, paging, policy
from services.gateway import routes as routing
from services.gateway.auth import Principal, Unauthorized, Verifier, bearer
from services.gateway.ratelimit import RateLimiter, client_of
# Imported here, in the main thread: Nameko (eventlet) first imported inside a request's worker
# thread left that thread unjoinable, and the server hung on shutdown.
from services.gateway.rpc import ThreadProxies, Unavailable
from shared import audit
from shared.errors import Conflict, DomainError, InvalidInput, NotFound, ServiceUnavailable

log = logging.getLogger("gateway")
REQUEST_ID = "X-Request-ID"
TRACEPARENT = "traceparent"
_REQUEST_ID_OK = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")
_TRACEPARENT_OK = re.compile(r"^[0-9a-f]{2}-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}$")
PROBLEM_JSON = "application/problem+json"
UNLIMITED = frozenset({"/healthz", "/metrics"})     # probes and Prometheus: never rate limited


class Forbidden(Exception):
    def __init__(self, detail: str, code: str, field: str | None = None):
        super().__init__(detail)
        self.detail, self.code, self.field = detail, code, field


class MalformedBody(Exception):
    pass


def problem(status: int, title: str, code: str, detail: str = "", field: str | None = None,
            headers: dict | None = None) -> JSONResponse:
    body = {"type": openapi.PROBLEM_TYPE + code, "title": title, "status": status,
            "detail": detail or title, "field": field, "code": code}
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def _domain_problem(error: DomainError) -> JSONResponse:
    if isinstance(error, ServiceUnavailable):      # what the service needed did not answer: retry later
        return problem(503, "Service unavailable", error.code or "gateway.service_unavailable",
                       error.message, error.field, headers={"Retry-After": "5"})
    status, title = {InvalidInput: (422, "Invalid input"), NotFound: (404, "Not found"),
                     Conflict: (409, "Conflict")}.get(type(error), (422, "Refused"))
    return problem(status, title, error.code or "input.invalid", error.message, error.field)


class Gateway:
    """What the endpoints share: the verifier (loaded on first use), the RPC proxies, the routes."""

    def __init__(self, verifier=None, rpc=None, routes=None):
        self._verifier = verifier
        self._rpc = rpc
        self.routes = routing.build() if routes is None else routes
        self.get_queries = {(r.domain, r.command.name): r.command for r in self.routes
                            if r.command.kind == "query"}
        self.record_areas = AreaCache()

    @property
    def verifier(self) -> Verifier:
        if self._verifier is None:
            self._verifier = Verifier.from_env()
        return self._verifier

    @property
    def rpc(self):
        if self._rpc is None:
            self._rpc = ThreadProxies()
        return self._rpc

    def close(self):
        if self._rpc is not None and hasattr(self._rpc, "stop"):
            self._rpc.stop()

    # --- one request (runs in the threadpool) --------------------------------------------------
    def handle(self, route: routing.Route, authorization: str | None, path_params: dict, raw,
               trace: dict | None = None):
        principal = self.verifier.verify(bearer(authorization))
        given, from_query = _arguments(route, raw)      # only once the token verified
        reason = given.pop(routing.REVEAL_REASON, None) if route.reveals and from_query else None
        command = route.command
        if not policy.allowed(principal.roles, route.domain, command):
            raise Forbidden(f"{route.operation_id} needs the role {command.role}; the token's "
                            f"roles do not hold it", "gateway.role_not_held")
        if route.pages:
            given, limit, cursor = paging.take(given, from_query)
        values = self._bind(route, principal, path_params, given, from_query)
        if values.get(policy.REVEAL_ARGUMENT):
            if not policy.may_reveal(principal.roles):
                raise Forbidden("revealing identity numbers needs a role with the reveal right",
                                "gateway.reveal_not_held", policy.REVEAL_ARGUMENT)
            audit.check_reason(reason, routing.REVEAL_REASON)
        trace = trace or {}
        context = audit.to_context(principal.sub, principal.roles, principal.client,
                                   trace.get("request_id"), trace.get("traceparent"), reason)
        self._check_area(route, principal, values, context)
        if not route.pages:
            return self.rpc.call(route.domain, command.name, context, **values)
        request = paging.decode(cursor, limit, paging.query_fingerprint(route, values, principal.areas))
        return paging.page(self.rpc.call(route.domain, command.name, context, **values),
                           principal.areas, request)

    def _bind(self, route, principal: Principal, path_params: dict, given: dict, from_query: bool):
        hidden = set(route.path_args) | {routing.OFFICER}
        public = {a.name: a for a in route.public_args}
        kwargs = {}
        for key, value in given.items():
            if key in hidden:
                raise InvalidInput(str(key), "is not a field of this request (ids are in the path; "
                                   "the officer is the token's subject)", code="input.unknown_field")
            if from_query and key in public:
                value = routing.from_query_string(public[key], value)
            kwargs[key] = value
        kwargs.update({name: path_params[name] for name in route.path_args})
        if route.fills_officer:
            kwargs[routing.OFFICER] = principal.sub
        return route.command.bind(kwargs=kwargs)

    def _check_area(self, route, principal: Principal, values: dict, context: dict):
        command = route.command
        if principal.areas == "*" or policy.area_free(route.domain, command):
            return                  # the whole district, or figures of no area: nothing to resolve
        if command.area is None and command.lists:
            return                  # a list: its items are filtered by the token's areas
        if command.area is None:
            wanted = ["*"]          # district-wide
        elif command.area_via is None:
            value = values[command.area]
            wanted = list(value) if isinstance(value, (list, tuple)) else [value]
        else:
            wanted = self._record_areas(route, values[command.area], context)
        if not policy.area_allowed(principal.areas, wanted):
            where = "the whole district" if wanted == ["*"] else ", ".join(map(str, wanted))
            raise Forbidden(f"{route.operation_id} acts in {where}, outside the token's areas",
                            "gateway.area_not_held", command.area)

    def _record_areas(self, route, record_id, context: dict) -> list:
        """The areas of the record an `area_via` id names, from the domain's get-query (cached:
        no record changes its area, see AreaCache)."""
        query = self.get_queries.get((route.domain, f"get_{route.command.area_via}"))
        if query is None:
            return ["*"]            # not resolvable yet: only a whole-district token may act
        key = (route.domain, route.command.area_via, str(record_id))
        cached = self.record_areas.get(key)
        if cached is not None:
            return list(cached)
        areas = self._look_up_areas(route, query, record_id, context)
        if areas != ["*"]:
            self.record_areas.put(key, areas)
        return areas

    def _look_up_areas(self, route, query, record_id, context: dict) -> list:
        record = self.rpc.call(route.domain, query.name, {k: v for k, v in context.items() if k != audit.REASON},
                               **{query.args[0].name: record_id})
        if isinstance(record, dict) and isinstance(record.get("area"), str):
            return [record["area"]]
        if isinstance(record, dict) and isinstance(record.get("areas"), list):
            return list(record["areas"])
        return ["*"]


class AreaCache:
    """The areas of records already looked up, at most `size` of them, least recently used out.
    Safe because no record of any domain changes its area or areas after it is registered (a
    household, a case, an incident's affected areas ...): a domain where one could must not
    declare `area_via` on it. Unknown ids (404) are never cached: the record may come later."""

    def __init__(self, size: int = 50_000):
        self.size = size
        self._entries: OrderedDict = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key):
        with self._lock:
            value = self._entries.get(key)
            if value is not None:
                self._entries.move_to_end(key)
            return value

    def put(self, key, areas: list) -> None:
        with self._lock:
            self._entries[key] = tuple(areas)
            self._entries.move_to_end(key)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)


def _trace(request: Request) -> dict:
    """The request's W3C trace context (the caller's trace continued with a span of ours, else a
    new trace) and its request id (the caller's `X-Request-ID`, else the trace id)."""
    match = _TRACEPARENT_OK.match(request.headers.get(TRACEPARENT, ""))
    trace_id = match.group(1) if match and match.group(1) != "0" * 32 else uuid.uuid4().hex
    given = request.headers.get(REQUEST_ID, "")
    return {"request_id": given if _REQUEST_ID_OK.match(given) else trace_id,
            "traceparent": f"00-{trace_id}-{secrets.token_hex(8)}-01"}


def create_app(verifier=None, rpc=None, routes=None, limiter: RateLimiter | None = None) -> FastAPI:
    gateway = Gateway(verifier, rpc, routes)
    limiter = RateLimiter.from_env() if limiter is None else limiter

    @asynccontextmanager
    async def lifespan(app):
        yield
        gateway.close()         # stops every thread's proxy

    app = FastAPI(title="Zhonglou District Civil Affairs — HTTP gateway", openapi_url="/openapi.json",
                  docs_url="/docs", redoc_url=None, lifespan=lifespan)
    app.state.gateway = gateway
    document = openapi.document(gateway.routes)
    app.openapi = lambda: document

    # Added first, so it runs inside request_id (a 429 carries the request id too).
    @app.middleware("http")
    async def rate_limit(request: Request, call_next):
        if limiter.enabled and request.url.path not in UNLIMITED:
            client = client_of(gateway.verifier, request.headers.get("authorization"),
                               request.client.host if request.client else None)
            wait = limiter.take(client)
            if wait:
                metrics.RATE_LIMITED.inc()
                return problem(429, "Too many requests", "gateway.rate_limited",
                               f"more than {limiter.rate:g} requests/s (bursts of {limiter.burst}) from "
                               f"this client; retry in {wait} s", headers={"Retry-After": str(wait)})
        return await call_next(request)

    @app.middleware("http")
    async def request_id(request: Request, call_next):
        request.state.trace = _trace(request)
        rid = request.state.trace["request_id"]
        try:
            response = await call_next(request)
        except Exception:  # a real fault: logged, answered as a problem
            log.exception("unhandled error, request %s %s %s", rid, request.method, request.url.path)
            response = problem(500, "Internal error", "gateway.internal",
                               f"an internal error occurred (request {rid})")
        response.headers[REQUEST_ID] = rid
        response.headers[TRACEPARENT] = request.state.trace["traceparent"]
        return response

    app.middleware("http")(metrics.observe)     # outermost: counts every answer, 429 and 500 too

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, error: StarletteHTTPException):
        code = {404: "gateway.no_route", 405: "gateway.method_not_allowed"}.get(error.status_code,
                                                                                 "gateway.http_error")
        return problem(error.status_code, str(error.detail), code, headers=getattr(error, "headers", None))

    @app.get("/healthz", include_in_schema=False)
    def healthz():
        return {"status": "ok", "routes": len(gateway.routes)}

    app.add_api_route("/metrics", metrics.endpoint, methods=["GET"], include_in_schema=False)

    # One route per path, whatever its methods (POST /subscriptions and GET /subscriptions), so
    # that a 405 lists every method the path has in `Allow`.
    by_path: dict[str, dict] = {}
    for route in gateway.routes:
        by_path.setdefault(route.path, {})[route.method] = (route, _endpoint(gateway, route))
    for path, endpoints in by_path.items():
        app.add_api_route(path, _by_method(endpoints), methods=list(endpoints), include_in_schema=False,
                          name=" ".join(route.operation_id for route, _ in endpoints.values()))
    return app


def _by_method(endpoints: dict):
    """The endpoint of a path: each method's own (the router lets only declared methods in)."""
    if len(endpoints) == 1:
        ((_, endpoint),) = endpoints.values()
        return endpoint

    async def endpoint(request: Request):
        return await endpoints[request.method][1](request)
    endpoint.__name__ = "__or__".join(e.__name__ for _, e in endpoints.values())
    return endpoint


def _arguments(route: routing.Route, raw) -> tuple[dict, bool]:
    """The client's arguments: a GET's query parameters (raw: their (key, value) pairs), else
    the JSON object body (raw: bytes). Returns (arguments, from_query)."""
    if route.method == "GET":
        given = {}
        for key, value in raw:
            if key in given:
                raise InvalidInput(key, "is given twice", code="input.unknown_field")
            given[key] = value
        return given, True
    try:
        given = json.loads(raw) if raw.strip() else {}
    except (ValueError, UnicodeDecodeError, RecursionError) as error:
        raise MalformedBody(f"the body is not JSON: {error}") from None
    if not isinstance(given, dict):
        raise InvalidInput("body", "must be a JSON object of the arguments", code="input.not_an_object")
    return given, False


def _location(route: routing.Route, status: int, result) -> dict | None:
    """A 201's `Location`: the created record's URL (the collection's path and the new id,
    answered as the id itself or as the record's `id`)."""
    created = result.get("id") if isinstance(result, dict) else result
    if status != 201 or not isinstance(created, str) or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._@\-]{0,79}", created):
        return None
    return {"Location": f"{route.path}/{created}"}


def _endpoint(gateway: Gateway, route: routing.Route):
    status = openapi.success_status(route)

    async def endpoint(request: Request):
        try:
            raw = request.query_params.multi_items() if route.method == "GET" else await request.body()
            result = await run_in_threadpool(gateway.handle, route, request.headers.get("authorization"),
                                             dict(request.path_params), raw, request.state.trace)
            body = result.body() if isinstance(result, paging.Page) else {"result": result}
            return JSONResponse(body, status_code=status, headers=_location(route, status, result))
        except Unauthorized as error:
            return problem(401, "Unauthorized", error.code, error.detail,
                           headers={"WWW-Authenticate": 'Bearer realm="civil-affairs", error="invalid_token"'
                                    if error.code != "auth.no_token" else 'Bearer realm="civil-affairs"'})
        except Forbidden as error:
            return problem(403, "Forbidden", error.code, error.detail, error.field)
        except MalformedBody as error:
            return problem(400, "Malformed request", "gateway.malformed_json", str(error))
        except DomainError as error:
            return _domain_problem(error)
        except Exception as error:
            if isinstance(error, Unavailable):
                return problem(503, "Service unavailable", "gateway.service_unavailable", str(error),
                               headers={"Retry-After": "5"})
            raise

    endpoint.__name__ = route.operation_id.replace(".", "__")
    return endpoint
