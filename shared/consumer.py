"""Infrastructure: an ordered, batching, de-duplicating consumer of the platform's events.

Topology. Either one durable quorum queue `<queue>` bound with `#` to every source's
`<service>.events` exchange, or (`queues={source: name}`, what the projection uses) one quorum
queue per source, each bound with `#` to its own source's exchange only. Either keeps each
source's events in publish order (Nameko's one-queue-per-event-type handlers would not). One
consumer may take several per-source queues (one channel, one batch loop: the sources applied one
after another) or a single one: the projection runs one consumer per source in threads of its own
(services/projection/__main__.py), so sources are applied in parallel, each in order. Every
consumer of a queue family shares the dead-letter queue `<queue>.dead-letter`. Messages are taken
in batches and handed to `apply_batch(source, events)`, which must be idempotent per (source,
sequence) — the read model's tracking makes it so — and are acked only after it commits.

- A message that is not a CloudEvent, comes from an unknown source, or breaks its schema goes to
  the dead-letter queue `<queue>.dead-letter` with the reason in headers, and consumption goes on.
- A failing `apply_batch` is told apart by `is_permanent(error)`:
  - transient (the store or the network: psycopg OperationalError/InterfaceError and SQLSTATE
    classes 08/40/53/55/57/58/XX, a pool timeout, OSError): retried with back-off until it is
    back; nothing is acked meanwhile. The read model's database is shared by every source, so
    all of them wait, as they must.
  - permanent (the event cannot be applied: DataError, IntegrityError, ProgrammingError,
    NotSupportedError, SQLSTATE classes 22/23/42/54, or KeyError/TypeError/ValueError/
    ArithmeticError/AttributeError raised by a handler on the event's data): after
    `apply_attempts` tries (default 3, env CONSUMER_APPLY_ATTEMPTS) the batch is applied again
    with `on_skip=`: event by event (the read model uses a savepoint per event), the good ones
    in order and exactly once, the bad one recorded as skipped by the read model (its position
    is passed, so gap detection does not fetch it again). The consumer then dead-letters it with
    reason `apply-failed` and the error as detail (a copy rebuilt from the event when it came
    from the feed), counts it (`projection_dead_letters_total{reason="apply-failed"}`,
    `projection_skipped_events_total{source}`), acks and goes on. `dead-letters requeue` puts it
    back: the read model tries a re-queued skipped event again (late, after the events that
    followed it) and drops its skip record if it applies now.
- One source's trouble does not hold back the others. A poison event is isolated as above. If a
  source's events have a gap and its /events feed cannot be read to fill it (unreachable, timed
  out, garbage), that source's part of the batch is *deferred*: acked without being applied
  (`projection_deferred_events_total{source}`), its position unchanged, while the other sources'
  events are applied and acked as usual. Nothing is lost by that: the events stay in the
  source's event store, and once its feed answers again the next message's gap fill, or the
  head check below, fetches everything after the position. (Holding the messages instead would
  fill the prefetch window and stall every source; re-queueing them would spin.) For a few
  seconds after a failure (back-off up to 30 s) that feed is not asked again, so a feed that
  times out does not slow every batch.
- Every few seconds the consumer asks each source's feed for its head: if the bus missed
  something (e.g. published before this queue existed), it catches up from the feed; a poison
  event met there is isolated the same way.
"""
from __future__ import annotations

import decimal
import json
import logging
import os
import socket
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable

import amqp
import psycopg
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
SKIPPED = Counter("projection_skipped_events_total",
                  "Events the read model could not apply: skipped and dead-lettered (apply-failed)", ["source"])
# Every reason and kind a counter above can take, exposed at 0 from the start (Prometheus's advice:
# a series that appears only with the first failure makes rate() and alerts miss that failure).
POISON_REASONS = ("not-a-cloudevent", "unknown-source", "no-sequence", "unknown-type",
                  "schema-violation", "apply-failed")
ERROR_KINDS = ("broker", "feed", "catch-up", "event", "store")
# Per worker (one consumer; the projection runs one per source, labelled with the source's name).
WORKER_CONSUMING = Gauge("projection_worker_consuming",
                         "1 while the worker is connected and consuming its queues, 0 while it reconnects",
                         ["worker"])
WORKER_BATCHES = Counter("projection_worker_batches_total", "Batches the worker applied and acked", ["worker"])
WORKER_LAST_BATCH = Gauge("projection_worker_last_batch_timestamp_seconds",
                          "When the worker last applied and acked a batch (Unix time)", ["worker"])
WORKER_RECONNECTS = Counter("projection_worker_reconnects_total",
                            "Times the worker lost its broker connection and reconnected", ["worker"])
DEFERRED = Counter("projection_deferred_events_total",
                   "Events acked unapplied because their source's feed could not fill a gap; "
                   "caught up from the feed later", ["source"])

# --- transient or permanent -------------------------------------------------------------------

TRANSIENT_SQLSTATE_CLASSES = {"08", "40", "53", "55", "57", "58", "XX"}
PERMANENT_SQLSTATE_CLASSES = {"22", "23", "42", "54", "0A"}
PERMANENT_PYTHON_ERRORS = (KeyError, TypeError, ValueError, ArithmeticError, decimal.InvalidOperation,
                           AttributeError, LookupError)


def initialise_counters(sources) -> None:
    """Every labelled counter of the consumer at 0 for the sources it consumes."""
    for reason in POISON_REASONS:
        DEAD.labels(reason)
    for kind in ERROR_KINDS:
        ERRORS.labels(kind)
    for source in sources:
        for counter in (APPLIED, RECEIVED, CATCH_UPS, SKIPPED, DEFERRED):
            counter.labels(source)


class FeedUnavailable(OSError):
    """A source's feed could not be read (unreachable, timed out, or not answering JSON)."""

    def __init__(self, source: str, cause: object):
        super().__init__(f"the {source} feed: {type(cause).__name__}: {cause}")
        self.source = source


def _causes(error: BaseException):
    seen = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        yield error
        error = error.__cause__


def is_permanent(error: BaseException) -> bool:
    """True when `error` says the event itself cannot be applied, so retrying cannot help.
    eventsourcing wraps psycopg's errors in its own classes (`raise ... from`): the innermost
    cause that is a psycopg error decides. Anything unrecognised counts as transient: retried
    (and logged), rather than skipping an event for a reason nobody classified."""
    chain = list(_causes(error))
    for cause in reversed(chain):  # innermost first
        if isinstance(cause, (FeedUnavailable, OSError, TimeoutError)):
            return False
        if isinstance(cause, psycopg.Error):
            sqlstate = getattr(cause, "sqlstate", None) or ""
            if sqlstate[:2] in TRANSIENT_SQLSTATE_CLASSES:
                return False
            if sqlstate[:2] in PERMANENT_SQLSTATE_CLASSES:
                return True  # 54 (a value over a program limit) although psycopg calls it operational
            if isinstance(cause, (psycopg.OperationalError, psycopg.InterfaceError)):
                return False  # connection lost, pool timeout, server restarting
            return isinstance(cause, (psycopg.DataError, psycopg.IntegrityError,
                                      psycopg.ProgrammingError, psycopg.NotSupportedError))
    return isinstance(chain[-1], PERMANENT_PYTHON_ERRORS) or isinstance(error, PERMANENT_PYTHON_ERRORS)


def describe(error: BaseException) -> str:
    """The innermost cause as `Type: message` (first line), for logs and dead-letter details."""
    cause = list(_causes(error))[-1]
    text = str(cause).strip().splitlines()[0] if str(cause).strip() else ""
    return f"{type(cause).__name__}: {text}"[:500]


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
                 batch_wait: float = 0.05, head_interval: float = 5.0,
                 apply_attempts: int | None = None, queues: dict[str, str] | None = None,
                 worker: str | None = None):
        self.amqp_uri = amqp_uri
        self.queue_name = queue_name   # the shared queue, or the family's name (its dead letters)
        self.feeds = feeds  # source service name -> its feed
        # source -> its own queue (one per source), or None: the one queue bound to every source.
        if queues is not None and set(queues) != set(feeds):
            raise ValueError(f"queues {sorted(queues)} and feeds {sorted(feeds)} name other sources")
        self.queues = dict(queues) if queues is not None else None
        self.worker = worker or queue_name
        WORKER_CONSUMING.labels(self.worker).set(0)
        WORKER_BATCHES.labels(self.worker)
        WORKER_RECONNECTS.labels(self.worker)
        self.apply_batch = apply_batch
        self.position = position
        self.validate = validate
        self.batch_size = batch_size
        self.batch_wait = batch_wait
        self.head_interval = head_interval
        # Tries of a batch failing permanently before its bad event is skipped and dead-lettered.
        self.apply_attempts = max(1, apply_attempts if apply_attempts is not None
                                  else int(os.environ.get("CONSUMER_APPLY_ATTEMPTS", "3")))
        self._feed_retry_at: dict[str, tuple[float, float]] = {}  # source -> (not before, pause)
        self.stopping = threading.Event()
        initialise_counters(feeds)
        self._buffer: list = []
        self._next_head_check = 0.0

    # --- topology -----------------------------------------------------------------------------

    def queue(self) -> Queue:
        """The one queue bound to every source (without per-source `queues`)."""
        bindings = [binding(Exchange(events_exchange(s), "topic", durable=True), routing_key="#")
                    for s in self.feeds]
        return Queue(self.queue_name, bindings=bindings, durable=True,
                     queue_arguments={"x-queue-type": "quorum"})

    def consumed_queues(self) -> list[Queue]:
        """What this consumer declares and consumes: the shared queue, or each source's own."""
        if self.queues is None:
            return [self.queue()]
        return [Queue(name, Exchange(events_exchange(source), "topic", durable=True), routing_key="#",
                      durable=True, queue_arguments={"x-queue-type": "quorum"})
                for source, name in self.queues.items()]

    def origin_queue(self, exchange: str, routing_key: str) -> str:
        """The queue a delivery came through (where `dead-letters requeue` puts it back)."""
        if self.queues is None:
            return self.queue_name
        for source, name in self.queues.items():
            if exchange == events_exchange(source) or (exchange == "" and routing_key == name):
                return name
        return self.queue_name

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
                WORKER_CONSUMING.labels(self.worker).set(0)
                WORKER_RECONNECTS.labels(self.worker).inc()
                ERRORS.labels("broker").inc()
                log.error("consumer %s: broker error (%s: %s); is RabbitMQ at AMQP_URI reachable? "
                          "reconnecting in %.1fs; unacked messages will be redelivered",
                          self.worker, type(error).__name__, error, backoff)
                self._buffer.clear()
                self.stopping.wait(backoff)
                backoff = min(backoff * 2, 10)
        WORKER_CONSUMING.labels(self.worker).set(0)

    def _consume(self, conn: Connection) -> None:
        channel = conn.channel()
        queues = self.consumed_queues()
        for queue in queues:
            queue(channel).declare()
        self.dead_letter_queue()(channel).declare()
        self._producer = conn.Producer(channel=conn.channel())
        with conn.Consumer(queues, channel=channel, on_message=self._buffer.append,
                           prefetch_count=self.batch_size * 2):
            WORKER_CONSUMING.labels(self.worker).set(1)
            log.info("consumer %s: consuming %s from %s", self.worker, ", ".join(q.name for q in queues),
                     ", ".join(self.feeds))
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
        by_source: dict[str, list[tuple[dict, object]]] = {}
        for message in messages:
            try:
                source, event = self._parse(message)
            except Poison as poison:
                self._dead_letter(message, poison)
                continue
            RECEIVED.labels(source).inc()
            by_source.setdefault(source, []).append((event, message))
        for source, pairs in by_source.items():
            pairs.sort(key=lambda pair: int(pair[0]["sequence"]))
            # Each source ends applied, applied with its poison dead-lettered, or deferred (its
            # feed is down): only a store failure (shared by all) keeps the loop here.
            self._apply_with_retry(source, [event for event, _ in pairs],
                                   {int(event["sequence"]): message for event, message in pairs})
        if messages:
            messages[-1].ack(multiple=True)
            WORKER_BATCHES.labels(self.worker).inc()
            WORKER_LAST_BATCH.labels(self.worker).set(time.time())

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
        self._publish_dead_letter(message.body, message.headers, poison,
                                  message.delivery_info.get("exchange", ""),
                                  message.delivery_info.get("routing_key", ""),
                                  message.content_type, message.content_encoding)

    def _publish_dead_letter(self, body: bytes, headers: dict | None, poison: Poison, exchange: str,
                             routing_key: str, content_type: str | None,
                             content_encoding: str | None) -> None:
        DEAD.labels(poison.reason).inc()
        log.warning("consumer %s: dead-lettering a message (%s)", self.worker, poison)
        headers = dict(headers or {})
        # Where it first came from survives a re-queue and a second refusal.
        origin = self.origin_queue(exchange, routing_key)
        headers.setdefault("x-original-exchange", exchange)
        headers.setdefault("x-original-routing-key", routing_key)
        headers.update({"x-dead-letter-reason": poison.reason, "x-dead-letter-detail": poison.detail,
                        "x-original-queue": headers.get("x-original-queue") or origin})
        self._producer.publish(body, exchange="", routing_key=f"{self.queue_name}.dead-letter",
                               headers=headers, content_type=content_type,
                               content_encoding=content_encoding or "binary",
                               delivery_mode=2, serializer=None)

    def _skipped(self, source: str, event: dict, error: BaseException, message=None) -> None:
        """The read model skipped `event` (and recorded it): dead-letter it as apply-failed."""
        SKIPPED.labels(source).inc()
        poison = Poison("apply-failed", f"{source} sequence {int(event['sequence'])} "
                                        f"({event.get('type')}): {describe(error)}"[:500])
        log.error("consumer %s: skipped %s event %s (%s), which the read model cannot apply: %s; "
                  "see `python -m services.projection dead-letters`", self.worker, source,
                  int(event["sequence"]), event.get("type"), describe(error))
        if message is not None:
            self._dead_letter(message, poison)
        else:  # it came from the feed: dead-letter the CloudEvent as the relay would publish it
            self._publish_dead_letter(json.dumps(event).encode(), {}, poison, events_exchange(source),
                                      str(event.get("type", "")), contract.CONTENT_TYPE, None)

    def _apply_with_retry(self, source: str, events: list[dict], messages: dict | None = None,
                          *, fetch: bool = True, retry_transient: bool = True) -> int:
        """Apply one source's events; returns how many were applied. Transient failures are
        retried with back-off (or raised, with `retry_transient=False`); a permanent one, after
        `apply_attempts` tries, makes the read model skip the bad event (see the module doc).
        When the source's feed cannot fill a gap, its events are deferred: nothing applied."""
        backoff = 0.5
        permanent_failures = 0
        isolate = False
        messages = messages or {}
        while True:
            self._beat()
            skipped: list[tuple[dict, BaseException]] = []
            kwargs = {"fetch_missing": self._fetcher(source)} if fetch else {}
            if isolate:
                kwargs["on_skip"] = lambda event, error: skipped.append((event, error))
            try:
                with BATCH_SECONDS.time():
                    applied = self.apply_batch(source, events, **kwargs)
                APPLIED.labels(source).inc(applied)
                POSITION.labels(source).set(int(events[-1]["sequence"]))
                for event, error in skipped:
                    self._skipped(source, event, error, messages.get(int(event["sequence"])))
                return applied
            # `except ... as e` unbinds e when the block ends: keep the error for the log line.
            except FeedUnavailable as e:
                if not retry_transient:
                    raise
                DEFERRED.labels(source).inc(len(events))
                ERRORS.labels("feed").inc()
                log.warning("consumer %s: deferred %d %s events: a gap before them cannot be filled "
                            "(%s); is the %s service's /events feed reachable? They stay in its "
                            "event store and are fetched from the feed once it answers; the other "
                            "sources go on", self.worker, len(events), source, e, source)
                return 0
            except Exception as e:
                failure = e
            if is_permanent(failure) and isolate:
                # Not one event's fault (e.g. the tracking write): nothing to skip, so retried.
                kind, hint = "event", "a failure no single event can be skipped for"
                if not retry_transient:
                    raise failure
            elif is_permanent(failure):
                permanent_failures += 1
                kind, hint = "event", None
                if permanent_failures >= self.apply_attempts:
                    log.warning("consumer %s: %d %s events failed %d times (%s): applying them one "
                                "by one to skip what cannot be applied", self.worker, len(events),
                                source, permanent_failures, describe(failure))
                    isolate = True
                    continue
            else:
                if not retry_transient:
                    raise failure
                kind, hint = "store", "PostgreSQL at POSTGRES_HOST"
            ERRORS.labels(kind).inc()
            if kind == "event" and hint:
                log.error("consumer %s: could not apply %d %s events event by event either (%s): "
                          "%s; retrying in %.1fs (nothing is acked meanwhile)", self.worker,
                          len(events), source, describe(failure), hint, backoff)
            elif hint:
                log.error("consumer %s: could not apply %d %s events (%s: %s); is %s reachable? "
                          "retrying in %.1fs (nothing is acked meanwhile)", self.worker,
                          len(events), source, type(failure).__name__, failure, hint, backoff)
            else:
                log.error("consumer %s: could not apply %d %s events (%s), attempt %d of %d; "
                          "retrying in %.1fs", self.worker, len(events), source,
                          describe(failure), permanent_failures, self.apply_attempts, backoff)
            if self.stopping.wait(backoff):
                raise SystemExit(0)
            backoff = min(backoff * 2, 10)

    def _fetcher(self, source: str):
        def fetch_missing(after: int, before: int) -> list[dict]:
            retry_at = self._feed_retry_at.get(source)
            if retry_at is not None and time.monotonic() < retry_at[0]:
                raise FeedUnavailable(source, "it failed a moment ago; asked again at the back-off's end")
            CATCH_UPS.labels(source).inc()
            try:
                events = self.feeds[source].between(after, before)
            except Exception as error:  # unreachable, timed out, a proxy's error page: the feed's
                pause = min(2 * retry_at[1], 30.0) if retry_at else 1.0
                self._feed_retry_at[source] = (time.monotonic() + pause, pause)
                raise FeedUnavailable(source, error) from error
            self._feed_retry_at.pop(source, None)
            return events
        return fetch_missing

    def _check_heads(self) -> None:
        """Catch up from the feed when the bus is behind the source (or lost something)."""
        self._next_head_check = time.monotonic() + self.head_interval
        for source, feed in self.feeds.items():
            try:
                head = feed.head()
            except (urllib.error.URLError, OSError) as error:
                ERRORS.labels("feed").inc()
                log.warning("consumer %s: cannot read the head of %s (%s)", self.worker, source, error)
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
                        self._apply_with_retry(source, events, fetch=False, retry_transient=False)
                        position = int(events[-1]["sequence"])
                        self._beat()
                except Exception as error:  # retried at the next check
                    ERRORS.labels("catch-up").inc()
                    log.warning("consumer %s: catch-up of %s failed (%s); retrying in %.0fs",
                                self.worker, source, error, self.head_interval)

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

    def __init__(self, amqp_uri: str, queue_name: str, queues: dict[str, str] | None = None):
        self.amqp_uri = amqp_uri
        self.queue_name = queue_name
        self.queues = dict(queues or {})     # source -> its own queue, for letters without a queue header
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
        """Move every dead letter back onto the queue it came through (its `x-original-queue`,
        else its source's queue from `x-original-exchange`, else the consumer's queue), after the
        cause is fixed. A letter whose queue does not exist stays a dead letter (said in the log).
        Bounded: at most the messages there when it started."""
        moved = 0
        with Connection(self.amqp_uri, connect_timeout=5) as conn:
            channel = conn.channel()
            waiting = channel.queue_declare(self.dead_letter_queue, passive=True).message_count
            check = conn.channel()
            exists: dict[str, bool] = {}
            channel.confirm_select()
            for _ in range(waiting):
                message = channel.basic_get(self.dead_letter_queue, no_ack=False)
                if message is None:
                    break
                headers = {k: v for k, v in (message.headers or {}).items()
                           if not k.startswith("x-dead-letter")}
                target = self._target(headers)
                if target not in exists:
                    try:
                        check.queue_declare(target, passive=True)
                        exists[target] = True
                    except amqp.exceptions.NotFound:
                        exists[target] = False
                        check = conn.channel()     # a failed passive declare closes the channel
                        log.warning("dead letters: the queue %s does not exist; its letters stay in %s",
                                    target, self.dead_letter_queue)
                if not exists[target]:
                    channel.basic_reject(message.delivery_tag, requeue=True)
                    continue
                channel.basic_publish(amqp.Message(message.body, delivery_mode=2,
                                                   content_type=message.properties.get("content_type"),
                                                   application_headers=headers),
                                      exchange="", routing_key=target)
                channel.basic_ack(message.delivery_tag)
                moved += 1
        return moved

    def _target(self, headers: dict) -> str:
        if headers.get("x-original-queue"):
            return str(headers["x-original-queue"])
        exchange = str(headers.get("x-original-exchange") or "")
        for source, name in self.queues.items():
            if exchange == events_exchange(source):
                return name
        return self.queue_name
