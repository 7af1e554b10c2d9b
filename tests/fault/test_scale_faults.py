"""Fault suite, scale-out: the relays' standby takes over, the projection's per-source workers, and
two replicas of a service — each under a steady stream of commands on several sources, ending
with every stored event published and the read model equal to a rebuild (nothing lost, nothing
applied twice). Waits on conditions only; RabbitMQ and PostgreSQL are never restarted."""
from __future__ import annotations

import base64
import json
import time
import urllib.parse
import urllib.request

import pytest

from shared import broker_users
from tests.e2e.platform import Platform
from tests.fault.conftest import PROJECTION, SA, SOURCE_NAMES, Traffic, assert_converged
from tests.support import drop_schemas

MANAGEMENT = "http://127.0.0.1:15672"
TAKEOVER_SECONDS = 15      # the lease is polled every second; a take-over is seconds, not minutes


def relay_ports(source: str) -> dict[str, str]:
    """{program: port variable} of the two relay instances of a source."""
    upper = source.upper()
    return {f"relay_{source}": f"RELAY_{upper}_PORT", f"relay_{source}_2": f"RELAY_{upper}_PORT_2"}


def active_relay(platform: Platform, source: str) -> str:
    """The program holding the source's lease: exactly one of the two says relay_active 1."""
    def which():
        active = {program: platform.metric(port, "relay_active")
                  for program, port in relay_ports(source).items() if program in platform.processes}
        holders = [program for program, value in active.items() if value == 1.0]
        return holders[0] if len(holders) == 1 and sorted(active.values()) == [0.0, 1.0] else None
    return platform.wait_until(which, what=f"one active and one standby relay of {source}")


def published(platform: Platform, program: str, source: str) -> float:
    return platform.metric(relay_ports(source)[program], "relay_published_events_total") or 0.0


def take_over(platform: Platform, traffic: Traffic, source: str) -> tuple[str, float]:
    """SIGKILL the source's active relay under load; returns the standby that took over and how
    many seconds it took to publish (relay_active 1, then its first confirmed events)."""
    victim = active_relay(platform, source)
    standby = next(p for p in relay_ports(source) if p != victim)
    port = relay_ports(source)[standby]
    before = published(platform, standby, source)
    assert before == 0.0, "the standby published nothing while it stood by"
    platform.kill(victim)                     # SIGKILL, no goodbye: its session and lease end
    killed_at = time.monotonic()
    platform.wait_until(lambda: platform.metric(port, "relay_active") == 1.0, TAKEOVER_SECONDS,
                        what=f"{standby} to take the lease of {source}")
    traffic.wait_for(20)                      # commands keep being stored meanwhile
    platform.wait_until(lambda: published(platform, standby, source) > 0, TAKEOVER_SECONDS,
                        what=f"{standby} to publish {source}'s new events")
    return standby, time.monotonic() - killed_at


def test_the_standby_relay_takes_over_when_the_active_one_is_killed_under_load(platform, amqp_uri):
    with Traffic(amqp_uri) as traffic:
        traffic.wait_for(40)
        standby, seconds = take_over(platform, traffic, "social_assistance")
        print(f"standby {standby} publishing {seconds:.1f}s after the SIGKILL")
        assert seconds < TAKEOVER_SECONDS
        # The killed one comes back (supervisord would restart it) and now stands by.
        victim = next(p for p in relay_ports("social_assistance") if p != standby)
        platform.start(victim)
        assert active_relay(platform, "social_assistance") == standby
        traffic.wait_for(40, timeout=120)
    assert_converged(platform)


def test_a_killed_relay_and_a_killed_projection_together_lose_nothing(platform, amqp_uri):
    """The active relay of one source and the projection (all its workers) SIGKILLed together,
    mid-stream; the standby publishes, the projection restarts and every worker resumes."""
    with Traffic(amqp_uri) as traffic:
        traffic.wait_for(40)
        victim = active_relay(platform, "disaster_relief")
        platform.kill(victim)
        platform.kill("projection")
        traffic.wait_for(30)
        platform.start("projection")
        traffic.wait_for(30, timeout=120)
        platform.start(victim)
        traffic.wait_for(20, timeout=120)
    assert_converged(platform)
    workers = {source: platform.metric(PROJECTION, "projection_worker_consuming", worker=source)
               for source in SOURCE_NAMES}
    assert workers == {source: 1.0 for source in SOURCE_NAMES}, "every source has a consuming worker"


def management(method: str, path: str):
    request = urllib.request.Request(MANAGEMENT + path, method=method, headers={
        "Authorization": "Basic " + base64.b64encode(b"guest:guest").decode(),
        "X-Reason": "fault test: one projection worker loses its broker connection"})
    with urllib.request.urlopen(request, timeout=10) as response:
        body = response.read()
    return json.loads(body) if body else None


def test_one_projection_worker_losing_its_connection_mid_stream_loses_nothing(platform, amqp_uri):
    """One worker's broker connection closed by the broker under load (its unacked messages are
    redelivered, it reconnects), while the other workers carry on."""
    vhost = broker_users.vhost_of(amqp_uri)
    user = broker_users.username(vhost, "projection")     # the projection's own broker user
    try:
        management("GET", "/api/overview")
    except OSError as error:
        pytest.fail(f"the RabbitMQ management API at {MANAGEMENT} does not answer ({error}): make tools enables it")

    def projection_connections():
        found = management("GET", f"/api/vhosts/{urllib.parse.quote(vhost, safe='')}/connections")
        return [c for c in found if c["user"] == user]
    workers = len(SOURCE_NAMES)
    connections = platform.wait_until(lambda: len(c := projection_connections()) >= workers and c,
                                      what="a broker connection per projection worker")
    reconnects = {s: platform.metric(PROJECTION, "projection_worker_reconnects_total", worker=s) for s in SOURCE_NAMES}
    with Traffic(amqp_uri) as traffic:
        traffic.wait_for(40)
        management("DELETE", f"/api/connections/{urllib.parse.quote(connections[0]['name'], safe='')}")
        platform.wait_until(lambda: any(platform.metric(PROJECTION, "projection_worker_reconnects_total", worker=s)
                                        > reconnects[s] for s in SOURCE_NAMES),
                            what="the worker whose connection was closed to reconnect")
        traffic.wait_for(40, timeout=120)
    assert_converged(platform)
    hit = [s for s in SOURCE_NAMES
           if platform.metric(PROJECTION, "projection_worker_reconnects_total", worker=s) > reconnects[s]]
    assert len(hit) == 1, f"one worker reconnected, the others kept their connections: {hit}"


@pytest.fixture
def two_replicas(fresh_schemas, amqp_uri, tmp_path):
    drop_schemas(fresh_schemas, "read_model_replay")
    running = Platform(amqp_uri, tmp_path, replicas=2)
    try:
        running.start_all()
        for port in (SA, f"{SA}_2"):
            running.wait_until(lambda: running.get(port, "/healthz"), what=f"{port} /healthz")
        running.wait_until(lambda: running.metric(PROJECTION, "projection_source_head", source="social_assistance")
                           is not None, what="projection")
        yield running
    finally:
        running.stop_all()


def test_two_replicas_share_the_commands_and_one_may_die_under_load(two_replicas, amqp_uri):
    platform = two_replicas

    def calls(port: str) -> float:
        text = platform.get(port, "/metrics")
        return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
                   if line.startswith("entrypoint_calls_total{"))
    with Traffic(amqp_uri) as traffic:
        traffic.wait_for(80)
        assert calls(SA) > 0 and calls(f"{SA}_2") > 0, "RPC calls reach both replicas"
        platform.kill("social_assistance")    # SIGKILL one replica: the other takes every call
        traffic.wait_for(40, timeout=120)
        platform.start("social_assistance")
        traffic.wait_for(20, timeout=120)
    assert_converged(platform)


def connections(platform: Platform) -> int:
    """The platform's connections to its database now (this test's own included)."""
    import psycopg

    from shared.config import settings
    with psycopg.connect(settings().pg_conninfo(), autocommit=True) as conn:
        return conn.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()").fetchone()[0]


# A fresh PostgreSQL allows 100 connections; the platform (REPLICAS=1) must leave room for the tools
# and tests (the standbys hold none). The test prints the count for REPLICAS=1 and 2.
CONNECTION_BUDGET = 80


@pytest.mark.parametrize("replicas", [1, 2])
def test_the_platform_under_load_fits_a_fresh_postgresql(fresh_schemas, amqp_uri, tmp_path, replicas):
    """Every program started, a stream of commands on several sources and the read model caught
    up (every pool opened), then the connections of the platform's database counted: the standby
    relays hold none."""
    drop_schemas(fresh_schemas, "read_model_replay")
    platform = Platform(amqp_uri, tmp_path, replicas=replicas)
    try:
        platform.start_all()
        platform.wait_until(lambda: platform.get(SA, "/healthz"), what="social_assistance")
        with Traffic(amqp_uri) as traffic:
            traffic.wait_for(60, timeout=120)
            during = connections(platform)
        assert_converged(platform)
        after = connections(platform)
        print(f"REPLICAS={replicas}: {len(platform.processes)} programs, {during} connections under load, "
              f"{after} after converging (budget {CONNECTION_BUDGET})")
        if replicas == 1:
            assert max(during, after) <= CONNECTION_BUDGET
    finally:
        platform.stop_all()
