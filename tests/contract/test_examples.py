"""The example subscribers in docs/examples/ run as they are documented, as subprocesses:

- webhook_receiver.py against POSTs signed by the independent `standardwebhooks` signer: a good
  signature accepted (and a rotated pair of signatures), a tampered body, an old timestamp, a
  wrong secret, a malformed or missing signature refused with 401; the validation handshake
  granted to the allowed origin and refused to another; a repeated webhook-id not handled twice;
  a batch (batched mode) handled event by event in order, a repeated or overlapping batch and a
  batch's events sent alone handled once per event id, a tampered or non-array batch refused;
- amqp_subscriber.py against a quorum queue declared on the session's vhost, into which the
  test publishes the platform's own CloudEvents: handled in order with manual acks, a duplicate
  skipped, a non-CloudEvent dead-lettered (rejected), and after the broker closes its connection
  it reconnects and carries on without losing an event.
"""
from __future__ import annotations

import base64
import json
import os
import queue
import secrets
import subprocess
import sys
import threading
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pika
import pytest
import requests
from standardwebhooks.webhooks import Webhook

from shared import contract

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "docs" / "examples"
ORIGIN = "events.zhonglou-civil-affairs.test"
TIMEOUT = 15.0


def _secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


class Process:
    """A started example: its stdout and stderr lines read into queues by threads."""

    def __init__(self, *args: str):
        self.popen = subprocess.Popen([sys.executable, *args], stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE, text=True, cwd=ROOT)
        self.out, self.err = queue.Queue(), queue.Queue()
        self.err_lines: list[str] = []
        for stream, sink in ((self.popen.stdout, self.out), (self.popen.stderr, self.err)):
            threading.Thread(target=self._pump, args=(stream, sink), daemon=True).start()

    @staticmethod
    def _pump(stream, sink):
        for line in stream:
            sink.put(line)

    def line(self, timeout: float = TIMEOUT) -> dict:
        try:
            return json.loads(self.out.get(timeout=timeout))
        except queue.Empty:
            raise AssertionError(f"no output within {timeout}s; stderr: {self.stderr()}") from None

    def no_line(self, within: float) -> None:
        try:
            extra = self.out.get(timeout=within)
        except queue.Empty:
            return
        raise AssertionError(f"unexpected output: {extra}")

    def stderr(self) -> str:
        while not self.err.empty():
            self.err_lines.append(self.err.get())
        return "".join(self.err_lines)

    def wait_stderr(self, text: str, timeout: float = TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.stderr():
            assert time.monotonic() < deadline, f"{text!r} not logged; stderr: {self.stderr()}"
            time.sleep(0.05)

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(10)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(10)


@pytest.fixture(scope="module")
def platform_events() -> list[dict]:
    """CloudEvents exactly as the platform builds them (shared.contract), from a small year."""
    from tests.support import drive_year, memory_app
    app = memory_app()
    drive_year(app, households=2)
    return [contract.as_dict(e) for e in contract.to_cloudevents(
        app, app.recorder.select_notifications(start=1, limit=12))]


# --- webhook receiver ---------------------------------------------------------------------

@pytest.fixture(scope="module")
def webhook_secrets() -> tuple[str, str]:
    return _secret(), _secret()


@pytest.fixture(scope="module")
def receiver(webhook_secrets):
    current, _ = webhook_secrets
    process = Process(str(EXAMPLES / "webhook_receiver.py"), "--port", "0", "--secret", current,
                      "--allowed-origin", ORIGIN, "--rate", "120")
    try:
        port = process.line()["listening"]
        process.url = f"http://127.0.0.1:{port}/hooks/bureau"
        yield process
    finally:
        process.stop()


def _signed(event: dict, secret: str, *, at: datetime | None = None, msg_id: str | None = None,
            extra_signatures: tuple[str, ...] = ()) -> tuple[str, dict]:
    body = json.dumps(event, ensure_ascii=False)
    at = at or datetime.now(timezone.utc)
    msg_id = msg_id or event["id"]
    signature = Webhook(secret).sign(msg_id, at, body)
    return body, {"Content-Type": contract.CONTENT_TYPE, "webhook-id": msg_id,
                  "webhook-timestamp": str(int(at.timestamp())),
                  "webhook-signature": " ".join((*extra_signatures, signature))}


def _post(receiver, body: str, headers: dict) -> requests.Response:
    return requests.post(receiver.url, data=body.encode(), headers=headers, timeout=TIMEOUT)


def test_handshake_granted_to_the_allowed_origin(receiver):
    answer = requests.options(receiver.url, headers={"WebHook-Request-Origin": ORIGIN,
                                                     "WebHook-Request-Rate": "60"}, timeout=TIMEOUT)
    assert answer.status_code == 200
    assert answer.headers["WebHook-Allowed-Origin"] == ORIGIN
    assert answer.headers["WebHook-Allowed-Rate"] == "120"


def test_handshake_refused_to_another_origin(receiver):
    answer = requests.options(receiver.url, headers={"WebHook-Request-Origin": "elsewhere.test"},
                              timeout=TIMEOUT)
    assert answer.status_code == 403
    assert "WebHook-Allowed-Origin" not in answer.headers
    assert "WebHook-Allowed-Rate" not in answer.headers
    assert requests.options(receiver.url, timeout=TIMEOUT).status_code == 400  # no origin at all


def test_good_signature_accepted_and_a_repeat_handled_once(receiver, webhook_secrets, platform_events):
    first, second = platform_events[0], platform_events[1]
    assert _post(receiver, *_signed(first, webhook_secrets[0])).status_code == 204
    printed = receiver.line()
    assert (printed["webhook_id"], printed["sequence"], printed["type"]) == \
        (first["id"], first["sequence"], first["type"])
    retry = _signed(first, webhook_secrets[0], at=datetime.now(timezone.utc) + timedelta(seconds=1))
    assert _post(receiver, *retry).status_code == 204           # acknowledged again ...
    assert _post(receiver, *_signed(second, webhook_secrets[0])).status_code == 204
    assert receiver.line()["id"] == second["id"]                 # ... but not handled twice


def test_rotation_two_signatures_one_valid(receiver, webhook_secrets, platform_events):
    event = platform_events[2]
    old_signature = Webhook(webhook_secrets[1]).sign(event["id"], datetime.now(timezone.utc), "x")
    body, headers = _signed(event, webhook_secrets[0], extra_signatures=(old_signature,))
    assert len(headers["webhook-signature"].split(" ")) == 2
    assert _post(receiver, body, headers).status_code == 204
    assert receiver.line()["id"] == event["id"]


def test_bad_signatures_refused_with_401(receiver, webhook_secrets, platform_events):
    current, other = webhook_secrets
    event = platform_events[3]
    body, headers = _signed(event, current)
    tampered = body.replace(event["sequence"], contract.sequence_text(int(event["sequence"]) + 1000))
    assert tampered != body
    old = _signed(event, current, at=datetime.now(timezone.utc) - timedelta(minutes=10))
    future = _signed(event, current, at=datetime.now(timezone.utc) + timedelta(minutes=10))
    refused = [
        (tampered, headers),
        old, future,
        _signed(event, other),                                            # a secret it does not hold
        (body, {**headers, "webhook-signature": "garbage"}),             # malformed
        (body, {**headers, "webhook-id": "another-id"}),                 # id not the signed one
        (body, {k: v for k, v in headers.items() if k != "webhook-signature"}),
    ]
    for refused_body, refused_headers in refused:
        answer = _post(receiver, refused_body, refused_headers)
        assert answer.status_code == 401, (answer.status_code, refused_headers)
    receiver.no_line(within=0.5)                                          # none was handled
    assert _post(receiver, body, headers).status_code == 204              # the genuine one is
    assert receiver.line()["id"] == event["id"]


def test_signed_but_not_structured_mode_is_refused(receiver, webhook_secrets, platform_events):
    body, headers = _signed(platform_events[4], webhook_secrets[0])
    answer = _post(receiver, body, {**headers, "Content-Type": "application/json"})
    assert answer.status_code == 415
    receiver.no_line(within=0.3)


def _signed_batch(events: list[dict], secret: str, *, at: datetime | None = None) -> tuple[str, dict]:
    """Batched mode as the platform sends it: a JSON array, webhook-id from the first and last id."""
    body = json.dumps(events, ensure_ascii=False)
    at = at or datetime.now(timezone.utc)
    msg_id = f"batch_{events[0]['id']}_{events[-1]['id']}"
    return body, {"Content-Type": "application/cloudevents-batch+json; charset=utf-8", "webhook-id": msg_id,
                  "webhook-timestamp": str(int(at.timestamp())),
                  "webhook-signature": Webhook(secret).sign(msg_id, at, body)}


def test_a_batch_is_handled_event_by_event_in_order_and_each_event_once(receiver, webhook_secrets,
                                                                         platform_events):
    secret = webhook_secrets[0]
    batch = platform_events[5:9]
    body, headers = _signed_batch(batch, secret)
    assert _post(receiver, body, headers).status_code == 204
    printed = [receiver.line() for _ in batch]
    assert [(p["id"], p["sequence"]) for p in printed] == [(e["id"], e["sequence"]) for e in batch]
    assert {p["webhook_id"] for p in printed} == {headers["webhook-id"]}
    # the same batch again (a retry: same webhook-id, a new timestamp): acknowledged, nothing handled
    later = datetime.now(timezone.utc) + timedelta(seconds=1)
    assert _post(receiver, *_signed_batch(batch, secret, at=later)).status_code == 204
    # its events one by one (the platform's fall-back) and a batch overlapping it: only the new ones
    assert _post(receiver, *_signed(batch[1], secret)).status_code == 204
    assert _post(receiver, *_signed_batch(platform_events[8:11], secret)).status_code == 204
    assert [receiver.line()["id"] for _ in range(2)] == [e["id"] for e in platform_events[9:11]]
    receiver.no_line(within=0.3)


def test_a_bad_batch_is_refused(receiver, webhook_secrets, platform_events):
    secret = webhook_secrets[0]
    body, headers = _signed_batch([platform_events[11]], secret)
    tampered = body.replace(platform_events[11]["id"], str(uuid.uuid4()))
    assert _post(receiver, tampered, headers).status_code == 401
    not_an_array = json.dumps(platform_events[11])
    now = datetime.now(timezone.utc)
    signed = Webhook(secret).sign(headers["webhook-id"], now, not_an_array)
    answer = _post(receiver, not_an_array, {**headers, "webhook-timestamp": str(int(now.timestamp())),
                                            "webhook-signature": signed})
    assert answer.status_code == 400
    receiver.no_line(within=0.3)


# --- AMQP subscriber ------------------------------------------------------------------------

@pytest.fixture
def subscription_queue(amqp_uri):
    connection = pika.BlockingConnection(pika.URLParameters(amqp_uri))
    channel = connection.channel()
    name = f"example-subscription-{uuid.uuid4().hex[:8]}"
    channel.queue_declare(name, durable=True, arguments={"x-queue-type": "quorum"})
    channel.confirm_delivery()
    try:
        yield name, channel
    finally:
        channel.queue_delete(name)
        connection.close()


def _publish(channel, queue_name: str, event: dict) -> None:
    channel.basic_publish("", queue_name, json.dumps(event).encode(), pika.BasicProperties(
        content_type=contract.CONTENT_TYPE, message_id=event["id"], delivery_mode=2,
        headers={"ce-sequence": event["sequence"]}))


def _close_connections_named(vhost: str, name: str) -> int:
    """Close, from the broker, the connections whose client named itself `name` (rabbitmqctl's
    plain output: its JSON formatter prints pids close_connection does not take)."""
    listed = subprocess.run(["rabbitmqctl", "-q", "list_connections", "-p", vhost, "pid",
                             "client_properties"], capture_output=True, text=True, check=True,
                            timeout=30)
    closed = 0
    for line in listed.stdout.splitlines():
        pid, _, properties = line.partition("\t")
        if f'"{name}"' in properties or f"'{name}'" in properties:
            subprocess.run(["rabbitmqctl", "close_connection", pid, "test: the broker closes it"],
                           capture_output=True, check=True, timeout=30)
            closed += 1
    return closed


def test_amqp_subscriber_handles_in_order_skips_duplicates_and_resumes(
        amqp_uri, subscription_queue, platform_events, tmp_path):
    name, channel = subscription_queue
    first, later = platform_events[:4], platform_events[4:8]
    for event in first:
        _publish(channel, name, event)
    state = tmp_path / "position.json"
    process = Process(str(EXAMPLES / "amqp_subscriber.py"), "--url", amqp_uri, "--queue", name,
                      "--state", str(state), "--max-events", str(len(first) + len(later)))
    try:
        assert [process.line()["sequence"] for _ in first] == [e["sequence"] for e in first]
        _publish(channel, name, first[1])                                 # a redelivered duplicate
        process.wait_stderr('"reason": "duplicate"')
        channel.basic_publish("", name, b"not an event", pika.BasicProperties(
            content_type="text/plain", message_id="junk"))
        process.wait_stderr('"rejected": "junk"')
        process.no_line(within=0.3)

        vhost = amqp_uri.rsplit("/", 1)[1]
        assert _close_connections_named(vhost, "example-amqp-subscriber") == 1
        process.wait_stderr('"disconnected"')
        for event in later:
            _publish(channel, name, event)
        assert [process.line()["sequence"] for _ in later] == [e["sequence"] for e in later]
        assert process.popen.wait(TIMEOUT) == 0                           # --max-events reached
        assert json.loads(state.read_text()) == {first[0]["source"]: int(later[-1]["sequence"])}
        assert channel.queue_declare(name, passive=True).method.message_count == 0
    finally:
        process.stop()


@pytest.fixture
def relayed_app(fresh_schemas, amqp_uri):
    from tests.support import postgres_app
    application = postgres_app()
    yield application
    application.close()


def test_amqp_subscriber_consumes_what_the_real_relay_publishes(relayed_app, amqp_uri, subscription_queue):
    """The bus side of the contract end to end: events stored, published by shared.relay to the
    `social_assistance.events` exchange, routed by type to a queue bound as a subscription's is,
    consumed by the example; each printed event is the stored one, in order."""
    from shared.config import settings
    from shared.relay import Relay
    from tests.support import drive_year
    name, channel = subscription_queue
    channel.exchange_declare("social_assistance.events", "topic", durable=True)
    for event_type in ("CaseApproved", "CasePaid", "HouseholdRegistered"):
        channel.queue_bind(name, "social_assistance.events", event_type)
    drive_year(relayed_app, households=3)
    relay = Relay(relayed_app, settings(), batch_size=50)
    while relay.run_once():
        pass
    stored = [e for e in (contract.as_dict(c) for c in contract.to_cloudevents(
        relayed_app, relayed_app.recorder.select_notifications(start=1, limit=10_000)))
        if e["type"] in ("CaseApproved", "CasePaid", "HouseholdRegistered")]
    assert len(stored) >= 9
    process = Process(str(EXAMPLES / "amqp_subscriber.py"), "--url", amqp_uri, "--queue", name,
                      "--max-events", str(len(stored)))
    try:
        printed = [process.line() for _ in stored]
        assert [(p["sequence"], p["type"], p["id"], p["data"]) for p in printed] == \
            [(e["sequence"], e["type"], e["id"], e["data"]) for e in stored]
        assert process.popen.wait(TIMEOUT) == 0
    finally:
        process.stop()
