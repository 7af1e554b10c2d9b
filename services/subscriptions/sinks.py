"""Application layer: what the delivery engine needs of a sink, whatever its protocol.

A sink takes one CloudEvent (already filtered and scoped) and answers with an `Outcome`; the
engine (delivery.py) decides from the outcome whether to advance, wait and retry, dead-letter or
suspend. Two sinks: HTTP webhooks (webhooks.HttpSink, one request per event) and an AMQP
subscription's own queue (amqp_delivery.AmqpSink), which is also a `BatchSink`: it takes a page of
events at once and answers for all of them (the engine then falls back to one at a time if the
batch failed).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

DELIVERED = "delivered"   # 2xx: the subscriber has it
RETRY = "retry"           # 5xx, other non-2xx, a redirect, a timeout, no connection: try again later
THROTTLED = "throttled"   # 429: wait `retry_after` seconds, then try again (not a failure of the sink)
GONE = "gone"             # 410: the subscriber wants no more; the subscription is suspended
KINDS = (DELIVERED, RETRY, THROTTLED, GONE)


@dataclass(frozen=True)
class Outcome:
    kind: str
    reason: str = ""              # a metric label: server_error, timeout, connection, redirect, ...
    detail: str = ""              # for logs and dead letters (bounded)
    retry_after: float | None = None

    @property
    def delivered(self) -> bool:
        return self.kind == DELIVERED


class Sink(Protocol):
    def deliver(self, event: dict) -> Outcome: ...

    def close(self) -> None: ...


class BatchSink(Sink, Protocol):
    def deliver_many(self, events: list[dict]) -> Outcome: ...   # DELIVERED only when every one is
