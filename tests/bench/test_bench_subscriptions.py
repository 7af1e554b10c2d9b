"""Unit tier: the subscriptions phase's parts that need no platform (bench/subscriptions.py): the
fast receiver on loopback (handshake consent, 200 on keep-alive, a stalled name never answering),
batches counted per event, the rates and lags computed from its records, and the targets
reading the phase's figures (the replay's best mode named, all three in the table)."""
from __future__ import annotations

import http.client
import json
import socket
import urllib.parse
from datetime import datetime, timezone

import pytest

from bench import report, subscriptions
from services.subscriptions import webhooks


@pytest.fixture
def receiver():
    running = subscriptions.Receiver()
    yield running
    running.close()


def event(sequence: int, made: float, event_id: str | None = None) -> bytes:
    return json.dumps({"id": event_id or f"e{sequence}", "sequence": f"{sequence:020d}",
                       "time": datetime.fromtimestamp(made, timezone.utc).isoformat()}).encode()


def test_the_receiver_consents_and_takes_posts_on_one_connection(receiver):
    with webhooks.new_client() as client:
        consent = webhooks.handshake(client, receiver.url("a"), "zhonglou-civil-affairs")
    assert consent.rate is None and receiver.handshakes == 1
    sink = webhooks.HttpSink(receiver.url("a"), [webhooks.new_secret()])
    outcomes = [sink.deliver({"id": f"e{i}", "sequence": f"{i:020d}"}).kind for i in (1, 2, 3)]
    connection = sink.connection
    sink.close()
    assert outcomes == ["delivered"] * 3 and connection is not None      # kept alive throughout
    assert [json.loads(body)["id"] for _t, body in receiver.received("a")] == ["e1", "e2", "e3"]
    assert receiver.last_sequence("a") == 3 and receiver.received("b") == []


def test_a_stalled_name_never_answers_and_the_others_still_do(receiver):
    receiver.stalled.add("stuck")
    stuck = webhooks.HttpSink(receiver.url("stuck"), [webhooks.new_secret()], read_timeout=0.5)
    assert stuck.deliver({"id": "x", "sequence": "1"}).reason == "timeout"
    assert webhooks.HttpSink(receiver.url("fine"), [webhooks.new_secret()]).deliver({"id": "y"}).delivered
    assert receiver.stalled_posts == {"stuck": 1} and receiver.received("stuck") == []


def test_a_malformed_request_closes_only_its_connection(receiver):
    parts = urllib.parse.urlsplit(receiver.url("a"))
    with socket.create_connection((parts.hostname, parts.port), timeout=5) as sock:
        sock.sendall(b"POST /hook/a HTTP/1.1\r\nContent-Length: 99999999999\r\n\r\n")
        assert sock.recv(100) == b""                                     # closed, no answer
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=5)
    connection.request("POST", "/hook/a", body=b"{}")
    assert connection.getresponse().status == 200


def test_window_rate_counts_from_the_first_arrival():
    arrivals = [100.0 + i * 0.001 for i in range(5001)]                # 1,000/s for 5 s
    rate = subscriptions.window_rate(arrivals, 2.0)
    assert rate["count"] == 2001 and rate["rate"] == pytest.approx(1000, rel=1e-6)
    assert subscriptions.window_rate(arrivals, 60)["count"] == 5001      # the backlog ran out first
    assert subscriptions.window_rate([1.0], 5)["rate"] is None


def test_lags_leave_out_the_warm_up_and_redeliveries():
    records = [(1010.5, event(1, 1000)), (1011.0, event(2, 1010)), (1012.0, event(3, 1011.5)),
               (1013.0, event(2, 1010))]                                 # e2 again: a redelivery
    assert subscriptions.lags(records, since=1005) == pytest.approx([1.0, 0.5])


def test_in_order_allows_a_redelivered_run_but_not_a_step_back_inside_it():
    assert subscriptions.in_order([(0, event(1, 0)), (0, event(2, 0)), (0, event(3, 0))])
    assert not subscriptions.in_order([(0, event(2, 0)), (0, event(1, 0))])


def test_the_targets_read_the_phase_figures():
    figures = {"subscriptions": subscriptions.headline({
        "throughput": {"deliveries_ps": 1500.0, "ceiling": {"webhook_posts_ps": 6000.0}},
        "replay": {"eps": 2500.0, "feed_eps": 9000.0, "mode": "webhook, batchsize 1"},
        "lag": {"lag_ms": {"p99": 400.0}}})}
    verdicts = {t.platform: report.evaluate(t, figures).verdict for t in report.TARGETS
                if t.platform.startswith("subscriptions.")}
    assert verdicts == {"subscriptions.deliveries_ps": "met", "subscriptions.replay_eps": "MISSED",
                        "subscriptions.lag_ms.p99": "met"}


def test_the_replay_target_reports_the_best_mode_by_name_and_the_table_keeps_all_three():
    from bench.run import subscription_rows
    result = {"replay": {"eps": 2300.0, "feed_eps": 9000.0, "mode": "webhook, batchsize 1"},
              "replay_batched": {"eps": 7000.0, "feed_eps": 9000.0, "mode": "webhook, batchsize 500"},
              "replay_amqp": {"eps": 6000.0, "feed_eps": 9000.0, "mode": "AMQP"}}
    figures = {"subscriptions": subscriptions.headline(result)}
    [target] = [t for t in report.TARGETS if t.platform == "subscriptions.replay_eps"]
    row = report.evaluate(target, figures)
    assert (row.platform, row.verdict) == (7000.0, "met") and "webhook, batchsize 500" in row.label
    rows = {r.label: r for r in subscription_rows(figures["subscriptions"]) if r.label.startswith("replay")}
    assert len(rows) == 3
    amqp = next(r for label, r in rows.items() if "AMQP" in label)
    assert (amqp.platform, amqp.baseline, amqp.verdict) == (6000.0, 9000.0, "met")
    assert amqp.ratio == pytest.approx(6000 / 9000)
    single = rows["replay events/s, webhook, batchsize 1 (vs the feed alone)"]
    assert single.verdict == "MISSED"


def test_a_batch_counts_each_event_and_its_last_sequence(receiver):
    sink = webhooks.HttpSink(receiver.url("b"), [webhooks.new_secret()])
    batch = [{"id": f"e{i}", "sequence": f"{i:020d}", "prevsequence": f"{i - 1:020d}"} for i in (1, 2, 3)]
    assert sink.deliver_many(batch).delivered and sink.deliver(batch[2]).delivered
    sink.close()
    assert receiver.events("b") == 4 and len(receiver.received("b")) == 2
    assert receiver.last_sequence("b") == 3
    assert subscriptions.in_order(receiver.received("b"))
    assert not subscriptions.in_order([(0, json.dumps([json.loads(event(2, 0)), json.loads(event(1, 0))]).encode())])


def test_lags_read_the_events_of_a_batch():
    records = [(1011.0, b"[" + event(1, 1010) + b"," + event(2, 1010.5) + b"]")]
    assert subscriptions.lags(records, since=0) == pytest.approx([1.0, 0.5])
