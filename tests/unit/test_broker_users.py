"""Unit tests of the broker-users table (shared/broker_users.py): no broker needed."""
from __future__ import annotations

import re

import pytest

from deploy import render
from shared import broker_users
from shared.errors import InvalidInput


def test_the_table_covers_every_process_the_deployments_run_and_the_gateway():
    listed = {g.process for g in broker_users.table()}
    assert {p.program for p in render.processes()} <= listed
    assert {"gateway", "demo", "bench"} <= listed


def test_the_projection_queue_is_the_projections():
    from services.projection.__main__ import QUEUE
    assert broker_users.PROJECTION_QUEUE == QUEUE


def test_only_the_gateway_and_internal_systems_may_publish_rpc_requests():
    for g in broker_users.table():
        may_write_rpc = re.search(g.write, broker_users.RPC_EXCHANGE) is not None
        if g.kind in ("relay", "projection", "delivery"):
            assert not may_write_rpc, g.process
        elif g.kind == "service":   # replies only: a reply key is a UUID, a request <service>.<method>
            assert re.search(g.rpc_write, "0b0e4a3c-1111-2222-3333-444455556666")
            assert not re.search(g.rpc_write, "social_assistance.register_household")
        else:
            assert g.process in broker_users.CALLERS
            assert re.search(g.rpc_write, "social_assistance.register_household")
            assert not re.search(g.rpc_write, "0b0e4a3c-1111-2222-3333-444455556666")


def test_a_relay_may_write_only_its_own_exchange():
    relay = broker_users.grant("relay_welfare", ("welfare", "social_assistance"))
    assert re.search(relay.write, "welfare.events")
    assert not re.search(relay.write, "social_assistance.events")
    assert not re.search(relay.write, "welfare.events.x") and relay.read == "^$"


def test_the_delivery_process_may_write_only_the_deliveries_exchange():
    from services.subscriptions import amqp_sink
    delivery = broker_users.grant("subscriptions_delivery")
    assert (delivery.configure, delivery.write, delivery.read) == tuple(
        amqp_sink.DELIVERY_PERMISSIONS[k] for k in ("configure", "write", "read"))
    assert re.search(delivery.write, "subscriptions.deliveries")
    assert not re.search(delivery.write, "subscriptions.dead-letters") and delivery.rpc_write is None


def test_the_subscription_service_reads_dead_letters_but_no_subscribers_queue():
    service = broker_users.grant("subscriptions")
    subscription = "0b0e4a3c-1111-2222-3333-444455556666"
    assert re.search(service.read, f"subscription.{subscription}.dead")
    assert not re.search(service.read, f"subscription.{subscription}")
    assert re.search(service.write, "subscriptions.deliveries")
    assert not re.search(service.write, "subscriptions.dead-letters")
    assert service.configure == "^(nameko\\-rpc|rpc\\-subscriptions)$"


def test_process_uri_keeps_the_broker_and_vhost_and_names_the_user():
    uri = broker_users.process_uri("amqp://guest:guest@rabbit:5673/civil_affairs", "projection", "pw-1")
    assert uri == "amqp://civil_affairs.projection:pw-1@rabbit:5673/civil_affairs"


def test_bad_names_are_typed_errors():
    with pytest.raises(InvalidInput) as caught:
        broker_users.username("a'b", "projection")
    assert (caught.value.field, caught.value.code) == ("vhost", "input.broker_name")
    with pytest.raises(InvalidInput):
        broker_users.username("x" * 101, "projection")
    with pytest.raises(InvalidInput) as caught:
        broker_users.grant("nobody")
    assert caught.value.code == "input.unknown_process"


def test_passwords_are_generated_once(tmp_path):
    env_file = tmp_path / ".env.local"
    env_file.write_text("CIPHER_KEY=k\n")
    first = broker_users.add_missing_passwords(str(env_file), {})
    text = env_file.read_text()
    assert first and all(f"{v}=" in text for v in first)
    assert broker_users.add_missing_passwords(str(env_file), {}) == []
    assert env_file.read_text() == text


def test_the_password_hash_is_rabbitmqs_salted_sha256():
    import base64
    import hashlib
    raw = base64.b64decode(broker_users.password_hash("secret", salt=b"abcd"))
    assert raw == b"abcd" + hashlib.sha256(b"abcdsecret").digest()


def test_commands_name_every_user_without_passwords_when_none_are_known():
    lines = [broker_users.shell_line(c) for c in broker_users.commands("civil_affairs")]
    assert any("add_user civil_affairs.projection \"$AMQP_PASSWORD_PROJECTION\"" in line for line in lines)
    assert any(line.startswith("rabbitmqctl set_topic_permissions -p civil_affairs civil_affairs.gateway nameko-rpc")
               for line in lines)


def test_docs_broker_md_shows_the_current_table():
    from pathlib import Path
    text = (Path(__file__).resolve().parents[2] / "docs" / "broker.md").read_text(encoding="utf-8")
    assert broker_users.markdown() in text, "regenerate the table: python -m shared.broker_users table"
