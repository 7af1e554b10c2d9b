"""Integration tests of the delivery engine (services/subscriptions/delivery.py) for AMQP
subscriptions, on the real RabbitMQ (the session's vhost, queues made by amqp_sink.provision
through the management API) and a real feed (tests/subscriptions/delivery_support.py), with
the in-memory subscription store; and of its per-subscription metrics, scraped as Prometheus
would (prometheus_client.generate_latest). The broker is never restarted here (other sessions
share it): a publish failure is a deleted queue (the mandatory publish comes back unroutable).
"""
from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from pathlib import Path

import amqp
import pytest
from prometheus_client import REGISTRY, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from services.subscriptions import amqp_sink
from services.subscriptions.delivery import Settings
from shared.bus import AmqpAddress
from tests.subscriptions.delivery_support import MemoryStore, engine_running, subscription, wait_until
from tests.subscriptions.test_amqp_sink import management, vhost  # noqa: F401 - fixtures
from tests.support import member

pytestmark = pytest.mark.integration

SUBSCRIBER = Path(__file__).resolve().parents[2] / "docs" / "examples" / "amqp_subscriber.py"
FAST = Settings(poll_interval=0.02, max_attempts=3, backoff_base=0.02, backoff_cap=0.1, suspend_after=1000,
                ack_interval=0.05, refresh_interval=0.05, handshake_interval=0.2)
WANTED = ["CaseApproved", "HouseholdRegistered", "CasePaid"]
NOT_PAID = [{"not": {"exact": {"type": "CasePaid"}}}]        # the real filters (services/.../filters.py)


@pytest.fixture
def queues(vhost, management):  # noqa: F811 - the fixtures imported above
    """provision(id) -> Credentials; everything made is deprovisioned at the end."""
    made = []

    def make(subscription_id: str | None = None) -> tuple[str, amqp_sink.Credentials]:
        subscription_id = subscription_id or str(uuid.uuid4())
        made.append(subscription_id)
        return subscription_id, amqp_sink.provision(subscription_id, vhost, api=management)
    yield make
    for subscription_id in made:
        amqp_sink.deprovision(subscription_id, vhost, api=management)


def running(store, source, amqp_uri, settings=FAST):
    # networks=(): no address is allowed for webhooks; the AMQP queue is the platform's own
    return engine_running(store, source, settings, networks=(), amqp_uri=amqp_uri, matches=None)


def amqp_subscription(sid: str, **overrides) -> dict:
    return subscription(sid, "amqp://rabbitmq.example/civil_affairs", protocol="AMQP", secrets=[], **overrides)


def consume(credentials: amqp_sink.Credentials, count: int) -> list[dict]:
    """What the example subscriber (docs/examples/amqp_subscriber.py, pika) prints for `count` events."""
    done = subprocess.run([sys.executable, str(SUBSCRIBER), "--url", credentials.uri("amqp://127.0.0.1:5672"),
                           "--queue", credentials.queue, "--max-events", str(count)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return [json.loads(line) for line in done.stdout.splitlines()]


def queued(amqp_uri: str, queue: str) -> int:
    with amqp.Connection(**AmqpAddress.parse(amqp_uri).connection_kwargs()) as connection:
        return connection.channel().queue_declare(queue, passive=True).message_count


def metrics(sid: str) -> dict:
    """The samples of one subscription, from the exposition text a scrape gets."""
    found = {}
    for family in text_string_to_metric_families(generate_latest(REGISTRY).decode()):
        for s in family.samples:
            if s.labels.get("subscription") == sid:
                key = (s.name,) + tuple(sorted((k, v) for k, v in s.labels.items() if k != "subscription"))
                found[key] = s.value
    return found


def test_an_amqp_subscriptions_events_reach_its_queue_in_order_filtered_and_scoped(source, queues, amqp_uri):
    sid, credentials = queues()
    store = MemoryStore(amqp_subscription(sid, types=WANTED, filters=NOT_PAID, legal_basis="statistics",
                                          state="created"))   # e.g. resumed: no handshake needed
    expected = [e for e in source.stored() if e["type"] in ("CaseApproved", "HouseholdRegistered")]
    with running(store, source, amqp_uri):
        assert wait_until(lambda: store.state(sid) == "active")
        got = consume(credentials, len(expected))
        with source.lock:
            source.app.register_household("beigang", "urban", [member("赵六")])
        [live] = consume(credentials, 1)
        head = int(source.stored()[-1]["sequence"])
        assert wait_until(lambda: store.subscriptions[sid]["position"] == head)
    assert [e["sequence"] for e in got] == [e["sequence"] for e in expected]
    assert [e["id"] for e in got] == [e["id"] for e in expected]
    assert live["type"] == "HouseholdRegistered" and live["sequence"] == source.stored()[-1]["sequence"]
    registered = [e for e in got + [live] if e["type"] == "HouseholdRegistered"]
    assert registered and all(m["name"].endswith("*") and "monthly_income" not in m
                              for e in registered for m in e["data"]["members"])   # the reduced scope
    records = [d for s, d in store.deliveries if s == sid]
    assert [(d["id"], d["scope"]) for d in records] == [(e["id"], "reduced") for e in got + [live]]
    # nothing else was published (no CasePaid); the broker's count may lag the last ack a moment
    assert wait_until(lambda: queued(amqp_uri, credentials.queue) == 0, timeout=5)


def test_a_publish_refused_is_retried_then_dead_lettered_and_the_metrics_say_so(
        source, queues, amqp_uri, vhost, management):  # noqa: F811
    sid, credentials = queues()
    management.delete("queues", vhost, credentials.queue)   # the mandatory publish comes back
    store = MemoryStore(amqp_subscription(sid, types=["HouseholdRegistered"]))
    registered = [e for e in source.stored() if e["type"] == "HouseholdRegistered"]
    stuck = Settings(**{**FAST.__dict__, "max_attempts": 100, "backoff_cap": 0.05})
    with running(store, source, amqp_uri, stuck):
        # stuck on the first wanted event: failing, behind in events and in seconds
        assert wait_until(lambda: (REGISTRY.get_sample_value(
            "subscription_delivery_failures_total", {"subscription": sid, "reason": "unroutable"}) or 0) >= 5)
        time.sleep(0.1)
        seen = metrics(sid)
        assert seen[("subscription_lag_events",)] >= len(source.stored()) - int(registered[0]["sequence"]) + 1
        assert seen[("subscription_lag_seconds",)] > 0
        assert seen[("subscription_state", ("state", "active"))] == 1
        assert store.subscriptions[sid]["position"] < int(registered[0]["sequence"])
    with running(store, source, amqp_uri):   # max_attempts 3: each wanted event is given up
        assert wait_until(lambda: len(store.dead) == len(registered))
        head = int(source.stored()[-1]["sequence"])
        assert wait_until(lambda: store.subscriptions[sid]["position"] == head)
    assert [(s, e["id"]) for s, e, _ in store.dead] == [(sid, e["id"]) for e in registered]
    assert all("unroutable" in reason and "3 attempts" in reason for _, _, reason in store.dead)
    failures_before = metrics(sid)[("subscription_delivery_failures_total", ("reason", "unroutable"))]

    credentials = amqp_sink.provision(sid, vhost, api=management)   # the queue again (a new password)
    with running(store, source, amqp_uri):
        with source.lock:
            source.app.register_household("xilin", "rural", [member("钱七")])
        [live] = consume(credentials, 1)
        assert wait_until(lambda: store.subscriptions[sid]["position"] == int(source.stored()[-1]["sequence"]))
        time.sleep(0.1)
        seen = metrics(sid)
    assert live["id"] == source.stored()[-1]["id"]
    assert seen[("subscription_deliveries_total",)] == 1
    assert seen[("subscription_dead_letters_total",)] == len(registered)
    assert seen[("subscription_delivery_failures_total", ("reason", "unroutable"))] == failures_before
    assert failures_before >= 5 + 3 * len(registered)
    assert seen[("subscription_lag_events",)] == 0 and seen[("subscription_lag_seconds",)] == 0
    assert seen[("subscription_state", ("state", "active"))] == 1
    assert seen[("subscription_state", ("state", "suspended"))] == 0


def test_amqp_dead_letters_redriven_reach_the_queue_and_leave_the_dead_letters(
        source, queues, amqp_uri, vhost, management):  # noqa: F811
    sid, credentials = queues()
    registered = [e for e in source.stored() if e["type"] == "HouseholdRegistered"]
    store = MemoryStore(amqp_subscription(sid, types=["HouseholdRegistered"]))
    for event in registered:
        store.dead_letter(sid, event, "3 attempts failed; last: unroutable")
    store.subscriptions[sid]["position"] = int(source.stored()[-1]["sequence"])   # caught up
    with running(store, source, amqp_uri) as engine:
        assert wait_until(lambda: sid in engine.workers)
        store.redrive(sid, [int(e["sequence"]) for e in registered])
        got = consume(credentials, len(registered))
        assert wait_until(lambda: store.dead == [])
    assert [e["id"] for e in got] == [e["id"] for e in registered]
    assert store.redriven_calls == [(sid, [int(e["sequence"]) for e in registered])]
    assert store.subscriptions[sid]["redrive"] == []
