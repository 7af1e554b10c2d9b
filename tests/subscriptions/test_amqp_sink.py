"""Integration tests of the AMQP sinks (services/subscriptions/amqp_sink.py) on the real RabbitMQ.

Each test provisions subscriptions in the session's vhost (tests/conftest.py `amqp_uri`) through
the management HTTP API, then acts as the subscriber with the credentials it was given: it
consumes its own queue, and is refused (ACCESS_REFUSED) everywhere else. Every subscription made
here is deprovisioned at the end of the module, and the test checks that no subscriber user of
the vhost is left (the session's clean-up would delete `<vhost>.` users too, but that must not
be what cleans up after this code).
"""
from __future__ import annotations

import json
import shutil
import subprocess
import time
import uuid

import amqp
import pytest

from services.subscriptions import amqp_sink as sink
from shared import broker_users, domains
from shared.bus import AmqpAddress, declare_events_exchange
from shared.errors import InvalidInput, NotFound

pytestmark = pytest.mark.integration

PLUGIN = "rabbitmq_management"


# --- fixtures -------------------------------------------------------------------------------------

@pytest.fixture(scope="session")
def management():
    """The management API, the plugin enabled first if the broker lacks it (it stays enabled:
    it is part of the platform's broker set-up, `make tools`), and answering."""
    plugins = shutil.which("rabbitmq-plugins")
    if plugins is None:
        pytest.fail("rabbitmq-plugins not found: the AMQP sink tests need the local RabbitMQ")
    enabled = subprocess.run([plugins, "-q", "list", "-e", "-m"], capture_output=True, text=True, timeout=120)
    if PLUGIN not in enabled.stdout.split():
        subprocess.run([plugins, "enable", PLUGIN], check=True, capture_output=True, timeout=300)
    api = sink.Management()
    api.wait_ready(120)
    return api


@pytest.fixture(scope="module")
def vhost(amqp_uri, management):
    name = broker_users.vhost_of(amqp_uri)
    with _connection(amqp_uri) as conn:        # guest declares every domain's exchange
        channel = conn.channel()
        for domain in domains.names():
            declare_events_exchange(channel, domain)
    yield name
    left = [u["name"] for u in management.request("GET", "/api/users")
            if u["name"].startswith(f"{name}.subscriber.")]
    assert left == [], f"subscriber users left behind: {left}"


@pytest.fixture(scope="module")
def provisioned(vhost, management):
    """provision(...) for the tests; everything it made is deprovisioned at the end."""
    made = []

    def make(**options) -> tuple[str, sink.Credentials]:
        subscription_id = str(uuid.uuid4())
        made.append(subscription_id)
        return subscription_id, sink.provision(subscription_id, vhost, api=management, **options)
    yield make
    for subscription_id in made:
        sink.deprovision(subscription_id, vhost, api=management)


def _connection(uri: str, **options) -> amqp.Connection:
    conn = amqp.Connection(**AmqpAddress.parse(uri).connection_kwargs(), **options)
    conn.connect()
    return conn


def _subscriber(credentials: sink.Credentials, **options) -> amqp.Connection:
    """Connected with the URI the credentials give (what a subscriber would be handed)."""
    address = AmqpAddress.parse(credentials.uri("amqp://127.0.0.1:5672"))
    assert (address.user, address.password, address.vhost) == (
        credentials.username, credentials.password, credentials.vhost)
    return amqp.Connection(**address.connection_kwargs(), **options)


def _event(n: int) -> dict:
    return {"specversion": "1.0", "id": str(uuid.uuid4()), "source": "urn:civil-affairs:social_assistance",
            "type": "HouseholdRegistered", "sequence": f"{n:020d}", "datacontenttype": "application/json",
            "data": {"household_id": str(uuid.uuid4()), "n": n}}


def refused(call) -> str:
    with pytest.raises(amqp.exceptions.AccessRefused) as caught:
        call()
    assert "ACCESS_REFUSED" in str(caught.value)
    return str(caught.value)


def _get(channel, queue: str, seconds: float = 10.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = channel.basic_get(queue)
        if found is not None:
            return found
        time.sleep(0.05)
    return None


# --- input ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("bad", ["", "x", "subscription.*", "../users", "A" * 36, str(uuid.uuid4()).upper(), 7])
def test_a_subscription_id_that_is_not_a_server_made_uuid_is_refused(bad):
    with pytest.raises(InvalidInput) as caught:
        sink.queue_name(bad)
    assert caught.value.code == "subscription.id_format"


@pytest.mark.parametrize("bad", [0, -1, sink.MAX_DELIVERY_LIMIT + 1, True, 2.0, "3"])
def test_a_delivery_limit_out_of_bounds_is_refused_before_the_broker_is_asked(bad):
    with pytest.raises(InvalidInput) as caught:
        sink.provision(str(uuid.uuid4()), "unused", delivery_limit=bad,
                       api=sink.Management(url="http://127.0.0.1:9"))   # nothing listens: never called
    assert caught.value.code == "subscription.delivery_limit"


def test_an_event_without_an_id_or_too_many_events_are_refused():
    with pytest.raises(InvalidInput) as caught:
        sink.encode({"type": "X"})
    assert caught.value.code == "subscription.event"
    with pytest.raises(InvalidInput) as caught:
        sink.deliver(None, str(uuid.uuid4()), [_event(1)] * (sink.MAX_EVENTS + 1))
    assert caught.value.code == "subscription.events"


def test_a_management_api_that_does_not_answer_is_said_so():
    with pytest.raises(sink.ManagementUnavailable, match="rabbitmq_management"):
        sink.Management(url="http://127.0.0.1:9", timeout=1).request("GET", "/api/overview")


# --- provision ------------------------------------------------------------------------------------

def test_provision_makes_a_quorum_queue_a_dead_letter_queue_and_a_read_only_user(provisioned, vhost, management):
    subscription_id, credentials = provisioned(delivery_limit=3)
    assert credentials.username == f"{vhost}.subscriber.{subscription_id}"
    assert credentials.queue == f"subscription.{subscription_id}" and len(credentials.password) >= 24
    queue = management.get_queue(vhost, credentials.queue)
    assert queue["durable"] and queue["type"] == "quorum"
    assert queue["arguments"]["x-delivery-limit"] == 3
    assert queue["arguments"]["x-dead-letter-exchange"] == sink.DEAD_LETTER_EXCHANGE
    assert management.get_queue(vhost, f"subscription.{subscription_id}.dead")["type"] == "quorum"
    assert management.get_permissions(vhost, credentials.username) == {
        "user": credentials.username, "vhost": vhost, "configure": "^$", "write": "^$",
        "read": f"^subscription\\.{subscription_id}$"}
    assert management.get_user(credentials.username)["tags"] in ([], "")       # no management access
    bindings = management.request("GET", f"/api/queues/{vhost}/{credentials.queue}/bindings")
    assert {(b["source"], b["routing_key"]) for b in bindings if b["source"]} == {
        (sink.DELIVERIES_EXCHANGE, subscription_id)}


def test_provisioning_again_gives_a_new_password_and_the_old_one_stops_working(provisioned, vhost, management):
    subscription_id, first = provisioned()
    second = sink.provision(subscription_id, vhost, api=management)
    assert second.password != first.password
    refused(lambda: _subscriber(first).connect())
    with _subscriber(second) as conn:
        conn.channel().basic_get(second.queue)                  # allowed: no error


# --- the subscriber consumes its own queue --------------------------------------------------------

def test_the_subscriber_consumes_its_own_queue_in_order_as_structured_cloudevents(provisioned, amqp_uri):
    subscription_id, credentials = provisioned()
    events = [_event(n) for n in range(1, 6)]
    with _connection(amqp_uri) as publisher:
        assert sink.deliver(publisher, subscription_id, events) == 5
    received = []
    with _subscriber(credentials) as conn:
        channel = conn.channel()
        channel.basic_qos(0, 10, False)
        channel.basic_consume(credentials.queue, callback=lambda m: (received.append(m), channel.basic_ack(
            m.delivery_tag)))
        deadline = time.monotonic() + 10
        while len(received) < 5 and time.monotonic() < deadline:
            try:
                conn.drain_events(timeout=1)
            except TimeoutError:
                pass
    assert [json.loads(m.body) for m in received] == events
    first = received[0]
    assert first.properties["content_type"] == "application/cloudevents+json"
    assert first.properties["delivery_mode"] == 2
    assert [m.properties["message_id"] for m in received] == [e["id"] for e in events]
    assert first.properties["application_headers"]["ce-sequence"] == "00000000000000000001"


def test_delivering_to_a_subscription_without_a_queue_is_refused_not_lost(amqp_uri, vhost):
    with _connection(amqp_uri) as publisher:
        with pytest.raises(sink.DeliveryRefused, match="unroutable"):
            sink.deliver(publisher, str(uuid.uuid4()), [_event(1)])


# --- ... and nothing else -------------------------------------------------------------------------

def test_the_subscriber_is_refused_on_another_subscribers_queue_and_its_own_dead_letters(provisioned):
    mine, credentials = provisioned()
    theirs, _ = provisioned()
    with _subscriber(credentials) as conn:
        for queue in (f"subscription.{theirs}", f"subscription.{theirs}.dead", f"subscription.{mine}.dead"):
            assert queue in refused(lambda: conn.channel().basic_get(queue))
            assert queue in refused(lambda: conn.channel().basic_consume(queue, callback=lambda m: None))
            assert queue in refused(lambda: conn.channel().queue_purge(queue))


def test_the_subscriber_is_refused_publishing_to_and_binding_from_every_exchange(provisioned, vhost, management):
    """Every exchange of the vhost (each domain's events exchange, the deliveries exchange, the
    default and amq.* ones): no publish, no binding of its own queue to it."""
    subscription_id, credentials = provisioned()
    exchanges = {e["name"] for e in management.request("GET", f"/api/exchanges/{vhost}")}
    assert {f"{d}.events" for d in domains.names()} | {sink.DELIVERIES_EXCHANGE, ""} <= exchanges
    with _subscriber(credentials, confirm_publish=True) as conn:
        for exchange in sorted(exchanges):
            name = exchange or "amq.default"
            assert name in refused(lambda: conn.channel().basic_publish(
                amqp.Message(b"{}"), exchange=exchange, routing_key=subscription_id))
            if exchange:                                        # the default exchange binds no one
                refused(lambda: conn.channel().queue_bind(credentials.queue, exchange, "#"))
        refused(lambda: conn.channel().basic_publish(amqp.Message(b"{}"), exchange="",
                                                     routing_key=credentials.queue))


def test_the_subscriber_cannot_declare_or_delete_any_queue_or_exchange(provisioned):
    subscription_id, credentials = provisioned()
    with _subscriber(credentials) as conn:
        refused(lambda: conn.channel().queue_declare("", exclusive=True))
        refused(lambda: conn.channel().queue_declare(credentials.queue, durable=True,
                                                     arguments={"x-queue-type": "quorum"}))
        refused(lambda: conn.channel().queue_delete(credentials.queue))
        refused(lambda: conn.channel().exchange_declare(f"subscription.{subscription_id}", "fanout"))
        refused(lambda: conn.channel().exchange_delete(sink.DELIVERIES_EXCHANGE))


# --- delivery limit and dead letters --------------------------------------------------------------

def test_a_message_past_the_delivery_limit_lands_in_the_dead_letter_queue(provisioned, amqp_uri):
    subscription_id, credentials = provisioned(delivery_limit=2)
    event = _event(1)
    with _connection(amqp_uri) as publisher:
        sink.deliver(publisher, subscription_id, [event])
    deliveries = 0
    with _subscriber(credentials) as conn:
        channel = conn.channel()
        while (message := _get(channel, credentials.queue, seconds=3)) is not None:
            assert message.properties["message_id"] == event["id"]
            deliveries += 1
            assert deliveries <= 10, "the delivery limit did not stop redelivery"
            channel.basic_reject(message.delivery_tag, requeue=True)
    assert deliveries == 3                                      # the first delivery and two more
    with _connection(amqp_uri) as operator:
        dead = _get(operator.channel(), f"subscription.{subscription_id}.dead")
        assert dead is not None and json.loads(dead.body) == event
        assert dead.properties["message_id"] == event["id"]
        operator.channel().close()                              # not acked: it goes back to the dead letters


def test_an_operator_sees_the_dead_letters_and_redrives_them_to_the_subscriber(
        provisioned, amqp_uri, vhost, management):
    subscription_id, credentials = provisioned(delivery_limit=1)
    events = [_event(n) for n in (1, 2, 3)]
    with _connection(amqp_uri) as publisher:
        sink.deliver(publisher, subscription_id, events)
    with _subscriber(credentials) as conn:
        channel = conn.channel()
        while (message := _get(channel, credentials.queue, seconds=3)) is not None:
            channel.basic_reject(message.delivery_tag, requeue=True)
    deadline = time.monotonic() + 15                            # the management API's counts lag a little
    while sink.dead_letter_count(subscription_id, vhost, api=management) != 3 and time.monotonic() < deadline:
        time.sleep(0.5)
    assert sink.dead_letter_count(subscription_id, vhost, api=management) == 3
    with _connection(amqp_uri) as operator:
        assert sink.redrive(operator, subscription_id, limit=2) == 2
        assert sink.redrive(operator, subscription_id) == 1
        assert sink.redrive(operator, subscription_id) == 0
    with _subscriber(credentials) as conn:
        channel = conn.channel()
        again = [_get(channel, credentials.queue) for _ in events]
    assert [json.loads(m.body) for m in again] == events        # the same events, in order
    assert [m.properties["message_id"] for m in again] == [e["id"] for e in events]
    assert all(m.properties["application_headers"].get("x-delivery-count", 0) == 0 for m in again)


def test_dead_letters_of_a_subscription_without_a_sink_or_a_redrive_limit_out_of_bounds_are_refused(vhost, management):
    with pytest.raises(NotFound) as caught:
        sink.dead_letter_count(str(uuid.uuid4()), vhost, api=management)
    assert caught.value.code == "subscription.no_amqp_sink"
    for bad in (0, sink.MAX_REDRIVE + 1, True):
        with pytest.raises(InvalidInput) as caught:
            sink.redrive(None, str(uuid.uuid4()), limit=bad)
        assert caught.value.code == "subscription.redrive_limit"


# --- deprovision ----------------------------------------------------------------------------------

def test_deprovision_removes_the_user_and_both_queues_and_closes_its_connection(vhost, management, amqp_uri):
    subscription_id = str(uuid.uuid4())
    credentials = sink.provision(subscription_id, vhost, api=management)
    reader = _subscriber(credentials)
    reader.connect()
    reader.channel().basic_get(credentials.queue)
    sink.deprovision(subscription_id, vhost, api=management)
    assert management.get_user(credentials.username) is None
    assert management.get_queue(vhost, credentials.queue) is None
    assert management.get_queue(vhost, f"subscription.{subscription_id}.dead") is None
    refused(lambda: _subscriber(credentials).connect())
    with pytest.raises((amqp.exceptions.AMQPError, OSError)):   # the open connection was closed
        for _ in range(50):
            reader.channel().basic_get(credentials.queue)
            time.sleep(0.1)
    sink.deprovision(subscription_id, vhost, api=management)   # again: nothing left, no error
    with _connection(amqp_uri) as publisher:
        with pytest.raises(sink.DeliveryRefused):
            sink.deliver(publisher, subscription_id, [_event(1)])


# --- the delivery process's user ------------------------------------------------------------------

def test_a_user_with_the_delivery_permissions_delivers_and_may_publish_nowhere_else(
        provisioned, vhost, management, amqp_uri):
    subscription_id, credentials = provisioned()
    user, password = f"{vhost}.subscriptions_delivery_test", broker_users.new_password()
    management.put_user(user, password)
    try:
        management.put_permissions(vhost, user, **sink.DELIVERY_PERMISSIONS)
        uri = broker_users.process_uri(amqp_uri, "subscriptions_delivery_test", password)
        with _connection(uri) as conn:
            assert sink.deliver(conn, subscription_id, [_event(1)]) == 1
        with _connection(uri, confirm_publish=True) as conn:
            for exchange in (f"{domains.names()[0]}.events", sink.DEAD_LETTER_EXCHANGE, ""):
                refused(lambda: conn.channel().basic_publish(amqp.Message(b"{}"), exchange=exchange,
                                                             routing_key=credentials.queue))
            refused(lambda: conn.channel().basic_get(credentials.queue))
    finally:
        management.delete("users", user)
    with _subscriber(credentials) as conn:
        assert _get(conn.channel(), credentials.queue) is not None
