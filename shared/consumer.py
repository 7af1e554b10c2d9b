"""Infrastructure: an ordered, batching, de-duplicating consumer of the platform's events.

One durable quorum queue bound with `#` to each source's `<service>.events` exchange keeps every
source's events in publish order (Nameko's one-queue-per-event-type handlers would not). Messages
are taken in batches and handed to `apply_batch(source, events)`, which must be idempotent per
(source, sequence) — the read model's tracking makes it so — and are acked only after it commits.

- A message that is not a CloudEvent, comes from an unknown source, or breaks its schema goes to
  the dead-letter queue `<queue>.dead-letter` with the reason in headers, and consumption goes on.
- A failing `apply_batch` (PostgreSQL down) is retried with back-off; nothing is acked meanwhile.
- Every few seconds the consumer asks each source's feed for its head: if the bus missed
  something (e.g. published before this queue existed), it catches up from the feed.
"""
from __future__ import annotations

import json
import logging
import socket
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable

import amqp
from kombu import Connection, Exchange, Queue, binding
from prometheus_client import Counter, Gauge, Histogram

from shared import contract
from shared.bus import events_exchange
from shared.watchdog import Watchdog

log = logging.getLogger("consumer")
CATCH_UP_CHUNK = 2000

APPLIED = Counter("projection_applied_events_total", "Events applied to the read model", ["source"])
RECEIVED = Counter("projection_received_messages_total", "Messages received from the bus", ["source"])
DEAD = Counter("projection_dead_letters_total", "Messages sent to the dead-letter queue", ["reason"])
POSITION = Gauge("projection_position", "Last applied sequence per source", ["source"])
SOURCE_HEAD = Gauge("projection_source_head", "Head of the source's event store (from its feed)", ["source"])
LAG = Gauge("projection_lag_events", "Source head minus applied position", ["source"])
BATCH_SECONDS = Histogram("projection_batch_duration_seconds", "Time to apply one batch")
CATCH_UPS = Counter("projection_catch_up_reads_total", "Reads of a source's feed to fill a gap", ["source"])
ERRORS = Counter("projection_errors_total", "Failures of the consumer loop; it retries", ["kind"])


class FeedClient:
    """Reads a source service's notification log: GET <url>/events?after=N&limit=M."""

    def __init__(self, url: str, timeout: float = 10.0):
        self.url = url.rstrip("/")
        self.timeout = timeout

    def page(self, after: int, limit: int = 500) -> dict:
        query = urllib.parse.urlencode({"after": after, "limit": limit})
        with urllib.request.urlopen(f"{self.url}/events?{query}", timeout=self.timeout) as response:
            return json.loads(response.read())

    def head(self) -> int:
        return self.page(0, 0)["head"]

    def between(self, after: int, before: int) -> list[dict]:
        """Events with after < sequence < before."""
        events: list[dict] = []
        while after < before - 1:
            batch = self.page(after, min(500, before - after - 1))["events"]
            if not batch:
                break
            events.extend(e for e in batch if int(e["sequence"]) < before)
            after = int(batch[-1]["sequence"])
        return events

    def pages(self, size: int = 500):
        after = 0
        while True:
            batch = self.page(after, size)["events"]
            if not batch:
                return
            yield batch
            after = int(batch[-1]["sequence"])


class Poison(ValueError):
    def __init__(self, reason: str, detail: str):
        super().__init__(f"{reason}: {detail}")
        self.reason, self.detail = reason, detail


QUIET = 0.005  # seconds without a delivery after which a partial batch is applied


class EventConsumer:
    def __init__(self, amqp_uri: str, queue_name: str, feeds: dict[str, FeedClient],
                 apply_batch: Callable[..., int], position: Callable[[str], int],
                 validate: Callable[[dict], None] | None = None, *, batch_size: int = 500,
                 batch_wait: float = 0.05, head_interval: float = 5.0):
        self.amqp_uri = amqp_uri
        self.queue_name = queue_name
        self.feeds = feeds  # source service name -> its feed
        self.apply_batch = apply_batch
        self.position = position
        self.validate = validate
        self.batch_size = batch_size
        self.batch_wait = batch_wait
        self.head_interval = head_interval
        self.stopping = threading.Event()
        self._buffer: list = []
        self._next_head_check = 0.0

    # --- topology -----------------------------------------------------------------------------

    def queue(self) -> Queue:
        bindings = [binding(Exchange(events_exchange(s), "topic", durable=True), routing_key="#")
                    for s in self.feeds]
        return Queue(self.queue_name, bindings=bindings, durable=True,
                     queue_arguments={"x-queue-type": "quorum"})

    def dead_letter_queue(self) -> Queue:
        return Queue(f"{self.queue_name}.dead-letter", Exchange(""), routing_key=f"{self.queue_name}.dead-letter",
                     durable=True, queue_arguments={"x-queue-type": "quorum"})

    # --- main loop ----------------------------------------------------------------------------

    def run_forever(self, watchdog: Watchdog | None = None) -> None:
        self.watchdog = watchdog
        backoff = 0.5
        while not self.stopping.is_set():
            self._beat()
            try:
                with Connection(self.amqp_uri, heartbeat=30, connect_timeout=5) as conn:
                    conn.ensure_connection(max_retries=1)
                    self._consume(conn)
                    backoff = 0.5
            except Exception as error:  # kombu, py-amqp and socket errors alike: reconnect
                ERRORS.labels("broker").inc()
                log.error("consumer %s: broker error (%s: %s); is RabbitMQ at AMQP_URI reachable? "
                          "reconnecting in %.1fs; unacked messages will be redelivered",
                          self.queue_name, type(error).__name__, error, backoff)
                self._buffer.clear()
                self.stopping.wait(backoff)
                backoff = min(backoff * 2, 10)

    def _consume(self, conn: Connection) -> None:
        channel = conn.channel()
        self.queue()(channel).declare()
        self.dead_letter_queue()(channel).declare()
        self._producer = conn.Producer(channel=conn.channel())
        with conn.Consumer(self.queue(), channel=channel, on_message=self._buffer.append,
                           prefetch_count=self.batch_size * 2):
            log.info("consumer %s: consuming from %s", self.queue_name, ", ".join(self.feeds))
            while not self.stopping.is_set():
                self._beat()
                deadline = time.monotonic() + self.batch_wait
                while len(self._buffer) < self.batch_size and time.monotonic() < deadline:
                    # Holding messages, flush once the socket is quiet for QUIET seconds rather
                    # than at the deadline: a lone event should not wait for a batch to fill.
                    wait = QUIET if self._buffer else deadline - time.monotonic()
                    try:
                        conn.drain_events(timeout=max(0.001, wait))
                    except socket.timeout:
                        conn.heartbeat_check()
                        break
                if self._buffer:
                    self._flush()
                if time.monotonic() >= self._next_head_check:
                    self._check_heads()

    def _flush(self) -> None:
        messages = list(self._buffer)
        self._buffer.clear()
        by_source: dict[str, list[dict]] = {}
        for message in messages:
            try:
                source, event = self._parse(message)
            except Poison as poison:
                self._dead_letter(message, poison)
                continue
            RECEIVED.labels(source).inc()
            by_source.setdefault(source, []).append(event)
        for source, events in by_source.items():
            events.sort(key=lambda e: int(e["sequence"]))
            self._apply_with_retry(source, events)
        if messages:
            messages[-1].ack(multiple=True)

    def _parse(self, message) -> tuple[str, dict]:
        try:
            event = contract.parse(message.body)
        except Exception as error:  # any parse failure is the message's fault, not ours
            raise Poison("not-a-cloudevent", str(error)[:200]) from None
        source = contract.service_of(event["source"])
        if source not in self.feeds:
            raise Poison("unknown-source", event["source"])
        if "sequence" not in event or not str(event["sequence"]).isdigit():
            raise Poison("no-sequence", "the sequence extension is missing or not a number")
        if self.validate is not None:
            try:
                self.validate(event)
            except ValueError as error:
                reason = "unknown-type" if type(error).__name__ == "UnknownSchema" else "schema-violation"
                raise Poison(reason, str(error)[:500]) from None
        return source, event

    def _dead_letter(self, message, poison: Poison) -> None:
        DEAD.labels(poison.reason).inc()
        log.warning("consumer %s: dead-lettering a message (%s)", self.queue_name, poison)
        headers = dict(message.headers or {})
        headers.update({"x-dead-letter-reason": poison.reason, "x-dead-letter-detail": poison.detail,
                        "x-original-exchange": message.delivery_info.get("exchange", ""),
                        "x-original-routing-key": message.delivery_info.get("routing_key", "")})
        self._producer.publish(message.body, exchange="", routing_key=f"{self.queue_name}.dead-letter",
                               headers=headers, content_type=message.content_type,
                               content_encoding=message.content_encoding or "binary",
                               delivery_mode=2, serializer=None)

    def _apply_with_retry(self, source: str, events: list[dict]) -> None:
        backoff = 0.5
        while True:
            self._beat()
            try:
                with BATCH_SECONDS.time():
                    applied = self.apply_batch(source, events, fetch_missing=self._fetcher(source))
                APPLIED.labels(source).inc(applied)
                POSITION.labels(source).set(int(events[-1]["sequence"]))
                return
            # `except ... as e` unbinds e when the block ends: keep the error for the log line.
            except (urllib.error.URLError, OSError, TimeoutError) as e:
                failure, kind, hint = e, "feed", f"the {source} service's /events feed"
            except Exception as e:  # the read model's database, most likely
                failure, kind, hint = e, "store", "PostgreSQL at POSTGRES_HOST"
            ERRORS.labels(kind).inc()
            log.error("consumer %s: could not apply %d %s events (%s: %s); is %s reachable? "
                      "retrying in %.1fs (nothing is acked meanwhile)", self.queue_name,
                      len(events), source, type(failure).__name__, failure, hint, backoff)
            if self.stopping.wait(backoff):
                raise SystemExit(0)
            backoff = min(backoff * 2, 10)

    def _fetcher(self, source: str):
        def fetch_missing(after: int, before: int) -> list[dict]:
            CATCH_UPS.labels(source).inc()
            return self.feeds[source].between(after, before)
        return fetch_missing

    def _check_heads(self) -> None:
        """Catch up from the feed when the bus is behind the source (or lost something)."""
        self._next_head_check = time.monotonic() + self.head_interval
        for source, feed in self.feeds.items():
            try:
                head = feed.head()
            except (urllib.error.URLError, OSError) as error:
                ERRORS.labels("feed").inc()
                log.warning("consumer %s: cannot read the head of %s (%s)", self.queue_name, source, error)
                continue
            position = self.position(source)
            SOURCE_HEAD.labels(source).set(head)
            LAG.labels(source).set(max(0, head - position))
            POSITION.labels(source).set(position)
            if head > position and self._quiet_since(source):
                try:
                    while position < head:  # in chunks: one transaction each, the watchdog fed
                        events = feed.between(position, min(head, position + CATCH_UP_CHUNK) + 1)
                        if not events:
                            break
                        CATCH_UPS.labels(source).inc()
                        APPLIED.labels(source).inc(self.apply_batch(source, events))
                        position = int(events[-1]["sequence"])
                        self._beat()
                except Exception as error:  # retried at the next check
                    ERRORS.labels("catch-up").inc()
                    log.warning("consumer %s: catch-up of %s failed (%s); retrying in %.0fs",
                                self.queue_name, source, error, self.head_interval)

    def _quiet_since(self, source: str) -> bool:
        # Only catch up from the feed when the bus has not brought anything for a whole check
        # interval: normally the bus is just a little behind the head and will deliver.
        seen = self.position(source)
        last = getattr(self, "_last_seen", {})
        quiet = last.get(source) == seen
        last[source] = seen
        self._last_seen = last
        return quiet

    def _beat(self) -> None:
        if getattr(self, "watchdog", None):
            self.watchdog.beat()

    def stop(self, *_args) -> None:
        self.stopping.set()


class DeadLetters:
    """The operator's view of a consumer's dead-letter queue: list, and re-queue once fixed."""

    def __init__(self, amqp_uri: str, queue_name: str):
        self.amqp_uri = amqp_uri
        self.queue_name = queue_name
        self.dead_letter_queue = f"{queue_name}.dead-letter"

    def list(self, limit: int = 100) -> list[dict]:
        """Look without taking: messages are fetched and rejected back, so they stay queued."""
        found = []
        with Connection(self.amqp_uri, connect_timeout=5) as conn:
            channel = conn.channel()
            taken = []
            while len(taken) < limit:
                message = channel.basic_get(self.dead_letter_queue, no_ack=False)
                if message is None:
                    break
                taken.append(message)
                headers = message.headers or {}
                found.append({"reason": headers.get("x-dead-letter-reason"),
                              "detail": headers.get("x-dead-letter-detail"),
                              "routing_key": headers.get("x-original-routing-key"),
                              "body": message.body[:300]})
            for message in taken:
                channel.basic_reject(message.delivery_tag, requeue=True)
        return found

    def requeue(self) -> int:
        """Move every dead letter back onto the consumer's queue (after the cause is fixed)."""
        moved = 0
        with Connection(self.amqp_uri, connect_timeout=5) as conn:
            channel = conn.channel()
            channel.confirm_select()
            while (message := channel.basic_get(self.dead_letter_queue, no_ack=False)) is not None:
                headers = {k: v for k, v in (message.headers or {}).items()
                           if not k.startswith("x-dead-letter")}
                channel.basic_publish(amqp.Message(message.body, delivery_mode=2,
                                                   content_type=message.properties.get("content_type"),
                                                   application_headers=headers),
                                      exchange="", routing_key=self.queue_name)
                channel.basic_ack(message.delivery_tag)
                moved += 1
        return moved
