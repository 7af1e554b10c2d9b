"""Interface layer: what every Nameko service of the platform needs, written once.

Import this module first in a Nameko service module: it makes psycopg wait cooperatively under
eventlet (psycopg detects gevent, not eventlet; its C wait would block the whole hub).
- `ApplicationProvider`: one eventsourcing application per service container.
- `EntrypointMetrics`: calls, errors and duration of every entrypoint, for Prometheus.
- `metrics_response()`: the Prometheus text page for an `@http('GET', '/metrics')` entrypoint.
- `json_response()`: JSON bodies for HTTP entrypoints, with domain errors mapped to 4xx.
- domain errors registered with Nameko, so RPC callers get `InvalidInput`/`Conflict`/`NotFound`/`ServiceUnavailable`
  back with field, rule and code, instead of a generic RemoteError.
- `domain_service(domain)`: the service class, its RPC methods generated
  from the domain's declared commands (`services/<domain>/commands.py`, `shared.commands`).
  Each command runs `acting` as its caller (shared/audit.py): the actor and request id the caller
  sent as context data go into every event it stores; a query that reveals identity numbers needs
  a reason and is recorded as a `Disclosure` before its answer leaves.
- the `application/cloudevents+json` serializer, so a plain `@event_handler` can consume the
  relay's messages (see `NAMEKO_SERIALIZERS`).
"""
from __future__ import annotations

import os

os.environ.setdefault("PSYCOPG_WAIT_FUNC", "wait_select")

import json  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402

warnings.filterwarnings("ignore", message=r"(?s).*Eventlet is deprecated")

from nameko.exceptions import deserialize_to_instance  # noqa: E402
from nameko.rpc import Rpc, RpcConsumer  # noqa: E402
from nameko.web.handlers import http  # noqa: E402
from nameko.extensions import DependencyProvider  # noqa: E402
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, generate_latest  # noqa: E402
from werkzeug.wrappers import Response  # noqa: E402

from shared import audit, errors, progress  # noqa: E402

# DomainError keeps its code in `args` (shared/errors.py): Nameko's serialisation carries it.
for _error in errors.ALL:
    deserialize_to_instance(_error)


CALLS = Counter("entrypoint_calls_total", "Entrypoint calls handled", ["service", "entrypoint"])
FAILURES = Counter("entrypoint_errors_total",
                   "Entrypoint calls that raised; kind is the error type (domain errors are "
                   "refused bad input, anything else is a fault)", ["service", "entrypoint", "kind"])
DURATION = Histogram("entrypoint_duration_seconds", "Entrypoint call duration",
                     ["service", "entrypoint"],
                     buckets=(.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120))

CLOUDEVENTS_CONTENT_TYPE = "application/cloudevents+json"
NAMEKO_SERIALIZERS = {
    "cloudevents": {
        "encoder": "shared.nameko_support.encode_cloudevent",
        "decoder": "shared.nameko_support.decode_cloudevent",
        "content_type": CLOUDEVENTS_CONTENT_TYPE,
    }
}


def encode_cloudevent(value) -> str:
    return json.dumps(value, ensure_ascii=False)


def decode_cloudevent(body):
    return json.loads(body)


class ApplicationProvider(DependencyProvider):
    """Builds the service's application once, when the container starts."""

    def __init__(self, factory):
        self.factory = factory
        self.application = None

    def setup(self):
        self.application = self.factory()

    def stop(self):
        if self.application is not None:
            self.application.close()

    def get_dependency(self, worker_ctx):
        return self.application


class EntrypointMetrics(DependencyProvider):
    """Counts every entrypoint call, its errors and its duration."""

    def setup(self):
        self.started: dict[int, float] = {}

    def worker_setup(self, worker_ctx):
        self.started[id(worker_ctx)] = time.perf_counter()

    def worker_result(self, worker_ctx, result=None, exc_info=None):
        service = self.container.service_name
        name = worker_ctx.entrypoint.method_name
        CALLS.labels(service, name).inc()
        start = self.started.pop(id(worker_ctx), None)
        if start is not None:
            DURATION.labels(service, name).observe(time.perf_counter() - start)
        if exc_info is not None:
            FAILURES.labels(service, name, exc_info[0].__name__).inc()


def metrics_response() -> Response:
    return Response(generate_latest(), mimetype=CONTENT_TYPE_LATEST.split(";")[0],
                    headers={"Content-Type": CONTENT_TYPE_LATEST})


def json_response(body, status: int = 200) -> Response:
    return Response(json.dumps(body, ensure_ascii=False), status=status,
                    mimetype="application/json")


def error_response(error: errors.DomainError) -> Response:
    status = {errors.NotFound: 404, errors.Conflict: 409, errors.ServiceUnavailable: 503}.get(type(error), 400)
    return json_response(error.as_dict(), status)


class EventStoreEndpoints:
    """The HTTP endpoints every event-sourced service has (its `app` is the application):
    GET /metrics (Prometheus), GET /healthz, GET /events?after=N&limit=M (the notification log
    as CloudEvents, for consumers catching up on a gap or rebuilding), GET /events/position?at=T
    (the position of a time in that log, for a replay from a time)."""

    @http("GET", "/metrics")
    def get_metrics(self, request):
        from shared import feed
        feed.update_head_gauge(self.app)
        return metrics_response()

    @http("GET", "/healthz")
    def healthz(self, request):
        return json_response({"status": "ok", "service": self.name,
                              "head": self.app.recorder.max_notification_id() or 0})

    @http("GET", "/events")
    def events(self, request):
        from shared import feed
        try:
            return json_response(feed.page(self.app, request.args.get("after", "0"),
                                           request.args.get("limit", "500")))
        except errors.DomainError as error:
            return error_response(error)

    @http("GET", "/events/position")
    def events_position(self, request):
        from shared import feed
        if type(self).events is None:      # a service that serves no feed (`events = None`) has no position
            return error_response(errors.NotFound("at", "this service serves no feed", code="feed.not_served"))
        try:
            return json_response(feed.position(self.app, request.args.get("at", "")))
        except errors.DomainError as error:
            return error_response(error)


class CallerContext(DependencyProvider):
    """The caller's context data (Nameko's `nameko.*` message headers) of the running call."""

    def get_dependency(self, worker_ctx):
        return dict(worker_ctx.data, _origin_call_id=worker_ctx.origin_call_id or worker_ctx.call_id)


# --- RPC methods generated from a domain's declared commands ----------------------------------------

MALFORMED = Counter("rpc_malformed_requests_total",
                    "RPC requests dropped unanswered: no content type, no reply address, or a body "
                    "that is not an object (nothing a Nameko caller sends)", ["service"])


class GuardedRpcConsumer(RpcConsumer):
    """Drops (acknowledges, logs, counts) a request that no Nameko caller would send. Nameko
    itself answers such a message by failing to encode the error reply, and that kills the
    service container; the message is then redelivered to the restarted service, which dies
    again: one malformed message from anyone allowed to publish requests stops the service."""

    def setup(self):
        super().setup()
        MALFORMED.labels(self.container.service_name)   # at 0 from the start, for rate() and alerts

    def handle_message(self, body, message):
        properties = message.properties
        if (not isinstance(body, dict) or not properties.get("content_type")
                or not properties.get("reply_to") or not properties.get("correlation_id")):
            import logging
            logging.getLogger("nameko_support").warning(
                "%s: dropped a malformed RPC request (routing key %s, content type %s)",
                self.container.service_name, message.delivery_info.get("routing_key"),
                properties.get("content_type"))
            MALFORMED.labels(self.container.service_name).inc()
            self.queue_consumer.ack_message(message)
            return
        super().handle_message(body, message)


class GuardedRpc(Rpc):
    """Nameko's @rpc with malformed requests dropped (`GuardedRpcConsumer`): use `guarded_rpc`
    for every RPC method of the platform's services."""

    rpc_consumer = GuardedRpcConsumer()


guarded_rpc = GuardedRpc.decorator


class DeclaredRpc(GuardedRpc):
    """An RPC entrypoint whose arguments the command's declaration binds and checks (in the
    worker, so the caller gets `InvalidInput` naming the field, with a code such as
    `input.unknown_field`, `input.required` or `input.too_many_arguments`), instead of nameko's
    generic `IncorrectSignature` before the worker starts. Failures are counted by
    `EntrypointMetrics` like any refused command. Malformed messages never reach it
    (`GuardedRpcConsumer`)."""

    def check_signature(self, args, kwargs):
        return None


declared_rpc = DeclaredRpc.decorator




def _disclose(app, command, values: dict, reason: str) -> None:
    """Record that this query showed personal data unmasked (the command's `reveals`: identity
    numbers unless it says otherwise) before the answer leaves."""
    record_arg = next(a.name for a in command.args if a.name.endswith("_id"))
    record_type = command.name[len("get_"):] if command.name.startswith("get_") else command.name
    app.save(audit.Disclosure.record(record_type, values[record_arg], list(command.reveals), reason))


def _rpc_method(command):
    def method(self, *args, **kwargs):
        values = command.bind(args, kwargs)
        context = self.caller
        revealing = bool(values.get(audit.REVEAL))
        reason = audit.check_reason(context.get(audit.REASON)) if revealing else None
        with audit.acting(audit.from_context(context, context.get("_origin_call_id"))):
            result = command.invoke(self.app, values, on_progress=lambda: progress.Progress(
                f"{self.name}.{command.name}", {"service": self.name, "entrypoint": command.name}))
            if revealing:
                _disclose(self.app, command, values, reason)
        return result
    method.__name__ = method.__qualname__ = command.name
    method.__doc__ = command.doc
    method.__signature__ = command.signature()   # what inspect (and the gateway) shows
    method.command = command
    return declared_rpc(expected_exceptions=(errors.DomainError,))(method)


def domain_service(domain, build_application=None, *, commands=None):
    """The Nameko service class of a domain: `name` is the domain's name, `app` its
    application (built once per container by `build_application`, by default the domain's
    application with its `prepare` step run), one RPC method per declared
    command (`domain.load("commands").COMMANDS` unless given), the HTTP endpoints of
    `EventStoreEndpoints` and `EntrypointMetrics`. Subclass it in the service module, so that
    `nameko run <module>` finds exactly one service there:

        class WelfareService(nameko_support.domain_service(DOMAIN)):
            "Generated from services/welfare/commands.py."
    """
    from shared.commands import by_name
    declared = by_name(commands if commands is not None else domain.load("commands").COMMANDS)
    clashes = sorted(set(declared) & {n for n in dir(EventStoreEndpoints) if not n.startswith("__")}
                     | set(declared) & {"name", "app", "metrics", "commands", "caller"})
    if clashes:
        raise ValueError(f"{domain.name}: commands named like the service's own attributes: {clashes}")
    namespace = {"name": domain.name,
                 "app": ApplicationProvider(build_application or domain.prepared_application),
                 "metrics": EntrypointMetrics(), "caller": CallerContext(), "commands": declared,
                 "__doc__": f"The {domain.name} Nameko service, generated from its declared commands."}
    namespace.update({name: _rpc_method(command) for name, command in declared.items()})
    base_name = "".join(part.title() for part in domain.name.split("_")) + "DeclaredService"
    return type(base_name, (EventStoreEndpoints,), namespace)
