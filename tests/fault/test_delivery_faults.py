"""Fault suite: the webhook delivery process (platform program `subscriptions_delivery`) SIGKILLed
mid-stream under a steady stream of commands, then started again. Delivery is at least once:
every stored event of each subscribed source reaches its receiver, in `sequence` order, and
the only duplicates are the redeliveries of the window the killed process had not acknowledged
(after the last acknowledged position, up to the last event delivered before the kill).

The social assistance receiver is slow (50 ms an answer) so the process is behind when it is
killed, with deliveries it has not acknowledged yet (positions every 5 s here,
SUBSCRIPTIONS_ACK_INTERVAL); the disaster relief one is fast, so that process is caught up."""
from __future__ import annotations

import time

import pytest

from shared.consumer import FeedClient
from shared.rpc import cluster
from tests.fault.conftest import Traffic
from tests.subscriptions.delivery_support import Receiver
from tests.support import drop_schemas

PROGRAM = "subscriptions_delivery"
SOURCES = ("social_assistance", "disaster_relief")
SLOW = "social_assistance"


@pytest.fixture
def loopback_sinks(monkeypatch, database):
    """Before the platform starts: its delivery process may reach receivers on loopback, and no
    subscription of an earlier test of the session is left in the store to deliver."""
    monkeypatch.setenv("SUBSCRIPTIONS_ALLOW_NETWORKS", "127.0.0.0/8")
    monkeypatch.setenv("SUBSCRIPTIONS_ACK_INTERVAL", "5")
    drop_schemas(database, "subscriptions")


@pytest.fixture
def delivering(loopback_sinks, platform):
    assert PROGRAM in platform.processes, f"the platform runs no {PROGRAM} program"
    return platform


def subscribe(rpc, source: str, receiver: Receiver) -> str:
    return rpc.subscriptions.register_subscription(
        subscriber=f"fault suite {source}", purpose="at-least-once delivery across a crash",
        legal_basis="service_delivery", source=source, sink=receiver.url, after=0)["id"]


def stored_sequences(platform, source: str) -> list[int]:
    feed = FeedClient(platform.env[f"{source.upper()}_URL"])
    return [int(e["sequence"]) for page in feed.pages() for e in page]


def arrivals(receiver: Receiver) -> list[tuple[float, str, int]]:
    """(arrival time, webhook-id, sequence) of every POST answered 2xx, in arrival order."""
    return [(p["at"], p["headers"]["webhook-id"], int(p["event"]["sequence"]))
            for p in list(receiver.posts) if 200 <= p.get("status", 0) < 300]


def test_sigkill_of_the_delivery_process_mid_stream_loses_nothing(delivering, amqp_uri):
    platform = delivering
    receivers = {source: Receiver(delay=0.05 if source == SLOW else 0.0) for source in SOURCES}
    try:
        with cluster(amqp_uri, timeout=60, actor="admin-zhou") as rpc:
            ids = {source: subscribe(rpc, source, receivers[source]) for source in SOURCES}
            platform.wait_until(lambda: all(rpc.subscriptions.get_subscription(i)["state"] == "active"
                                            for i in ids.values()), what="the handshakes")
            with Traffic(amqp_uri) as traffic:
                traffic.wait_for(40)
                platform.wait_until(lambda: all(len(arrivals(r)) >= 5 for r in receivers.values()),
                                    what="deliveries to both receivers")

                def unacknowledged() -> int:
                    position = rpc.subscriptions.get_subscription(ids[SLOW])["position"]
                    return arrivals(receivers[SLOW])[-1][2] - position
                platform.wait_until(lambda: unacknowledged() >= 3, what="deliveries not acknowledged yet")
                platform.kill(PROGRAM)                # SIGKILL, no goodbye
                acknowledged = {s: rpc.subscriptions.get_subscription(i)["position"] for s, i in ids.items()}
                traffic.wait_for(20)                  # events stored while nothing delivers
                restarted_at = time.time()            # a POST in flight at the kill has arrived by now
                platform.start(PROGRAM)
                traffic.wait_for(40, timeout=120)
            stored = {source: stored_sequences(platform, source) for source in SOURCES}
            for source, receiver in receivers.items():
                platform.wait_until(lambda r=receiver, s=source: arrivals(r) and arrivals(r)[-1][2] >= stored[s][-1],
                                    timeout=120, what=f"every {source} event delivered")
    finally:
        for receiver in receivers.values():
            receiver.stop()
    for source, receiver in receivers.items():
        got = arrivals(receiver)
        before = [a for a in got if a[0] < restarted_at]
        after = [a for a in got if a[0] >= restarted_at]
        assert before and after, "the kill fell mid-stream"
        assert before[-1][2] < stored[source][-1], "events were left to deliver after the kill"
        first = {}
        for _at, webhook_id, sequence in got:
            first.setdefault(webhook_id, sequence)
        assert list(first.values()) == stored[source]           # every event, once, in order
        for segment in (before, after):                          # each process delivered in order
            sequences = [s for _t, _i, s in segment]
            assert sequences == sorted(set(sequences))
        # delivered again: exactly the events after the last acknowledged position up to the
        # last one delivered before the kill
        again = [s for _t, _i, s in after if s <= before[-1][2]]
        assert again == [s for s in stored[source] if acknowledged[source] < s <= before[-1][2]]
    slow_before = [s for at, _i, s in arrivals(receivers[SLOW]) if at < restarted_at]
    assert acknowledged[SLOW] < slow_before[-1], "the kill left deliveries unacknowledged"
