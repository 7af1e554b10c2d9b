"""Infrastructure layer: an AMQP subscription's sink for the delivery engine (delivery.py).

`AmqpSink` is the `sinks.Sink` of a subscription with protocol AMQP: it publishes the filtered,
scoped CloudEvents to the subscription's own queue with `amqp_sink.deliver` (structured mode,
persistent, `mandatory`, publisher confirms) over one py-amqp connection of its own, made from
the delivery process's `AMQP_URI` (its broker user has `amqp_sink.DELIVERY_PERMISSIONS`). The
connection is opened on first use and again after any failure.

`deliver_many(events)` publishes a whole page as one batch and answers once the broker confirmed
every event (then the engine may acknowledge the position past them) or refused one — any
failure is a failed attempt of the batch (`RETRY`), like a webhook's 5xx, and the engine falls
back to one event at a time with its retry rules, so only the events that really fail become
dead letters. A retry may publish an event the broker had already taken: delivery is at least
once and in `sequence` order; a consumer de-duplicates on `message_id` (= the CloudEvent id) or
the highest `sequence` per source (docs/examples/amqp_subscriber.py).

There is no handshake (the queue was made by us at creation) and no pacing (the broker takes
what it is given; the subscriber reads at its own pace, bounded by its queue).
"""
from __future__ import annotations

import logging
import os
import socket

import amqp

from services.subscriptions import amqp_sink
from services.subscriptions.sinks import DELIVERED, RETRY, Outcome
from shared.bus import AmqpAddress
from shared.errors import InvalidInput

log = logging.getLogger(__name__)

DEFAULT_URI = "amqp://guest:guest@127.0.0.1:5672/"
CONFIRM_TIMEOUT = 10.0   # seconds for the broker to confirm a batch; then the connection is made anew


def amqp_uri(environ=None) -> str:
    return (os.environ if environ is None else environ).get("AMQP_URI", DEFAULT_URI)


class AmqpSink:
    """One AMQP subscription's queue, as the engine's Sink: deliver(event), deliver_many(events)."""

    def __init__(self, subscription_id: str, uri: str | None = None, timeout: float = CONFIRM_TIMEOUT):
        self.id = amqp_sink.checked_id(subscription_id)
        self.address = AmqpAddress.parse(uri or amqp_uri())
        self.timeout = min(max(timeout, 0.1), 300.0)
        self.connection: amqp.Connection | None = None

    def deliver(self, event: dict) -> Outcome:
        return self.deliver_many([event])

    def deliver_many(self, events: list[dict]) -> Outcome:
        try:
            amqp_sink.deliver(self.connection or self._connect(), self.id, list(events), timeout=self.timeout)
        except InvalidInput as error:      # an event too large to send: it can only be dead-lettered
            return Outcome(RETRY, "refused_event", f"{error.code}: {error}"[:300])
        except amqp_sink.DeliveryRefused as error:
            reason = _reason(str(error))
            if reason == "unconfirmed":    # the connection may be dead without saying so
                self.close()
            return Outcome(RETRY, reason, str(error)[:300])
        except (amqp.exceptions.AMQPError, OSError, socket.timeout) as error:
            self.close()
            return Outcome(RETRY, "connection", f"{type(error).__name__}: {error}"[:300])
        return Outcome(DELIVERED)

    def _connect(self) -> amqp.Connection:
        # heartbeat 0: py-amqp sends heartbeats only when asked, and an idle worker (caught up)
        # would be dropped by the broker; a dead connection shows as an unconfirmed batch instead.
        options = {**self.address.connection_kwargs(), "heartbeat": 0}
        connection = amqp.Connection(**options, client_properties={
            "connection_name": f"subscriptions-delivery {self.id}"})
        try:
            connection.connect()
        except BaseException:
            _quietly_close(connection)
            raise
        self.connection = connection
        return connection

    def close(self) -> None:
        if self.connection is not None:
            connection, self.connection = self.connection, None
            _quietly_close(connection)


def _reason(text: str) -> str:
    """A metric label for amqp_sink.DeliveryRefused's message."""
    if text.startswith("unroutable"):
        return "unroutable"
    if text.startswith("nacked"):
        return "nacked"
    return "unconfirmed"


def _quietly_close(connection: amqp.Connection) -> None:
    """Close, or at least release the socket: the broker or the network may have closed it."""
    try:
        connection.close()
    except Exception:  # noqa: BLE001 - already closed on the other side
        connection.collect()
