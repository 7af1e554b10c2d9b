"""Integration tests of the subscription service's composition root (services/subscriptions/
service.py `build()`): the application's provisioner, deprovisioner and redriver are amqp_sink's,
in the vhost of the service's AMQP_URI, and the re-drive works as the service's OWN broker user
(shared/broker_users.py), not the administrator's: the least privilege it needs."""
from __future__ import annotations

import json
import time
import uuid

import amqp
import pytest

from services.subscriptions import amqp_sink as sink
from services.subscriptions import service
from shared import broker_users
from shared.bus import AmqpAddress
from shared.errors import InvalidInput, NotFound, ServiceUnavailable
from tests.subscriptions.test_amqp_sink import management  # noqa: F401  (the fixture)

pytestmark = pytest.mark.integration


@pytest.fixture
def as_the_service(amqp_uri, monkeypatch):
    """The service's environment: AMQP_URI is its own broker user's."""
    uri = broker_users.process_uri(amqp_uri, "subscriptions", broker_users.passwords()["subscriptions"])
    monkeypatch.setenv("AMQP_URI", uri)
    monkeypatch.delenv("SUBSCRIPTIONS_BROKER_URL", raising=False)
    return uri


def _connection(uri: str) -> amqp.Connection:
    conn = amqp.Connection(**AmqpAddress.parse(uri).connection_kwargs())
    conn.connect()
    return conn


def _event(n: int) -> dict:
    return {"specversion": "1.0", "id": str(uuid.uuid4()), "source": "urn:test", "type": "T",
            "sequence": f"{n:020d}", "data": {"n": n}}


def test_build_wires_the_amqp_sink(database):
    app = service.build()
    assert (app.provisioner, app.deprovisioner, app.redriver) == \
        (service.provision, service.deprovision, service.redrive)


def test_provision_redrive_deprovision_as_the_services_own_user(as_the_service, amqp_uri, management):  # noqa: F811
    vhost = broker_users.vhost_of(amqp_uri)
    view = {"id": str(uuid.uuid4()), "protocolsettings": {"deliverylimit": 1}}
    credentials = service.provision(view)
    try:
        assert credentials["vhost"] == vhost and credentials["queue"] == f"subscription.{view['id']}"
        assert credentials["uri"].startswith(f"amqp://{vhost}.subscriber.{view['id']}:")
        assert credentials["uri"].endswith(f"@127.0.0.1:5672/{vhost}")
        queue = management.get_queue(vhost, credentials["queue"])
        assert queue["arguments"]["x-delivery-limit"] == 1
        events = [_event(n) for n in (1, 2)]
        delivery = broker_users.process_uri(amqp_uri, "subscriptions_delivery",
                                            broker_users.passwords()["subscriptions_delivery"])
        with _connection(delivery) as publisher:
            assert sink.deliver(publisher, view["id"], events) == 2
        with _connection(credentials["uri"]) as subscriber:   # rejected past the limit: dead letters
            channel = subscriber.channel()
            deadline = time.monotonic() + 15
            while sink.dead_letter_count(view["id"], vhost, api=management) < 2 and time.monotonic() < deadline:
                message = channel.basic_get(credentials["queue"])
                if message is not None:
                    channel.basic_reject(message.delivery_tag, requeue=True)
                else:
                    time.sleep(0.2)
        assert service.redrive(view, 10) == 2                   # the service's own user moved them
        with _connection(credentials["uri"]) as subscriber:
            channel = subscriber.channel()
            got = []
            deadline = time.monotonic() + 10
            while len(got) < 2 and time.monotonic() < deadline:
                message = channel.basic_get(credentials["queue"], no_ack=True)
                got += [json.loads(message.body)] if message is not None else []
        assert got == events
    finally:
        service.deprovision(view)
    assert management.get_user(f"{vhost}.subscriber.{view['id']}") is None
    assert management.get_queue(vhost, credentials["queue"]) is None
    assert management.get_queue(vhost, f"{credentials['queue']}.dead") is None


def test_a_delivery_limit_out_of_bounds_and_a_redrive_without_a_sink_are_typed(as_the_service, management):  # noqa: F811
    with pytest.raises(InvalidInput) as caught:
        service.provision({"id": str(uuid.uuid4()), "protocolsettings": {"deliverylimit": 1000}})
    assert caught.value.code == "subscription.delivery_limit"
    with pytest.raises(NotFound) as caught:
        service.redrive({"id": str(uuid.uuid4())}, 10)
    assert caught.value.code == "subscription.no_amqp_sink"


def test_a_management_api_that_does_not_answer_is_a_typed_retryable_error(as_the_service, monkeypatch):
    from tests.e2e.platform import free_port
    monkeypatch.setenv("RABBITMQ_MANAGEMENT_URL", f"http://127.0.0.1:{free_port()}")   # nobody there
    with pytest.raises(ServiceUnavailable) as caught:
        service.provision({"id": str(uuid.uuid4()), "protocolsettings": {}})
    assert (caught.value.field, caught.value.code) == ("sink", "subscription.broker_unavailable")


def test_the_subscribers_broker_address_is_configurable():
    assert service.broker_address({"AMQP_URI": "amqp://u:p@rabbitmq:5672/civil"}) == "amqp://rabbitmq:5672"
    assert service.broker_address({"AMQP_URI": "amqp://u:p@rabbitmq/civil",
                                   "SUBSCRIPTIONS_BROKER_URL": "amqps://broker.example:5671"}) == \
        "amqps://broker.example:5671"
