"""Tests of the webhook sink (services/subscriptions/webhooks.py): signatures checked by the
independent `standardwebhooks` package, the allow-list, the handshake and the HTTP outcomes
against real receivers on loopback."""
from __future__ import annotations

import ipaddress
import json
import socket
import time

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from services.subscriptions import webhooks
from services.subscriptions.sinks import DELIVERED, GONE, RETRY, THROTTLED
from shared.errors import InvalidInput
from tests.subscriptions.delivery_support import LOOPBACK, Receiver

EVENT = {"specversion": "1.0", "id": "4b3df8e3-b679-5715-8408-9c0ad8d22bfe", "type": "CaseApproved",
         "source": "urn:zhonglou-civil-affairs:social_assistance", "sequence": "00000000000000000017",
         "data": {"officer": "李*", "month": "2007-01"}}


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.stop()


def test_a_delivery_is_a_structured_cloudevent_signed_per_standard_webhooks(receiver):
    secret = webhooks.new_secret()
    sink = webhooks.HttpSink(receiver.url, [secret])
    assert sink.deliver(EVENT).kind == DELIVERED
    post = receiver.posts[0]
    assert post["headers"]["content-type"].startswith("application/cloudevents+json")
    assert post["headers"]["webhook-id"] == EVENT["id"]
    assert abs(int(post["headers"]["webhook-timestamp"]) - time.time()) < 5
    assert Webhook(secret).verify(post["body"], post["headers"]) == EVENT
    with pytest.raises(WebhookVerificationError):
        Webhook(webhooks.new_secret()).verify(post["body"], post["headers"])
    sink.close()


def test_during_a_rotation_both_secrets_verify_and_the_id_is_stable_across_retries(receiver):
    old, new = webhooks.new_secret(), webhooks.new_secret()
    sink = webhooks.HttpSink(receiver.url, [new, old])
    sink.deliver(EVENT)
    sink.deliver(EVENT)  # a retry of the same event
    first, again = receiver.posts
    assert len(first["headers"]["webhook-signature"].split(" ")) == 2
    for secret in (old, new):
        assert Webhook(secret).verify(first["body"], first["headers"]) == EVENT
    assert first["headers"]["webhook-id"] == again["headers"]["webhook-id"] == EVENT["id"]
    sink.close()


def test_a_tampered_body_does_not_verify(receiver):
    secret = webhooks.new_secret()
    webhooks.HttpSink(receiver.url, [secret]).deliver(EVENT)
    post = receiver.posts[0]
    tampered = json.dumps({**EVENT, "data": {"officer": "王*"}}).encode()
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(tampered, post["headers"])


@pytest.mark.parametrize("secrets", [[], ["whsec_a", "whsec_b", "whsec_c"]])
def test_one_or_two_secrets_only(secrets):
    with pytest.raises(InvalidInput) as error:
        webhooks.signature_header(secrets, "id", 1, b"{}")
    assert error.value.code in ("subscription.secret_count", "subscription.secret_format")


@pytest.mark.parametrize("secret", ["abc", "whsec_not base64!", "whsec_" + "QUFB"])
def test_a_malformed_secret_is_refused(secret):
    with pytest.raises(InvalidInput) as error:
        webhooks.sign(secret, "id", 1, b"{}")
    assert error.value.code == "subscription.secret_format"


@pytest.mark.parametrize("status, kind, reason", [
    (204, DELIVERED, ""), (500, RETRY, "server_error"), (503, RETRY, "server_error"),
    (400, RETRY, "client_error"), (410, GONE, "gone"), (429, THROTTLED, "throttled"),
    (302, RETRY, "redirect"),
])
def test_statuses_become_outcomes(status, kind, reason):
    target = Receiver()
    r = Receiver(answer=lambda n, e: (status, {"Location": target.url, "Retry-After": "7"}))
    try:
        outcome = webhooks.HttpSink(r.url, [webhooks.new_secret()]).deliver(EVENT)
        assert (outcome.kind, outcome.reason) == (kind, reason)
        if status == 429:
            assert outcome.retry_after == 7
        assert target.posts == []  # a redirect is never followed
    finally:
        r.stop()
        target.stop()


def test_no_receiver_is_a_connection_failure_and_a_slow_one_times_out():
    r = Receiver()
    url = r.url
    r.stop()
    assert webhooks.HttpSink(url, [webhooks.new_secret()]).deliver(EVENT).reason == "connection"
    slow = Receiver(delay=1.0)
    try:
        sink = webhooks.HttpSink(slow.url, [webhooks.new_secret()], read_timeout=0.2)
        started = time.monotonic()
        assert sink.deliver(EVENT).reason == "timeout"
        assert time.monotonic() - started < 0.6
    finally:
        slow.stop()


def test_a_receiver_closing_kept_alive_connections_costs_no_failed_attempt():
    r = Receiver(hang_up=True)
    try:
        sink = webhooks.HttpSink(r.url, [webhooks.new_secret()])
        assert [sink.deliver(EVENT).kind for _ in range(5)] == [DELIVERED] * 5
        assert len(r.posts) == 5
    finally:
        r.stop()


def test_retry_after_as_seconds_or_a_date_and_capped():
    assert webhooks.retry_after("3") == 3
    assert webhooks.retry_after("99999999") == webhooks.MAX_RETRY_AFTER
    assert 9 <= webhooks.retry_after("Wed, 02 Dec 2026 10:00:10 GMT", now=1796205600.0) <= 10
    assert webhooks.retry_after("soon") is None and webhooks.retry_after(None) is None


def test_handshake_granted_gives_the_allowed_rate():
    r = Receiver(rate="120")
    try:
        with webhooks.new_client() as client:
            assert webhooks.handshake(client, r.url, "zhonglou").rate == 120
        assert r.options[0]["WebHook-Request-Origin"] == "zhonglou"
    finally:
        r.stop()


def test_handshake_without_consent_headers_is_refused_even_with_200():
    r = Receiver(consent=False)
    try:
        with webhooks.new_client() as client, pytest.raises(webhooks.HandshakeRefused):
            webhooks.handshake(client, r.url, "zhonglou")
        assert len(r.options) == 1
    finally:
        r.stop()


@pytest.mark.parametrize("rate", ["0", "-3", "fast"])
def test_a_bad_allowed_rate_is_refused(rate):
    with pytest.raises(webhooks.HandshakeRefused):
        webhooks.parse_rate(rate)


def test_pacing_spaces_requests_to_the_allowed_rate():
    import threading
    pacer, stop = webhooks.Pacer(600), threading.Event()  # 10/s
    start = time.monotonic()
    for _ in range(4):
        pacer.wait(stop)
    assert 0.28 <= time.monotonic() - start < 1.0


def _resolver(*addresses):
    return lambda host, port, type=None: [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port)) for a in addresses]


def test_the_allow_list_refuses_private_and_loopback_addresses_unless_configured():
    for address in ("127.0.0.1", "10.1.2.3", "192.168.0.5", "169.254.169.254", "::1"):
        with pytest.raises(InvalidInput) as error:
            webhooks.check_sink("https://hook.example/x", (), _resolver(address))
        assert error.value.code == "subscription.sink_not_allowed"
    assert webhooks.check_sink("https://hook.example/x", (), _resolver("93.184.216.34")) == ["93.184.216.34"]
    assert webhooks.check_sink("http://127.0.0.1:9/x", (LOOPBACK,)) == ["127.0.0.1"]
    # one bad address among several is enough to refuse (DNS answering a public and a private one)
    with pytest.raises(InvalidInput):
        webhooks.check_sink("https://hook.example/x", (), _resolver("93.184.216.34", "10.0.0.1"))


@pytest.mark.parametrize("url, code", [
    ("ftp://hook.example/", "subscription.sink_scheme"), ("amqp://x/", "subscription.sink_scheme"),
    ("https://user:pw@hook.example/", "subscription.sink_host"), ("http:///path", "subscription.sink_host"),
    ("https://" + "a" * 2001, "subscription.sink_length"),
    ("https://no-such-host.invalid/", "subscription.sink_unresolvable"),
])
def test_bad_sink_urls_are_typed_errors(url, code):
    with pytest.raises(InvalidInput) as error:
        webhooks.check_sink(url, ())
    assert error.value.code == code and error.value.field == "sink"


def test_the_networks_come_from_the_environment():
    assert webhooks.allowed_networks({}) == ()
    assert webhooks.allowed_networks({webhooks.ALLOW_ENV: "127.0.0.0/8, 10.0.0.0/8"}) == (
        ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("10.0.0.0/8"))
    with pytest.raises(InvalidInput) as error:
        webhooks.allowed_networks({webhooks.ALLOW_ENV: "loopback"})
    assert error.value.code == "subscription.network_invalid"
