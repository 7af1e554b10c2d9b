"""Infrastructure: the outbox relay, from a service's event store to its RabbitMQ exchange.

Command handlers only store events. This process follows the service's notification log
(eventsourcing's `select_notifications`), turns each stored event into a CloudEvent and
publishes it, in notification order, to the durable topic exchange `<service>.events` with
routing key = event type (the Nameko convention): persistent, `mandatory`, publisher confirms.

The published position is an eventsourcing tracking record, written only after the broker has
confirmed the batch. Batches are pipelined: while the broker confirms one, the next is read and
sent (all its frames in one socket write). A crash between publish and record republishes the
batches in flight, at most two (consumers de-duplicate on source + sequence); nothing stored is
ever skipped.

New events are noticed by PostgreSQL LISTEN/NOTIFY (the channel eventsourcing notifies on each
insert) and, because a notification can be lost, by polling every `poll_interval` seconds too.
Runs as a plain process: no eventlet, so psycopg and the AMQP socket block only this loop.

Active and standby. Two relay processes run per source (`make run`: `relay_<domain>` and
`relay_<domain>_2`); before publishing, each takes the lease `relay:<domain>` (shared/lease.py: a
PostgreSQL advisory lock held by its database session). The one holding it publishes
(`relay_active{service}` 1); the other waits as the standby (`relay_active` 0), answers /metrics
on its own port and shows the published position, the head and the lag, read from the tracking
record and the store when scraped (on a connection opened for that read). A standby holds no
database connection: it builds its application, tracking recorder and LISTEN connection only
once it holds the lease. When the holder dies (even by SIGKILL) PostgreSQL ends
its session, the lock is free, and the standby takes it within a second and continues from the
tracking record: the batches the dead holder had in flight (at most two, unrecorded) are
published again, which consumers drop (source + sequence), as after any relay crash. A holder
whose lease connection breaks while it lives stops itself (within `check` seconds) and
is started again as the standby; meanwhile both may publish for those seconds: duplicates are
dropped and an event arriving before an earlier one makes the consumer fetch the gap from the
feed, so order per source is kept where events are applied. The tracking upsert refuses to go
backwards, so the stale holder cannot move the recorded position back.
"""
from __future__ import annotations

import logging
import signal
import socket
import sys
import threading
import time
from contextlib import contextmanager

import amqp
from amqp.method_framing import frame_writer
import psycopg
from eventsourcing.application import Application
from eventsourcing.persistence import Tracking
from eventsourcing.postgres import PostgresDatastore, PostgresTrackingRecorder
from prometheus_client import Counter, Gauge, Histogram
from psycopg import sql

from shared import contract
from shared.bus import AmqpAddress, declare_events_exchange, events_exchange
from shared.config import Settings
from shared.watchdog import Watchdog

log = logging.getLogger("relay")

PUBLISHED = Counter("relay_published_events_total", "Events published and confirmed by the broker",
                    ["service"])
UNROUTABLE = Counter("relay_unroutable_events_total",
                     "Confirmed events no queue was bound for (returned by mandatory)",
                     ["service", "type"])
POSITION = Gauge("relay_published_position", "Notification id of the last confirmed event", ["service"])
HEAD = Gauge("relay_stored_head", "Highest notification id in the event store", ["service"])
LAG = Gauge("relay_lag_events", "Stored events not yet published (head minus published position)",
            ["service"])
BATCH_SECONDS = Histogram("relay_batch_duration_seconds",
                          "Time spent waiting for the broker to confirm one batch (the next batch "
                          "is read and sent meanwhile)", ["service"])
ERRORS = Counter("relay_errors_total", "Failures of the relay loop, by kind; it retries",
                 ["service", "kind"])
ERROR_KINDS = ("broker", "store", "listen")
ACTIVE = Gauge("relay_active", "1 while this process holds its source's relay lease and publishes; "
               "0 while it waits as the standby", ["service"])
TAKEOVERS = Counter("relay_lease_acquired_total",
                    "Times this process took its source's relay lease (start-up or take-over)", ["service"])


RELAY_POOL = {"POSTGRES_POOL_SIZE": "1", "POSTGRES_MAX_OVERFLOW": "2"}


class BrokerRefused(RuntimeError):
    """The broker nacked a message: nothing after it is recorded; the batch is retried."""


class Cork:
    """A transport stand-in for py-amqp's frame writer: while corked, frames collect in memory
    and leave in one socket write, instead of one `sendall` per frame."""

    def __init__(self, transport):
        self.transport = transport
        self.pending: list[bytes] | None = None

    def write(self, data) -> None:
        if self.pending is None:
            self.transport.write(data)
        else:
            self.pending.append(bytes(data))  # copy: the frame writer reuses its buffer

    @contextmanager
    def corked(self):
        self.pending = []
        try:
            yield
            self.transport.write(b"".join(self.pending))
        finally:
            self.pending = None


class Publisher:
    """One AMQP connection in confirm mode. `send` publishes a batch without waiting;
    `wait_confirmed` returns once the broker confirmed everything up to a delivery tag."""

    def __init__(self, address: AmqpAddress, service: str, confirm_timeout: float = 30.0):
        self.address = address
        self.service = service
        self.exchange = events_exchange(service)
        self.confirm_timeout = confirm_timeout
        self.connection: amqp.Connection | None = None

    def connect(self) -> None:
        self.connection = amqp.Connection(**self.address.connection_kwargs(), confirm_publish=False,
                                          frame_writer=self._corking_frame_writer)
        self.connection.connect()
        self.channel = self.connection.channel()
        declare_events_exchange(self.channel, self.service)
        self.channel.confirm_select()
        self.channel.events["basic_ack"].add(self._on_ack)
        self.channel.events["basic_nack"].add(self._on_nack)
        self.channel.events["basic_return"].add(self._on_return)
        self._next_tag = 1
        self._confirmed_upto = 0
        self._nacked = False

    def _corking_frame_writer(self, connection, transport):
        self.cork = Cork(transport)
        return frame_writer(connection, self.cork)

    def close(self) -> None:
        if self.connection is not None:
            try:
                self.connection.close()
            except Exception:  # already broken; we are discarding it anyway
                pass
            self.connection = None

    def send(self, events: list[contract.Outgoing]) -> int:
        """Publish encoded CloudEvents in order, in one socket write; returns the last delivery tag."""
        if self.connection is None:
            self.connect()
        with self.cork.corked():
            for event in events:
                message = amqp.Message(event.body, content_type=contract.CONTENT_TYPE, delivery_mode=2,
                                       message_id=event.id, application_headers={"ce-sequence": event.sequence})
                self.channel.basic_publish(message, exchange=self.exchange, routing_key=event.type, mandatory=True)
                self._next_tag += 1
        return self._next_tag - 1

    def wait_confirmed(self, tag: int) -> None:
        deadline = time.monotonic() + self.confirm_timeout
        while self._confirmed_upto < tag and not self._nacked:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"broker did not confirm {tag - self._confirmed_upto} messages")
            try:
                self.connection.drain_events(timeout=min(remaining, 1.0))
            except socket.timeout:
                continue
        if self._nacked:
            raise BrokerRefused("broker nacked a published event")

    def publish_batch(self, events: list[contract.Outgoing]) -> None:
        """Publish encoded CloudEvents in order; return once the broker confirmed all of them."""
        self.wait_confirmed(self.send(events))

    def _on_ack(self, delivery_tag: int, multiple: bool) -> None:
        # Confirms arrive in order for one channel; 'multiple' acks everything up to the tag.
        self._confirmed_upto = max(self._confirmed_upto, delivery_tag)

    def _on_nack(self, delivery_tag: int, multiple: bool) -> None:
        self._nacked = True

    def _on_return(self, exc, exchange, routing_key, message) -> None:
        UNROUTABLE.labels(self.service, routing_key).inc()
        log.warning("no queue is bound for %s on %s; the event stays in the event store and "
                    "in the service's /events feed", routing_key, exchange)


class Relay:
    def __init__(self, app: Application, settings: Settings, *, batch_size: int = 2000,
                 poll_interval: float = 1.0):
        self.app = app
        self.service = app.name
        self.settings = settings
        self.batch_size = batch_size
        self.poll_interval = poll_interval
        self.tracking_name = f"{self.service}.relay"
        self.tracking = self._tracking_recorder()
        self.publisher = Publisher(AmqpAddress.parse(settings.amqp_uri), self.service)
        self.stopping = threading.Event()
        self._listener: psycopg.Connection | None = None
        self._position: int | None = None
        for kind in ERROR_KINDS:          # at 0 from the start: the first failure shows in rate()
            ERRORS.labels(self.service, kind)
        PUBLISHED.labels(self.service)
        TAKEOVERS.labels(self.service)

    def _tracking_recorder(self) -> PostgresTrackingRecorder:
        s = self.settings
        datastore = PostgresDatastore(dbname=s.pg_dbname, host=s.pg_host, port=s.pg_port,
                                      user=s.pg_user, password=s.pg_password, schema=self.service,
                                      pre_ping=True)
        recorder = PostgresTrackingRecorder(datastore, tracking_table_name="relay_tracking")
        recorder.create_table()
        return recorder

    @property
    def position(self) -> int:
        """The last confirmed notification id. Kept in memory (this process is the only writer
        of its tracking record) and read again after any error."""
        if self._position is None:
            self._position = self.tracking.max_tracking_id(self.tracking_name) or 0
            POSITION.labels(self.service).set(self._position)
        return self._position

    def run_forever(self, watchdog: Watchdog | None = None) -> None:
        backoff = 0.5
        while not self.stopping.is_set():
            if watchdog:
                watchdog.beat()
            try:
                self.run_once()  # publishes up to the head
                backoff = 0.5
                self._wait_for_news()
            except (amqp.exceptions.AMQPError, OSError, TimeoutError, BrokerRefused) as error:
                self._recover("broker", error, backoff)
                backoff = min(backoff * 2, 10)
            except (psycopg.Error, Exception) as error:  # the store is retried the same way
                self._recover("store", error, backoff)
                backoff = min(backoff * 2, 10)
        self.publisher.close()

    def run_once(self) -> int:
        """Publish everything stored after the published position, a batch at a time; returns
        how many events were published. While the broker confirms one batch the next is read
        and sent; positions are recorded in order, each once its batch is confirmed, so a crash
        republishes at most the two batches in flight (consumers drop the copies)."""
        position = self.position
        in_flight: list[tuple[int, int, int]] = []  # (last delivery tag, last id, events)
        published = 0
        while True:
            notifications = self.app.recorder.select_notifications(start=position + 1,
                                                                   limit=self.batch_size)
            if notifications:
                events = contract.to_outgoing(self.app, notifications, previous=position)
                position = notifications[-1].id
                in_flight.append((self.publisher.send(events), position, len(events)))
            more = len(notifications) == self.batch_size and not self.stopping.is_set()
            while len(in_flight) > (1 if more else 0):
                published += self._settle(*in_flight.pop(0))
            if not more:
                self._update_lag(more=False)
                return published
            self._update_lag(more=True)

    def _settle(self, tag: int, last: int, count: int) -> int:
        with BATCH_SECONDS.labels(self.service).time():
            self.publisher.wait_confirmed(tag)
        self.tracking.insert_tracking(Tracking(self.tracking_name, last))
        self._position = last
        PUBLISHED.labels(self.service).inc(count)
        POSITION.labels(self.service).set(last)
        return count

    def _update_lag(self, more: bool) -> None:
        # A short read means we reached the head; only a full batch is worth asking for it.
        head = (self.app.recorder.max_notification_id() or 0) if more else self._position
        HEAD.labels(self.service).set(head)
        LAG.labels(self.service).set(head - self._position)

    def _recover(self, kind: str, error: Exception, backoff: float) -> None:
        ERRORS.labels(self.service, kind).inc()
        what = ("RabbitMQ at AMQP_URI" if kind == "broker" else "PostgreSQL at POSTGRES_HOST")
        log.error("relay of %s: %s error (%s: %s); is %s reachable? retrying in %.1fs from the "
                  "last confirmed position", self.service, kind, type(error).__name__, error, what, backoff)
        self.publisher.close()
        self._close_listener()
        self._position = None  # re-read: the recorded position is the truth after a failure
        self.stopping.wait(backoff)

    # --- waiting for new events: LISTEN/NOTIFY with a polling fallback ---------------------

    def _wait_for_news(self) -> None:
        try:
            if self._listener is None:
                self._listener = psycopg.connect(self.settings.pg_conninfo(), autocommit=True,
                                                 connect_timeout=5)
                self._listener.execute(sql.SQL("LISTEN {}").format(sql.Identifier(self.app.recorder.channel_name)))
                return  # what was committed before LISTEN took hold: the next read finds it
            for _ in self._listener.notifies(timeout=self.poll_interval, stop_after=1):
                pass
            # Commits notified while we were waiting or publishing: one read serves them all.
            for _ in self._listener.notifies(timeout=0):
                pass
        except psycopg.Error as error:
            # A lost listening connection only costs latency: the poll carries on.
            ERRORS.labels(self.service, "listen").inc()
            log.warning("relay of %s lost its LISTEN connection (%s); polling every %.1fs meanwhile",
                        self.service, error, self.poll_interval)
            self._close_listener()
            self.stopping.wait(self.poll_interval)

    def _close_listener(self) -> None:
        if self._listener is not None:
            try:
                self._listener.close()
            except psycopg.Error:
                pass
            self._listener = None

    def stop(self, *_args) -> None:
        self.stopping.set()


def initialise_metrics(service: str) -> None:
    """The relay's labelled counters at 0 from the start (the first failure shows in rate())."""
    for kind in ERROR_KINDS:
        ERRORS.labels(service, kind)
    PUBLISHED.labels(service)
    TAKEOVERS.labels(service)


def lease_name(domain: str) -> str:
    return f"relay:{domain}"


class Standby:
    """What a relay shows while it waits for its lease: relay_active 0 and the position, head
    and lag read when scraped, each scrape on a short-lived connection of its own. It holds no
    connection in between (nor does the lease's polling): a standby costs PostgreSQL nothing."""

    def __init__(self, domain: str, conninfo: str):
        self.domain = domain
        self.conninfo = conninfo
        schema = sql.Identifier(domain)
        self.query = sql.SQL("SELECT (SELECT coalesce(max(notification_id), 0) FROM {}.{}), "
                             "(SELECT notification_id FROM {}.relay_tracking WHERE application_name = %s)"
                             ).format(schema, sql.Identifier(f"{domain}_events"), schema)

    def read(self) -> tuple[float, float]:
        """(head, recorded position); NaN when PostgreSQL does not answer (the holder reports it)."""
        try:
            with psycopg.connect(self.conninfo, autocommit=True, connect_timeout=3,
                                 application_name=f"relay-standby:{self.domain}"[:63]) as conn:
                head, position = conn.execute(self.query, (f"{self.domain}.relay",)).fetchone()
            return float(head or 0), float(position or 0)
        except psycopg.Error:
            return float("nan"), float("nan")

    def __enter__(self) -> "Standby":
        initialise_metrics(self.domain)
        ACTIVE.labels(self.domain).set(0)
        POSITION.labels(self.domain).set_function(lambda: self.read()[1])
        HEAD.labels(self.domain).set_function(lambda: self.read()[0])
        LAG.labels(self.domain).set_function(self._lag)
        return self

    def _lag(self) -> float:
        head, position = self.read()
        lag = head - position                  # NaN when either is unknown
        return lag if lag != lag else max(0.0, lag)

    def __exit__(self, *exc) -> None:
        for gauge in (POSITION, HEAD, LAG):   # undo set_function: the active loop sets them again
            gauge.labels(self.domain).__dict__.pop("_child_samples", None)


def serve(domain: str, stopping: threading.Event, watchdog: Watchdog | None = None, *,
          poll: float = 1.0, check: float = 5.0, on_active=None) -> None:
    """Wait as the standby until this process holds the lease relay:<domain>, then build the relay
    (its application, tracking recorder and listener: connections only the holder opens) and
    publish until stopped; a lost lease stops it (its supervisor starts it again as a standby)."""
    from shared.config import settings
    from shared.lease import Lease

    conninfo = settings().pg_conninfo()
    relay: list[Relay] = []

    def lost() -> None:
        ACTIVE.labels(domain).set(0)
        log.error("relay of %s: lost the lease %s (its database session ended): stopping, so that "
                  "only one relay publishes; the supervisor starts this process again as a standby",
                  domain, lease_name(domain))
        stopping.set()
        for r in relay:
            r.stop()
    lease = Lease(lease_name(domain), conninfo, poll=poll, check=check, on_lost=lost)
    with Standby(domain, conninfo):
        told = False
        while not stopping.is_set() and not lease.acquire(wait=False):
            if watchdog:
                watchdog.beat()
            if not told:
                log.info("relay of %s: standby, waiting for the lease %s (another relay publishes)",
                         domain, lease_name(domain))
                told = True
            stopping.wait(lease.poll)
    if not lease.held:
        return
    try:
        relay.append(build(domain))
        active = relay[0]
        if stopping.is_set():
            return
        stopping_watch = threading.Thread(target=lambda: (stopping.wait(), active.stop()), daemon=True)
        stopping_watch.start()
        ACTIVE.labels(domain).set(1)
        TAKEOVERS.labels(domain).inc()
        log.info("relay of %s: active (holds the lease %s); publishing to exchange %s after "
                 "notification %d", domain, lease_name(domain), active.publisher.exchange, active.position)
        if on_active:
            on_active(active)
        active.run_forever(watchdog)
    finally:
        ACTIVE.labels(domain).set(0)
        lease.release()


def build(domain: str, attempts: int = 5) -> Relay:
    """The relay of a domain. Its application and tracking recorder create their tables if
    missing (idempotent statements, but PostgreSQL refuses two sessions replacing the same
    catalog row at once: "tuple concurrently updated"); a relay starting beside its standby and
    its service can meet that race, so the loser tries again."""
    import random

    from eventsourcing.persistence import IntegrityError, InternalError

    from shared import domains
    from shared.config import settings
    for attempt in range(1, attempts + 1):
        try:
            # One loop reads the store, one statement at a time (plus the standby's reads when
            # scraped): a small pool, so that two relays per source cost few connections.
            return Relay(domains.get(domain).build_application(RELAY_POOL), settings())
        except (InternalError, IntegrityError) as error:
            if attempt == attempts:
                raise
            log.warning("relay of %s: creating its tables raced another process (%s); trying again",
                        domain, error)
            time.sleep(random.uniform(0.2, 0.5) * attempt)
    raise AssertionError("unreachable")


def main(argv=None) -> int:
    """Entry point of a domain's relay process: `python -m shared.relay <domain>`."""
    import argparse
    import os

    from prometheus_client import start_http_server

    from shared import domains
    from shared.config import ConfigurationError, settings
    from shared.logs import configure_logging

    parser = argparse.ArgumentParser(prog="python -m shared.relay",
                                     description="Publish a domain's stored events to its exchange.")
    parser.add_argument("domain", choices=domains.names(), help="a registered domain")
    args = parser.parse_args(argv)
    configure_logging()
    try:
        settings()
    except ConfigurationError as error:
        print(f"relay: {error}", file=sys.stderr)
        return 2
    metrics_port = int(os.environ.get("METRICS_PORT", str(domains.RELAY_PORT)))
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    signal.signal(signal.SIGINT, lambda *_: stopping.set())
    start_http_server(metrics_port)          # the standby answers /metrics too (relay_active 0)
    log.info("relay of %s: metrics on :%d/metrics; publishing once it holds the lease %s",
             args.domain, metrics_port, lease_name(args.domain))
    serve(args.domain, stopping, Watchdog(f"relay of {args.domain}"),
          poll=float(os.environ.get("RELAY_LEASE_POLL", "1")),
          check=float(os.environ.get("RELAY_LEASE_CHECK", "5")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
