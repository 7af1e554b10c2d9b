"""Integration tests of the broker users (shared/broker_users.py) on the real RabbitMQ.

The session's users (tests/conftest.py `amqp_uri` creates them for its vhost) are tried at what
their process must do and at what it must not: a consumer-only user (the projection's) calling a
service or publishing an event, a relay publishing to another domain's exchange, a service
sending a request instead of a reply, a caller forging a reply or snooping on requests. Then the
whole platform, each process as its own user, with the gateway's user calling a service.
"""
from __future__ import annotations

import json
import shutil
import subprocess
import time
import uuid
import warnings

import amqp
import pytest

from services.subscriptions import amqp_sink
from shared import broker_users
from shared.bus import AmqpAddress, declare_events_exchange
from shared.rpc import client_config

warnings.filterwarnings("ignore", message=r"(?s).*Eventlet is deprecated")

SA, WELFARE = "social_assistance", "welfare"
DELIVERIES = amqp_sink.DELIVERIES_EXCHANGE


@pytest.fixture(scope="module")
def uris(amqp_uri):
    """{process: its own user's URI} for the session's vhost; the exchanges the tests publish
    to exist (declared by guest), so a refusal is about permission, never a missing exchange."""
    with _connection(amqp_uri) as conn:
        channel = conn.channel()
        for domain in (SA, WELFARE):
            declare_events_exchange(channel, domain)
        channel.exchange_declare(broker_users.RPC_EXCHANGE, "topic", durable=True, auto_delete=False)
        for exchange in (DELIVERIES, amqp_sink.DEAD_LETTER_EXCHANGE):
            channel.exchange_declare(exchange, "direct", durable=True, auto_delete=False)
    return broker_users.process_uris(amqp_uri, broker_users.passwords())


def _connection(uri: str) -> amqp.Connection:
    conn = amqp.Connection(**AmqpAddress.parse(uri).connection_kwargs(), confirm_publish=True)
    conn.connect()
    return conn


def publish(uri: str, exchange: str, routing_key: str, body: bytes = b"{}", **properties) -> None:
    """Publish with a publisher confirm, so a refusal raises here (not on a later call)."""
    conn = _connection(uri)
    try:
        conn.channel().basic_publish(amqp.Message(body, **properties), exchange=exchange,
                                     routing_key=routing_key)
    finally:
        try:
            conn.close()
        except Exception:  # the broker already closed a refused connection's channel
            pass


def refused(call) -> str:
    with pytest.raises(amqp.exceptions.AccessRefused) as caught:
        call()
    assert "ACCESS_REFUSED" in str(caught.value)
    return str(caught.value)


# --- the consumer-only user ------------------------------------------------------------------------

def test_the_projections_user_is_refused_a_cluster_rpc_proxy(uris):
    from nameko.standalone.rpc import ClusterRpcProxy

    def call():
        with ClusterRpcProxy(client_config(uris["projection"]), timeout=5) as rpc:
            rpc.social_assistance.register_household()
    message = refused(call)
    assert "nameko-rpc" in message and ".projection" in message


def test_the_projections_user_cannot_publish_a_request_or_an_event(uris):
    assert "nameko-rpc" in refused(lambda: publish(uris["projection"], "nameko-rpc", f"{SA}.register_household"))
    assert f"{SA}.events" in refused(lambda: publish(uris["projection"], f"{SA}.events", "HouseholdRegistered"))


# --- relays, services, callers ---------------------------------------------------------------------

def test_a_relay_publishes_to_its_own_domains_exchange_and_no_other(uris):
    publish(uris[f"relay_{SA}"], f"{SA}.events", "HouseholdRegistered")       # allowed: no error
    assert f"{WELFARE}.events" in refused(lambda: publish(uris[f"relay_{SA}"], f"{WELFARE}.events", "X"))
    assert "nameko-rpc" in refused(lambda: publish(uris[f"relay_{SA}"], "nameko-rpc", f"{WELFARE}.x"))


def test_a_service_may_reply_but_not_send_a_request(uris):
    publish(uris[SA], "nameko-rpc", str(uuid.uuid4()))                          # a reply key
    assert "topic" in refused(lambda: publish(uris[SA], "nameko-rpc", f"{WELFARE}.register_institution"))


def test_a_caller_may_request_but_not_forge_a_reply(uris):
    publish(uris["gateway"], "nameko-rpc", f"{SA}.register_household")
    assert "topic" in refused(lambda: publish(uris["gateway"], "nameko-rpc", str(uuid.uuid4())))


def test_a_caller_cannot_bind_its_reply_queue_to_other_peoples_requests(uris):
    conn = _connection(uris["gateway"])
    try:
        channel = conn.channel()
        queue = f"rpc.reply-standalone_rpc_proxy-{uuid.uuid4()}"
        channel.queue_declare(queue, auto_delete=True)
        channel.queue_bind(queue, "nameko-rpc", str(uuid.uuid4()))            # its own reply key
        assert "topic" in refused(lambda: channel.queue_bind(queue, "nameko-rpc", f"{SA}.*"))
    finally:
        try:
            conn.close()
        except Exception:
            pass


# --- the subscriptions delivery process and the subscription service's re-drive ----------------------

def _queues(amqp_uri: str, *names: str) -> None:
    with _connection(amqp_uri) as conn:
        for name in names:
            conn.channel().queue_declare(name, durable=True, auto_delete=False)


def _get(uri: str, queue: str):
    conn = _connection(uri)
    try:
        return conn.channel().basic_get(queue, no_ack=True)
    finally:
        try:
            conn.close()
        except Exception:
            pass


def test_the_delivery_user_publishes_to_the_deliveries_exchange_and_nowhere_else(uris, amqp_uri):
    user = uris["subscriptions_delivery"]
    publish(user, DELIVERIES, str(uuid.uuid4()))                                # allowed: no error
    for exchange, key in ((f"{SA}.events", "HouseholdRegistered"), ("nameko-rpc", f"{SA}.register_household"),
                          (amqp_sink.DEAD_LETTER_EXCHANGE, str(uuid.uuid4())), ("", "projection.read_model")):
        assert (exchange or "amq.default") in refused(lambda: publish(user, exchange, key))
    queue = f"subscription.{uuid.uuid4()}"
    _queues(amqp_uri, queue)
    assert queue in refused(lambda: _get(user, queue))                          # reads no queue
    assert "subscriptions.deliveries" in refused(lambda: _connection(user).channel().exchange_declare(
        DELIVERIES, "direct", durable=True, auto_delete=False))                  # configures nothing


def test_the_subscription_service_may_re_drive_dead_letters_and_read_nothing_else(uris, amqp_uri):
    user, subscription = uris["subscriptions"], str(uuid.uuid4())
    dead, live = amqp_sink.dead_letter_queue(subscription), amqp_sink.queue_name(subscription)
    _queues(amqp_uri, dead, live)
    assert _get(user, dead) is None                                             # may read its dead letters
    publish(user, DELIVERIES, subscription)                                     # ... and put them back
    assert live in refused(lambda: _get(user, live))                            # not the subscriber's queue
    assert f"{SA}.events" in refused(lambda: publish(user, f"{SA}.events", "X"))
    assert amqp_sink.DEAD_LETTER_EXCHANGE in refused(
        lambda: publish(user, amqp_sink.DEAD_LETTER_EXCHANGE, subscription))


# --- the whole platform, each process as its own user --------------------------------------------------

@pytest.fixture
def platform(fresh_schemas, amqp_uri, tmp_path):
    from tests.e2e.platform import Platform
    running = Platform(amqp_uri, tmp_path)
    running.start_all()
    yield running
    running.stop_all()


def connected_users(vhost: str) -> set[str]:
    listed = subprocess.run([shutil.which("rabbitmqctl"), "-q", "list_connections", "user", "vhost"],
                            capture_output=True, text=True, check=True).stdout
    return {line.split("\t")[0] for line in listed.splitlines() if line.endswith(f"\t{vhost}")}


def test_every_platform_process_connects_as_its_own_user_and_the_gateways_user_can_call(
        platform, amqp_uri, uris):
    """The services and the projection connect at start; the gateway connects on its first
    request, a relay when it has an event to publish, the subscriptions delivery process when it
    has an AMQP subscription to deliver to: so one request through the gateway stores an event,
    and the relay and projection carry it."""
    import requests

    from deploy import render
    from shared.rpc import cluster
    from tests.support import member
    vhost = broker_users.vhost_of(amqp_uri)
    assert platform.shared_uri == []                         # no program left on guest
    at_start = {broker_users.username(vhost, p.program) for p in render.processes()
                if p.role not in ("relay", "gateway", "delivery")}
    platform.wait_until(lambda: at_start <= connected_users(vhost), timeout=120,
                        what=f"connections of {sorted(at_start)}")
    platform.wait_until(lambda: platform.get("REPORTING_PORT", "/healthz"), what="reporting")
    officer = {"Authorization": "Bearer " + platform.token(roles=["social_assistance.officer"], areas=["beigang"])}
    stored = platform.wait_until(lambda: requests.post(
        platform.gateway_url("/social-assistance/households"), headers=officer, timeout=30,
        json={"area": "beigang", "registration": "urban", "members": [member()]}).status_code == 201,
        what="a household registered through the gateway")
    assert stored and broker_users.username(vhost, "gateway") in connected_users(vhost)
    with cluster(uris["gateway"], timeout=30) as rpc:       # the gateway's user may call reporting
        assert SA in rpc.reporting.report()
    head = platform.get("SOCIAL_ASSISTANCE_PORT", "/healthz")["head"]
    assert head >= 1
    platform.wait_until(lambda: platform.metric("PROJECTION_PORT", "projection_position", source=SA) == head,
                        what="the projection to apply the event the relay published")
    assert broker_users.username(vhost, f"relay_{SA}") in connected_users(vhost)


def test_the_default_exchange_does_not_reach_a_service_method(platform, amqp_uri, uris):
    """The projection may publish to the default exchange (its dead letters): a message sent
    there to `rpc-<service>` carries the queue's name as routing key, so Nameko finds no method
    and nothing is stored."""
    platform.wait_until(lambda: platform.get("SOCIAL_ASSISTANCE_PORT", "/healthz"), what="social_assistance")
    head = platform.get("SOCIAL_ASSISTANCE_PORT", "/healthz")["head"]
    conn = _connection(amqp_uri)                             # guest listens for the reply
    try:
        channel = conn.channel()
        key = str(uuid.uuid4())
        queue = channel.queue_declare("", exclusive=True).queue
        channel.queue_bind(queue, "nameko-rpc", key)
        body = json.dumps({"args": [], "kwargs": {"area": "beigang", "members": []}}).encode()
        publish(uris["projection"], "", f"rpc-{SA}", body, content_type="application/json",
                reply_to=key, correlation_id=key)
        reply = None
        for _ in range(100):
            reply = channel.basic_get(queue, no_ack=True)
            if reply is not None:
                break
            time.sleep(0.1)
        assert reply is not None, "the service sent no reply"
        assert json.loads(reply.body)["error"]["exc_type"] == "MethodNotFound"
    finally:
        conn.close()
    assert platform.get("SOCIAL_ASSISTANCE_PORT", "/healthz")["head"] == head
