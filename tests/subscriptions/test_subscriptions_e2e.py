"""End-to-end tier: a municipal system subscribes through the gateway, the platform's delivery
process (`python -m services.subscriptions.delivery`, one of the programs the e2e platform starts,
like `make run`) validates its sink with the handshake and delivers the bureau's events, signed,
in order and scoped, to the example receiver of docs/examples (which verifies every signature with
the independent `standardwebhooks` package). An AMQP subscription made through the gateway gets
its queue and broker user at once (credentials shown once), and deleting it removes them."""
from __future__ import annotations

import json
import queue
import signal
import subprocess
import sys
import threading

import amqp
import pytest
import requests

from shared import broker_users
from shared.bus import AmqpAddress
from tests.e2e.conftest import platform  # noqa: F401  (the fixture)
from tests.e2e.platform import ROOT, free_port, stop_group
from tests.subscriptions.test_amqp_sink import management  # noqa: F401  (the fixture)
from tests.support import member

pytestmark = pytest.mark.e2e
ORIGIN = "zhonglou-civil-affairs"


def start(command: list[str], env: dict, log) -> subprocess.Popen:
    return subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=log,
                            text=True, start_new_session=True)


def lines_of(process: subprocess.Popen) -> "queue.Queue[dict]":
    found: queue.Queue = queue.Queue()

    def read():
        for line in process.stdout:
            if line.startswith("{"):
                found.put(json.loads(line))
    threading.Thread(target=read, daemon=True).start()
    return found


def test_a_municipal_webhook_gets_the_events_signed_in_order_and_reduced(platform, tmp_path):
    admin = {"Authorization": "Bearer " + platform.token("admin-zhou", ["administrator"], "*")}
    officer = {"Authorization": "Bearer " + platform.token("officer-li", ["social_assistance.officer"], ["beigang"])}
    port = free_port()
    answer = platform.wait_until(lambda: requests.post(platform.gateway_url("/subscriptions"), headers=admin, json={
        "subscriber": "市统计局", "purpose": "monthly statistics of new households", "legal_basis": "statistics",
        "source": "social_assistance", "sink": f"http://127.0.0.1:{port}/hooks",
        "types": ["HouseholdRegistered"]}, timeout=30), what="the subscription created")
    assert answer.status_code == 201, answer.text
    created = answer.json()["result"]
    assert answer.headers["Location"] == f"/subscriptions/{created['id']}"
    log = open(tmp_path / "receiver.log", "a")
    receiver = start([sys.executable, "docs/examples/webhook_receiver.py", "--port", str(port),
                      "--secret", created["secret"], "--allowed-origin", ORIGIN], platform.env, log)
    try:
        received = lines_of(receiver)
        assert received.get(timeout=30) == {"listening": port}
        people = [member(name=name) for name in ("王芳", "李强", "赵敏")]
        for person in people:
            response = requests.post(platform.gateway_url("/social-assistance/households"), headers=officer,
                                     json={"area": "beigang", "registration": "urban", "members": [person]},
                                     timeout=30)
            assert response.status_code == 201, response.text
        events = [received.get(timeout=60) for _ in people]
        assert [e["type"] for e in events] == ["HouseholdRegistered"] * 3
        sequences = [int(e["sequence"]) for e in events]
        assert sequences == sorted(sequences) and len(set(sequences)) == 3
        names = [m["name"] for e in events for m in e["data"]["members"]]
        assert names == ["王*", "李*", "赵*"]                  # statistics: a reduced scope
        assert all("monthly_income" not in m for e in events for m in e["data"]["members"])
        # acknowledged, with the record of what was disclosed to whom
        def shown():
            return requests.get(platform.gateway_url(f"/subscriptions/{created['id']}"), headers=admin,
                                timeout=30).json()["result"]
        state = platform.wait_until(lambda: (s := shown())["position"] == sequences[-1] and s, what="the acknowledgement")
        assert state["state"] == "active" and state["delivered"] == 3 and state["dead_letters"] == []
    finally:
        stop_group(receiver, signal.SIGTERM)
        log.close()
    # the platform's one delivery process did it (it holds the lease and reports on its port)
    assert "subscriptions_delivery" not in platform.restarts
    assert platform.metric("SUBSCRIPTIONS_DELIVERY_PORT", "subscription_deliveries_total",
                           subscription=created["id"]) == 3


def test_an_amqp_subscription_gets_its_queue_and_user_once_events_in_order_and_delete_removes_them(
        platform, amqp_uri, management, tmp_path):  # noqa: F811
    admin = {"Authorization": "Bearer " + platform.token("admin-zhou", ["administrator"], "*")}
    vhost = broker_users.vhost_of(amqp_uri)
    answer = platform.wait_until(lambda: requests.post(platform.gateway_url("/subscriptions"), headers=admin, json={
        "subscriber": "市财政局", "purpose": "payments reconciliation", "legal_basis": "service_delivery",
        "source": "social_assistance", "sink": "amqp://127.0.0.1:5672/", "protocol": "AMQP",
        "protocolsettings": {"deliverylimit": 3}, "types": ["HouseholdRegistered"]}, timeout=30),
        what="the AMQP subscription created")
    assert answer.status_code == 201, answer.text
    created = answer.json()["result"]
    credentials = created["credentials"]
    user, queue_name = f"{vhost}.subscriber.{created['id']}", f"subscription.{created['id']}"
    assert (credentials["username"], credentials["queue"], credentials["vhost"]) == (user, queue_name, vhost)
    assert "secret" not in created
    shown = requests.get(platform.gateway_url(f"/subscriptions/{created['id']}"), headers=admin, timeout=30)
    assert shown.status_code == 200
    assert credentials["password"] not in shown.text and "credentials" not in shown.json()["result"]

    # provisioned: both quorum queues, the user, and the user may consume its queue
    queue = management.get_queue(vhost, queue_name)
    assert queue["arguments"]["x-queue-type"] == "quorum" and queue["arguments"]["x-delivery-limit"] == 3
    assert management.get_queue(vhost, f"{queue_name}.dead") is not None
    conn = amqp.Connection(**AmqpAddress.parse(credentials["uri"]).connection_kwargs())
    conn.connect()
    try:
        channel = conn.channel()
        assert channel.basic_get(queue_name) is None            # allowed, and nothing yet
        channel.basic_consume(queue_name, callback=lambda message: None)
    finally:
        conn.close()

    # the platform's delivery process publishes the selected events, in order and in full scope
    # (service_delivery), and the example pika subscriber reads them with the shown credentials
    officer = {"Authorization": "Bearer " + platform.token("officer-li", ["social_assistance.officer"], ["beigang"])}
    for name in ("孙丽", "周杰"):
        response = requests.post(platform.gateway_url("/social-assistance/households"), headers=officer,
                                 json={"area": "beigang", "registration": "urban", "members": [member(name=name)]},
                                 timeout=30)
        assert response.status_code == 201, response.text
    log = open(tmp_path / "amqp_subscriber.log", "a")
    subscriber = start([sys.executable, "docs/examples/amqp_subscriber.py", "--url", credentials["uri"],
                        "--queue", credentials["queue"]], platform.env, log)
    try:
        received = lines_of(subscriber)
        events = [received.get(timeout=60) for _ in range(2)]
    finally:
        stop_group(subscriber, signal.SIGTERM)
        log.close()
    assert [e["type"] for e in events] == ["HouseholdRegistered"] * 2
    assert [int(e["sequence"]) for e in events] == sorted(int(e["sequence"]) for e in events)
    assert [e["data"]["members"][0]["name"] for e in events] == ["孙丽", "周杰"]

    deleted = requests.post(platform.gateway_url(f"/subscriptions/{created['id']}/delete"), headers=admin,
                            timeout=30)
    assert deleted.status_code == 200 and deleted.json()["result"]["state"] == "deleted"
    assert management.get_user(user) is None
    assert management.get_queue(vhost, queue_name) is None
    assert management.get_queue(vhost, f"{queue_name}.dead") is None
    refused = amqp.Connection(**AmqpAddress.parse(credentials["uri"]).connection_kwargs())
    with pytest.raises(amqp.exceptions.AccessRefused):
        refused.connect()
