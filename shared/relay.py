"""Infrastructure: the outbox relay, from a service's event store to its RabbitMQ exchange.

Command handlers only store events. This process follows the service's notification log
(eventsourcing's `select_notifications`), turns each stored event into a CloudEvent and
publishes it, in notification order, to the durable topic exchange `<service>.events` with
routing key = event type (the Nameko convention): persistent, `mandatory`, publisher confirms.

The published position is an eventsourcing tracking record, written only after the broker has
confirmed the whole batch. A crash between publish and record republishes that batch (consumers
de-duplicate on source + sequence); nothing stored is ever skipped.

New events are noticed by PostgreSQL LISTEN/NOTIFY (the channel eventsourcing notifies on each
insert) and, because a notification can be lost, by polling every `poll_interval` seconds too.
Runs as a plain process: no eventlet, so psycopg and the AMQP socket block only this loop.
"""
from __future__ import annotations

import logging
import signal
import socket
import threading
import time

import amqp
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
BATCH_SECONDS = Histogram("relay_batch_duration_seconds", "Time to publish and confirm one batch",
                          ["service"])
ERRORS = Counter("relay_errors_total", "Failures of the relay loop, by kind; it retries",
                 ["service", "kind"])


class BrokerRefused(RuntimeError):
    """The broker nacked a message: nothing after it is recorded; the batch is retried."""


class Publisher:
    """One AMQP connection in confirm mode; publishes a batch and waits for every confirm."""

    def __init__(self, address: AmqpAddress, service: str, confirm_timeout: float = 30.0):
        self.address = address
        self.service = service
        self.exchange = events_exchange(service)
        self.confirm_timeout = confirm_timeout
        self.connection: amqp.Connection | None = None

    def connect(self) -> None:
        self.connection = amqp.Connection(**self.address.connection_kwargs(), confirm_publish=False)
        self.connection.connect()
        self.channel = self.connection.channel()
        declare_events_exchange(self.channel, self.service)
        self.channel.confirm_select()
        self.channel.events["basic_ack"].add(self._on_ack)
        self.channel.events["basic_nack"].add(self._on_nack)
        self.channel.events["basic_return"].add(self._on_return)
        self._next_tag = 1

    def close(self) -> None:
        if self.connection is not None:
            try:
                self.connection.close()
            except Exception:  # already broken; we are discarding it anyway
                pass
            self.connection = None

    def publish_batch(self, events: list) -> None:
        """Publish CloudEvents in order; return once the broker confirmed all of them."""
        if self.connection is None:
            self.connect()
        first = self._next_tag
        self._confirmed_upto = first - 1
        self._nacked = False
        for event in events:
            message = amqp.Message(contract.encode(event), content_type=contract.CONTENT_TYPE,
                                   delivery_mode=2, message_id=event.get_id(),
                                   application_headers={"ce-sequence": event.get_extension("sequence")})
            self.channel.basic_publish(message, exchange=self.exchange,
                                       routing_key=event.get_type(), mandatory=True)
            self._next_tag += 1
        last = self._next_tag - 1
        deadline = time.monotonic() + self.confirm_timeout
        while self._confirmed_upto < last and not self._nacked:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"broker did not confirm {last - self._confirmed_upto} messages")
            try:
                self.connection.drain_events(timeout=min(remaining, 1.0))
            except socket.timeout:
                continue
        if self._nacked:
            raise BrokerRefused("broker nacked a published event")

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
    def __init__(self, app: Application, settings: Settings, *, batch_size: int = 500,
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
        return self.tracking.max_tracking_id(self.tracking_name) or 0

    def run_forever(self, watchdog: Watchdog | None = None) -> None:
        backoff = 0.5
        while not self.stopping.is_set():
            if watchdog:
                watchdog.beat()
            try:
                published = self.run_once()
                backoff = 0.5
                if not published:
                    self._wait_for_news()
            except (amqp.exceptions.AMQPError, OSError, TimeoutError, BrokerRefused) as error:
                self._recover("broker", error, backoff)
                backoff = min(backoff * 2, 10)
            except (psycopg.Error, Exception) as error:  # the store is retried the same way
                self._recover("store", error, backoff)
                backoff = min(backoff * 2, 10)
        self.publisher.close()

    def run_once(self) -> int:
        """Publish the next batch; returns how many events were published."""
        position = self.position
        notifications = self.app.recorder.select_notifications(start=position + 1, limit=self.batch_size)
        head = self.app.recorder.max_notification_id() or 0
        HEAD.labels(self.service).set(head)
        LAG.labels(self.service).set(head - position)
        if not notifications:
            return 0
        events = contract.to_cloudevents(self.app, notifications, previous=position)
        with BATCH_SECONDS.labels(self.service).time():
            self.publisher.publish_batch(events)
        last = notifications[-1].id
        self.tracking.insert_tracking(Tracking(self.tracking_name, last))
        PUBLISHED.labels(self.service).inc(len(events))
        POSITION.labels(self.service).set(last)
        LAG.labels(self.service).set(max(0, head - last))
        return len(events)

    def _recover(self, kind: str, error: Exception, backoff: float) -> None:
        ERRORS.labels(self.service, kind).inc()
        what = ("RabbitMQ at AMQP_URI" if kind == "broker" else "PostgreSQL at POSTGRES_HOST")
        log.error("relay of %s: %s error (%s: %s); is %s reachable? retrying in %.1fs from the "
                  "last confirmed position", self.service, kind, type(error).__name__, error, what, backoff)
        self.publisher.close()
        self._close_listener()
        self.stopping.wait(backoff)

    # --- waiting for new events: LISTEN/NOTIFY with a polling fallback ---------------------

    def _wait_for_news(self) -> None:
        try:
            if self._listener is None:
                self._listener = psycopg.connect(self.settings.pg_conninfo(), autocommit=True,
                                                 connect_timeout=5)
                self._listener.execute(sql.SQL("LISTEN {}").format(sql.Identifier(self.app.recorder.channel_name)))
            for _ in self._listener.notifies(timeout=self.poll_interval, stop_after=1):
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


def main(app_factory, metrics_port: int) -> None:
    """Entry point of a service's relay process: `python -m services.<name>.relay`."""
    from prometheus_client import start_http_server

    from shared.config import settings
    from shared.logs import configure_logging

    configure_logging()
    relay = Relay(app_factory(), settings())
    signal.signal(signal.SIGTERM, relay.stop)
    signal.signal(signal.SIGINT, relay.stop)
    start_http_server(metrics_port)
    log.info("relay of %s: publishing to exchange %s; metrics on :%d/metrics; resuming after "
             "notification %d", relay.service, relay.publisher.exchange, metrics_port, relay.position)
    relay.run_forever(Watchdog(f"relay of {relay.service}"))
