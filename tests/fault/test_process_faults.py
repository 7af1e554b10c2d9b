"""Fault suite: processes killed, duplicates, poison, races, rebuilds and lost notifications —
each against the running platform under a steady stream of commands, ending with the check that
nothing was lost and nothing applied twice."""
from __future__ import annotations

import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import amqp
import psycopg
import pytest

from shared import contract
from shared.bus import AmqpAddress
from shared.config import settings
from shared.errors import Conflict
from shared.rpc import cluster
from tests.e2e.platform import ROOT
from tests.fault.conftest import PROJECTION, RELAY, SA, Traffic, assert_converged
from tests.support import member


@pytest.mark.parametrize("process", ["relay_social_assistance", "relay_disaster_relief", "relay_welfare",
                                     "relay_social_affairs", "relay_military_support", "relay_conduct_supervision",
                                     "relay_community",
                                     "projection", "social_assistance"])
def test_sigkill_mid_stream_then_restart(platform, amqp_uri, process):
    with Traffic(amqp_uri) as traffic:
        traffic.wait_for(40)
        platform.kill(process)            # SIGKILL, no goodbye
        traffic.wait_for(0)
        platform.start(process)
        traffic.wait_for(40, timeout=120)
    assert_converged(platform)


def test_a_redelivered_batch_is_applied_once(platform, amqp_uri):
    with Traffic(amqp_uri) as traffic:
        traffic.wait_for(40)
    head = assert_converged(platform)
    applied = platform.metric(PROJECTION, "projection_applied_events_total", source="social_assistance")
    received = platform.metric(PROJECTION, "projection_received_messages_total", source="social_assistance")
    feed = platform.get(SA, f"/events?after=0&limit={min(head, 500)}")["events"]
    publish(amqp_uri, feed)               # the same events, once more, on the bus
    platform.wait_until(lambda: platform.metric(PROJECTION, "projection_received_messages_total", source="social_assistance")
                        == received + len(feed), what="the duplicates to be delivered")
    assert platform.metric(PROJECTION, "projection_applied_events_total", source="social_assistance") == applied
    assert_converged(platform)


def publish(amqp_uri: str, events: list, routing_key: str | None = None, raw: bytes | None = None) -> None:
    connection = amqp.Connection(**AmqpAddress.parse(amqp_uri).connection_kwargs(), confirm_publish=True)
    connection.connect()
    channel = connection.channel()
    for event in events:
        body = raw if raw is not None else contract.encode(contract.decode(__import__("json").dumps(event)))
        channel.basic_publish(amqp.Message(body, content_type=contract.CONTENT_TYPE, delivery_mode=2),
                              exchange="social_assistance.events",
                              routing_key=routing_key or event["type"])
    connection.close()


def purge_dead_letters(amqp_uri: str) -> None:
    """Earlier tests of the session may have left dead letters in this vhost: start from none."""
    connection = amqp.Connection(**AmqpAddress.parse(amqp_uri).connection_kwargs())
    connection.connect()
    connection.channel().queue_purge("projection.read_model.dead-letter")
    connection.close()


def test_poison_messages_are_dead_lettered_counted_listed_and_requeued(platform, amqp_uri):
    platform.wait_until(lambda: "dead letters" in projection_cli(platform, "dead-letters"),
                        what="the dead-letter queue to exist")
    purge_dead_letters(amqp_uri)
    with Traffic(amqp_uri) as traffic:
        traffic.wait_for(20)
        good = platform.get(SA, "/events?after=0&limit=1")["events"][0]
        publish(amqp_uri, [None], routing_key="CaseApproved", raw=b"{not json")
        publish(amqp_uri, [dict(good, type="CaseTeleported",
                                dataschema=contract.schema_urn("social_assistance", "CaseTeleported", 1))])
        publish(amqp_uri, [dict(good, data=dict(good["data"], aggregate_version="one"))])
        traffic.wait_for(20)
    counted = [f'projection_dead_letters_total{{reason="{reason}"}} 1.0'
               for reason in ("not-a-cloudevent", "unknown-type", "schema-violation")]
    platform.wait_until(lambda: all(line in platform.get(PROJECTION, "/metrics") for line in counted),
                        what="each kind of poison to be dead-lettered and counted once")
    listed = projection_cli(platform, "dead-letters")
    assert "3 dead letters" in listed and "unknown-type" in listed
    assert "re-queued 3" in projection_cli(platform, "dead-letters", "requeue")
    # Still poison: they come straight back, and the consumer keeps going.
    platform.wait_until(lambda: "3 dead letters" in projection_cli(platform, "dead-letters"),
                        what="the re-queued poison to be dead-lettered again")
    assert_converged(platform)


def projection_cli(platform, *args) -> str:
    done = subprocess.run([sys.executable, "-m", "services.projection", *args], cwd=ROOT,
                          env=platform.env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_concurrent_conflicting_commands_one_wins(platform, amqp_uri):
    with cluster(amqp_uri, timeout=30) as rpc:
        sa = rpc.social_assistance
        hh = sa.register_household("beigang", "urban", [member(income="0")])
        case = sa.apply(hh, "officer-li")
        sa.verify(case, "officer-li", "0")
        others = []
        for _ in range(5):
            other = sa.apply(sa.register_household("xilin", "rural", [member(income="0")]), "officer-li")
            sa.verify(other, "officer-li", "0")
            sa.approve(other, "officer-wang", "2007-01")
            others.append(other)

    def attempt(command):
        with cluster(amqp_uri, timeout=60) as rpc:
            try:
                return command(rpc.social_assistance)
            except Conflict as conflict:
                return conflict
    with ThreadPoolExecutor(4) as pool:
        approvals = list(pool.map(attempt, [lambda s: s.approve(case, "officer-wang", "2007-01"),
                                            lambda s: s.approve(case, "officer-zhao", "2007-01")]))
        runs = list(pool.map(attempt, [lambda s: s.run_payments("2007-02")] * 3))
    assert sorted(type(a).__name__ for a in approvals) == ["Conflict", "dict"]
    conflict = next(a for a in approvals if isinstance(a, Conflict))
    assert (conflict.field, conflict.code) in (("case_id", "dibao.case_state"),
                                               ("version", "store.concurrent_change"))
    assert sum(r["paid"] for r in runs) == 6  # five earlier cases and the one approved now
    assert_converged(platform)


def test_a_rebuild_during_live_traffic_converges_to_the_live_tables(platform, amqp_uri):
    with Traffic(amqp_uri) as traffic:
        traffic.wait_for(40)
        output = projection_cli(platform, "rebuild")
        assert "rebuilt up to sequence" in output
        traffic.wait_for(40)
    assert_converged(platform)


def test_a_lost_listen_connection_does_not_stall_the_relay(platform, amqp_uri):
    with Traffic(amqp_uri) as traffic:
        traffic.wait_for(20)
        with psycopg.connect(settings().pg_conninfo(), autocommit=True) as conn:
            killed = conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                  "WHERE datname = current_database() AND query ILIKE 'LISTEN%%'").fetchall()
        assert killed, "the relay's LISTEN connection was found and terminated"
        traffic.wait_for(40)
    assert_converged(platform)
    assert platform.metric(RELAY, "relay_errors_total") is not None
