"""Interface layer (gateway): the gateway's Prometheus metrics, in a registry of its own, served
at GET /metrics (no token: Prometheus scrapes it; not in the OpenAPI document).

- `gateway_requests_total{route,method,status}`: answers given;
- `gateway_request_duration_seconds{route,method}`: time to the answer's headers;
- `gateway_rate_limited_total`: requests refused with 429 by the rate limit.

`route` is the matched route's path template (`/social-assistance/cases/{case_id}/approve`),
never the raw URL, and `unmatched` for a path no route has; `method` is one of the HTTP methods
(else `other`): the number of series is bounded by the routes, whatever clients send.
Nothing here imports Nameko or eventlet (the gateway process never does).
"""
from __future__ import annotations

import time

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client import ProcessCollector
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Match

REGISTRY = CollectorRegistry()
ProcessCollector(registry=REGISTRY)      # memory, CPU and open files of the gateway process
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
UNMATCHED = "unmatched"
# The gateway's own budget is a few milliseconds beside an RPC of tens: buckets from 1 ms.
BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

REQUESTS = Counter("gateway_requests", "HTTP answers of the gateway, by route template, method and status",
                   ["route", "method", "status"], registry=REGISTRY)
DURATION = Histogram("gateway_request_duration_seconds",
                     "Time from a request's arrival to its answer's headers, by route template and method",
                     ["route", "method"], buckets=BUCKETS, registry=REGISTRY)
RATE_LIMITED = Counter("gateway_rate_limited", "Requests refused with 429 by the per-client rate limit",
                       registry=REGISTRY)


def route_label(request: Request) -> str:
    """The path template of the route the request matched (or would have: a request refused
    before routing, e.g. by the rate limit, is looked up here), else `unmatched`."""
    route = request.scope.get("route")
    if route is None:
        for candidate in request.app.router.routes:
            match, _ = candidate.matches(request.scope)
            if match != Match.NONE:
                route = candidate
                break
    return getattr(route, "path", None) or UNMATCHED


async def observe(request: Request, call_next):
    """HTTP middleware: counts and times every answer (the outermost one, so 429s and 500s too)."""
    started = time.perf_counter()
    response = await call_next(request)
    route = route_label(request)
    method = request.method if request.method in METHODS else "other"
    REQUESTS.labels(route, method, str(response.status_code)).inc()
    DURATION.labels(route, method).observe(time.perf_counter() - started)
    return response


def endpoint() -> Response:
    return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)
