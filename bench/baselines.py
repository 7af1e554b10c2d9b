"""Baselines: what the libraries and servers underneath do on their own, on this machine.

Each runs in a process of its own (`python -m bench baseline NAME ...`, started by the harness)
so that no state of one (imports, pools, eventlet) colours another, and prints its figures as
one JSON line prefixed with RESULT.

- es_save          eventsourcing save loop straight to PostgreSQL (the platform's settings:
                   AES + zlib, pool, schema of its own): one trivial aggregate per transaction,
                   and batched (100 aggregates x 10 events per transaction)
- pika_confirm_each  pika BlockingConnection, confirm_delivery: one confirm per message
- pika_batched     pika SelectConnection: publish a batch of 500, wait for all its confirms,
                   next batch (what the relay does with py-amqp): the relay's baseline
- pika_consume     pika BlockingConnection, prefetch 1000, manual ack per message
- projection_runner  eventsourcing ProjectionRunner over the social assistance event store,
                   a trivial Projection (one counter row + tracking per event, one transaction)
                   on a PostgresTrackingRecorder
- pgbench          `pgbench -N -c 2 -j 2 -T 15` on a scratch database (`pgbench -i` first)
- webhook_posts    the bodies a subscription's receiver got, POSTed again back to back over one
                   kept-alive http.client connection (TCP_NODELAY) from one thread to the same
                   receiver, unsigned: the ceiling of webhook deliveries (bench/subscriptions.py)

The published messages are the bodies the relay would publish for one household cycle
(HouseholdRegistered, CaseApplied, ... CaseVerified: the same CloudEvents, sizes and routing
keys), persistent and mandatory, to a topic exchange bound to a quorum queue, as the platform's.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from decimal import Decimal

from eventsourcing.domain import Aggregate, event

EXCHANGE = "bench.baseline"
QUEUE = "bench.baseline"
BATCH = 500            # the relay's batch size
PREFETCH = 1000        # the projection's prefetch (batch_size * 2)


# --- sample messages ------------------------------------------------------------------------------

def sample_cycle_events(start: int = 10_000_000):
    """The domain events of one household cycle, built in memory as the application would."""
    from bench.workload import Households
    from services.social_assistance.domain import Case, Enrolment, Household, normalise_member
    area, registration, members = Households(start).next()
    household = Household(area=area, registration=registration, address="",
                          members=[normalise_member(m, i) for i, m in enumerate(members)])
    case = Case(household_id=household.id, area=area, scheme=registration, size=2,
                applied_on="2007-06-01", officer="officer-li")
    household.open_case(case.id)
    enrolments = []
    for index, _ in enumerate(members):
        from uuid import uuid4
        enrolment = Enrolment(person_key=uuid4())
        enrolment.enrol(case.id, f"members[{index}].id_number")
        enrolments.append(enrolment)
    case.verify(officer="officer-li", household_income=Decimal("100.00"), assets=Decimal("0.00"),
                per_capita_income=Decimal("50.00"))
    return [e for agg in (household, case, *enrolments) for e in agg.collect_events()]


def sample_messages() -> list[tuple[str, bytes]]:
    """(routing key, CloudEvent body) of one household cycle, exactly as the relay encodes them."""
    from shared import contract
    messages = []
    for n, domain_event in enumerate(sample_cycle_events(), start=1):
        cloudevent = contract.to_cloudevent("social_assistance", n, domain_event, n - 1)
        messages.append((cloudevent.get_type(), contract.encode(cloudevent)))
    return messages


# --- eventsourcing save loop ------------------------------------------------------------------------

class Counter(Aggregate):
    def __init__(self):
        self.count = 0

    @event("Incremented")
    def increment(self):
        self.count += 1


def _save_loop(app, seconds: float) -> dict:
    app.save(Counter())  # warm the pool and the prepared statements
    single = 0
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        app.save(Counter())
        single += 1
    single_seconds = time.perf_counter() - start
    events = 0
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        counters = [Counter() for _ in range(100)]
        for counter in counters:
            for _ in range(9):
                counter.increment()
        app.save(*counters)
        events += 1000
    batched_seconds = time.perf_counter() - start
    app.close()
    return {"single_eps": single / single_seconds, "batched_eps": events / batched_seconds}


# Settings that switch on a cipher or a compressor. Leaving CIPHER_TOPIC out is not enough for a
# plain store: eventsourcing 9.5 (InfrastructureFactory.cipher) falls back to the pycryptodome
# cipher `eventsourcing.cipher:AESCipher` whenever CIPHER_KEY is set, and the harness exports one.
CODEC_SETTINGS = ("CIPHER_TOPIC", "CIPHER_KEY", "COMPRESSOR_TOPIC")


def bench_store_classes():
    """(platform, plain): PlatformApplication as the services run it, and the same without any
    cipher or compressor (every CODEC_SETTINGS key, also its name-prefixed form, removed from
    the application's environment after os.environ and the given env are merged in)."""
    from shared.eventstore import PlatformApplication

    class BenchStore(PlatformApplication):
        name = "bench_es"

    class BenchStorePlain(PlatformApplication):
        name = "bench_es_plain"
        env = {k: v for k, v in PlatformApplication.env.items() if k not in CODEC_SETTINGS}

        def construct_env(self, name, env=None):
            environment = super().construct_env(name, env)
            for setting in CODEC_SETTINGS:
                for key in environment.create_keys(setting):
                    environment.pop(key, None)
            return environment

    return BenchStore, BenchStorePlain


def es_save(seconds: float = 5.0) -> dict:
    """The save loop with the platform's settings (AES-GCM + zlib, pool of 4) and plain
    (no cipher, no compression), each in a schema of its own."""
    BenchStore, BenchStorePlain = bench_store_classes()
    platform = _save_loop(BenchStore(), seconds)
    plain = _save_loop(BenchStorePlain(), seconds)
    return {"es_save_single_eps": platform["single_eps"], "es_save_batched_eps": platform["batched_eps"],
            "es_save_plain_single_eps": plain["single_eps"], "es_save_plain_batched_eps": plain["batched_eps"]}


# --- pika ---------------------------------------------------------------------------------------------

def _pika_parameters():
    import pika
    return pika.URLParameters(os.environ["AMQP_URI"])


def _declare(channel) -> None:
    channel.exchange_declare(EXCHANGE, "topic", durable=True)
    channel.queue_declare(QUEUE, durable=True, arguments={"x-queue-type": "quorum"})
    channel.queue_bind(QUEUE, EXCHANGE, "#")


def _properties(content_type: str):
    import pika
    return pika.BasicProperties(content_type=content_type, delivery_mode=2)


def pika_confirm_each(seconds: float = 5.0) -> dict:
    import pika

    from shared import contract
    messages = sample_messages()
    connection = pika.BlockingConnection(_pika_parameters())
    channel = connection.channel()
    _declare(channel)
    channel.confirm_delivery()
    properties = _properties(contract.CONTENT_TYPE)
    sent = 0
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        key, body = messages[sent % len(messages)]
        channel.basic_publish(EXCHANGE, key, body, properties, mandatory=True)  # waits for the confirm
        sent += 1
    elapsed = time.perf_counter() - start
    channel.queue_purge(QUEUE)
    connection.close()
    return {"pika_confirm_each_mps": sent / elapsed, "pika_confirm_each_messages": sent}


def pika_batched(count: int = 20000, batch: int = BATCH) -> dict:
    """SelectConnection: publish `batch` messages, wait until every one is confirmed, repeat."""
    import pika
    from pika.spec import Basic

    from shared import contract
    messages = sample_messages()
    properties = _properties(contract.CONTENT_TYPE)
    state = {"sent": 0, "pending": set(), "nacked": 0, "returned": 0, "start": 0.0, "end": 0.0,
             "error": None}

    def on_open(connection):
        connection.channel(on_open_callback=on_channel)

    def on_open_error(connection, error):
        state["error"] = repr(error)
        connection.ioloop.stop()

    def on_channel(channel):
        state["channel"] = channel
        channel.add_on_return_callback(on_return)
        channel.exchange_declare(EXCHANGE, "topic", durable=True, callback=lambda _f: declare_queue(channel))

    def declare_queue(channel):
        channel.queue_declare(QUEUE, durable=True, arguments={"x-queue-type": "quorum"},
                              callback=lambda _f: channel.queue_bind(QUEUE, EXCHANGE, "#", callback=lambda _f: purge(channel)))

    def purge(channel):
        channel.queue_purge(QUEUE, callback=lambda _f: channel.confirm_delivery(
            ack_nack_callback=on_confirm, callback=lambda _f: start_publishing()))

    def start_publishing():
        state["start"] = time.perf_counter()
        publish_batch()

    def publish_batch():
        channel = state["channel"]
        n = min(batch, count - state["sent"])
        first = state["sent"] + 1  # delivery tags count from 1 on the channel
        for tag in range(first, first + n):
            key, body = messages[(tag - 1) % len(messages)]
            channel.basic_publish(EXCHANGE, key, body, properties, mandatory=True)
        state["pending"] = set(range(first, first + n))
        state["sent"] += n

    def on_confirm(frame):
        method = frame.method
        if isinstance(method, Basic.Nack):
            state["nacked"] += 1
        if method.multiple:
            state["pending"] = {t for t in state["pending"] if t > method.delivery_tag}
        else:
            state["pending"].discard(method.delivery_tag)
        if not state["pending"]:
            if state["sent"] < count:
                publish_batch()
            else:
                state["end"] = time.perf_counter()
                state["channel"].connection.close()

    def on_return(channel, method, properties, body):
        state["returned"] += 1

    connection = pika.SelectConnection(_pika_parameters(), on_open_callback=on_open,
                                       on_open_error_callback=on_open_error,
                                       on_close_callback=lambda *_a: connection.ioloop.stop())
    connection.ioloop.start()
    if state["error"] or not state["end"]:
        raise RuntimeError(f"pika batched publish failed: {state['error']}")
    elapsed = state["end"] - state["start"]
    return {"pika_batched_confirm_mps": count / elapsed, "pika_batched_messages": count,
            "pika_batched_batch": batch, "pika_batched_nacked": state["nacked"],
            "pika_batched_returned": state["returned"],
            "message_bytes_mean": sum(len(b) for _k, b in messages) / len(messages)}


def pika_consume(count: int = 20000) -> dict:
    """Consume what pika_batched left in the quorum queue, one manual ack per message."""
    import pika
    connection = pika.BlockingConnection(_pika_parameters())
    channel = connection.channel()
    _declare(channel)
    waiting = channel.queue_declare(QUEUE, passive=True).method.message_count
    channel.basic_qos(prefetch_count=PREFETCH)
    received = 0
    start = time.perf_counter()
    for method, _properties, _body in channel.consume(QUEUE, inactivity_timeout=5):
        if method is None:
            break
        channel.basic_ack(method.delivery_tag)
        received += 1
        if received >= min(count, waiting):
            break
    elapsed = time.perf_counter() - start
    channel.cancel()
    channel.queue_delete(QUEUE)
    channel.exchange_delete(EXCHANGE)
    connection.close()
    return {"pika_consume_mps": received / elapsed if elapsed else None, "pika_consume_messages": received}


# --- eventsourcing ProjectionRunner ---------------------------------------------------------------------

def _runner_classes():
    from eventsourcing.dispatch import singledispatchmethod
    from eventsourcing.persistence import Tracking
    from eventsourcing.postgres import PostgresTrackingRecorder
    from eventsourcing.projection import Projection
    from psycopg.sql import SQL, Identifier

    class CountersView(PostgresTrackingRecorder):
        """A trivial materialised view: one row per event type, counted, with tracking."""

        def __init__(self, datastore, **kwargs):
            super().__init__(datastore, **kwargs)
            table = SQL("{}.bench_counters").format(Identifier(datastore.schema))
            self.sql_create_statements.append(
                SQL("CREATE TABLE IF NOT EXISTS {} (name text PRIMARY KEY, n bigint NOT NULL)").format(table))
            self.incr_statement = SQL("INSERT INTO {} VALUES (%s, 1) ON CONFLICT (name) DO UPDATE "
                                      "SET n = {}.n + 1").format(table, table)

        def incr(self, name: str, tracking: Tracking) -> None:
            with self.datastore.transaction(commit=True) as curs:
                curs.execute(self.incr_statement, (name,), prepare=True)
                self._insert_tracking(curs, tracking)

    class BenchCounters(Projection[CountersView]):
        name = "benchcounters"

        @singledispatchmethod
        def process_event(self, domain_event, tracking: Tracking) -> None:
            self.view.incr(type(domain_event).__qualname__, tracking)

    return CountersView, BenchCounters


def projection_runner(timeout: float = 600.0) -> dict:
    from eventsourcing.projection import ProjectionRunner

    from services.social_assistance.application import SocialAssistance
    from shared.config import settings
    from shared.db import ensure_schema
    cfg = settings()
    ensure_schema(cfg, "bench_runner")
    view_class, projection_class = _runner_classes()
    env = {"PERSISTENCE_MODULE": "eventsourcing.postgres", **cfg.eventsourcing_env(),
           "BENCHCOUNTERS_POSTGRES_SCHEMA": "bench_runner", "BENCHCOUNTERS_CREATE_TABLE": "y"}
    probe = SocialAssistance()
    head = probe.recorder.max_notification_id() or 0
    probe.close()
    with ProjectionRunner(application_class=SocialAssistance, projection_class=projection_class,
                          view_class=view_class, env=env) as runner:
        # Timed from the position reached when construction returns to the head: the
        # construction (schemas, tables) is not part of the rate.
        start = time.perf_counter()
        first = runner.view.max_tracking_id(runner.app.name) or 0
        runner.wait(head, timeout=timeout)
        elapsed = time.perf_counter() - start
        last = runner.view.max_tracking_id(runner.app.name) or 0
    return {"projection_runner_eps": (last - first) / elapsed, "projection_runner_events": last - first,
            "projection_runner_seconds": elapsed}


# --- pgbench ------------------------------------------------------------------------------------------

def pgbench(dbname: str, seconds: int = 15, clients: int = 2, scale: int = 1) -> dict:
    from shared.config import settings
    cfg = settings()
    common = ["-h", cfg.pg_host, "-p", str(cfg.pg_port), "-U", cfg.pg_user]
    env = dict(os.environ, PGPASSWORD=cfg.pg_password) if cfg.pg_password else None
    subprocess.run(["pgbench", "-i", "-q", "-s", str(scale), *common, dbname], check=True,
                   capture_output=True, env=env)
    done = subprocess.run(["pgbench", "-N", "-c", str(clients), "-j", str(clients), "-T", str(seconds),
                           *common, dbname], check=True, capture_output=True, text=True, env=env)
    tps = parse_pgbench_tps(done.stdout)
    return {"pgbench_tps": tps, "pgbench_clients": clients, "pgbench_seconds": seconds,
            "pgbench_scale": scale}


def parse_pgbench_tps(output: str) -> float | None:
    """The 'tps = N (without initial connection time)' line of pgbench 14+ (first tps line
    of older ones)."""
    found = re.search(r"tps = ([0-9.]+) \(without initial connection time\)", output) or \
        re.search(r"tps = ([0-9.]+)", output)
    return float(found.group(1)) if found else None


def webhook_posts(url: str, bodies: str) -> dict:
    """POST each line of the file `bodies` to `url`, one after the other on one connection."""
    import http.client
    import socket
    import urllib.parse
    parts = urllib.parse.urlsplit(url)
    payloads = [line.encode() for line in open(bodies, encoding="utf-8").read().split("\n") if line]
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    connection.connect()
    connection.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    headers = {"content-type": "application/cloudevents+json; charset=utf-8"}
    began = time.perf_counter()
    for body in payloads:
        connection.request("POST", parts.path, body=body, headers=headers)
        response = connection.getresponse()
        response.read()
        if response.status != 200:
            raise RuntimeError(f"the receiver answered {response.status}")
    elapsed = time.perf_counter() - began
    connection.close()
    return {"webhook_posts": len(payloads), "webhook_posts_seconds": elapsed,
            "webhook_posts_ps": len(payloads) / elapsed}


# --- entry point of the child process ---------------------------------------------------------------------

FUNCTIONS = {"es_save": es_save, "pika_confirm_each": pika_confirm_each, "pika_batched": pika_batched,
             "pika_consume": pika_consume, "projection_runner": projection_runner, "pgbench": pgbench,
             "webhook_posts": webhook_posts}


def child_main(name: str, kwargs_json: str) -> int:
    import warnings
    warnings.filterwarnings("ignore", message=r"(?s).*Eventlet is deprecated")
    result = FUNCTIONS[name](**json.loads(kwargs_json))
    print("RESULT " + json.dumps(result), flush=True)
    return 0


def run(name: str, timeout: float = 900, **kwargs) -> dict:
    """Run one baseline in a child process and return its figures."""
    done = subprocess.run([sys.executable, "-m", "bench", "baseline", name, json.dumps(kwargs)],
                          capture_output=True, text=True, timeout=timeout)
    for line in reversed(done.stdout.splitlines()):
        if line.startswith("RESULT "):
            return json.loads(line[len("RESULT "):])
    raise RuntimeError(f"baseline {name} failed (exit {done.returncode}):\n{done.stdout[-2000:]}\n"
                       f"{done.stderr[-4000:]}")
