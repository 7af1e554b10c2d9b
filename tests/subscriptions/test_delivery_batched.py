"""Integration tests of batched webhook delivery (services/subscriptions/delivery.py with
webhooks.HttpSink.deliver_many): a subscription with `protocolsettings.batchsize` N > 1 gets the
CloudEvents HTTP binding's batched mode — one signed request per run of at most N wanted events —
retried as a unit, with a fall-back to one event at a time after the retry budget. Real receivers
and a real feed on loopback (tests/subscriptions/delivery_support.py)."""
from __future__ import annotations

import json

from prometheus_client import REGISTRY
from standardwebhooks.webhooks import Webhook

from services.subscriptions.delivery import Settings, runs
from tests.subscriptions.delivery_support import MemoryStore, engine_running, subscription, wait_until

FAST = Settings(poll_interval=0.02, page_limit=50, max_attempts=100, backoff_base=0.02, backoff_cap=0.2,
                suspend_after=1000, ack_interval=0.05, refresh_interval=0.05, handshake_interval=0.2)
BATCH_TYPE = "application/cloudevents-batch+json"
SINGLE_TYPE = "application/cloudevents+json"


def running(store, source, settings=FAST):
    return engine_running(store, source, settings)


def batched(sid, url, size, **overrides):
    return subscription(sid, url, protocolsettings={"batchsize": size}, **overrides)


def same(events):
    """Without `prevsequence` (set by the feed only within a page)."""
    return [{k: v for k, v in e.items() if k != "prevsequence"} for e in events]


def kind(post) -> str:
    return post["headers"]["content-type"].split(";")[0]


def holds(post, event_id) -> bool:
    return any(e["id"] == event_id for e in post["events"])


def test_batches_of_at_most_n_arrive_in_order_signed_over_the_whole_body(source, receivers):
    r = receivers()
    store = MemoryStore(batched("batched", r.url, 4))
    settings = Settings(**{**FAST.__dict__, "page_limit": 10})  # runs end at page boundaries too
    with running(store, source, settings):
        stored = source.stored()
        assert wait_until(lambda: len(r.delivered()) == len(stored))
        assert wait_until(lambda: store.subscriptions["batched"]["position"] == int(stored[-1]["sequence"]))
    assert same(r.delivered()) == same(stored)
    assert all(kind(p) == BATCH_TYPE and isinstance(p["event"], list) for p in r.posts)
    assert [len(p["events"]) for p in r.posts] == [4, 4, 2] * 3 + [4]  # 34 events in pages of 10
    secret = store.subscriptions["batched"]["secrets"][0]
    for post in r.posts:
        assert Webhook(secret).verify(post["body"], post["headers"]) == post["events"]
        assert post["headers"]["webhook-id"] == f"batch_{post['events'][0]['id']}_{post['events'][-1]['id']}"
    # every event delivered is recorded, as for single deliveries
    assert [d["id"] for sid, d in store.deliveries] == [e["id"] for e in stored]
    assert REGISTRY.get_sample_value("subscription_deliveries_total", {"subscription": "batched"}) == len(stored)


def test_a_batch_holds_only_the_wanted_events(source, receivers):
    r = receivers()
    wanted = ("CasePaid", "EnrolmentCreated", "EnrolmentEnrolled")
    store = MemoryStore(batched("picky", r.url, 3, types=list(wanted), legal_basis="statistics"))
    with running(store, source):
        expected = [e for e in source.stored() if e["type"] in wanted]
        assert wait_until(lambda: len(r.delivered()) == len(expected))
        head = int(source.stored()[-1]["sequence"])
        assert wait_until(lambda: store.subscriptions["picky"]["position"] == head)  # the others passed
    assert [e["id"] for e in r.delivered()] == [e["id"] for e in expected]
    assert all(1 <= len(p["events"]) <= 3 for p in r.posts) and len(r.posts) == 4  # 12 wanted
    assert all(d["scope"] == "reduced" for _, d in store.deliveries)


def test_batchsize_1_is_structured_mode(source, receivers):
    r = receivers()
    store = MemoryStore(batched("single", r.url, 1))
    with running(store, source):
        assert wait_until(lambda: len(r.delivered()) == len(source.stored()))
    assert all(kind(p) == SINGLE_TYPE and isinstance(p["event"], dict) for p in r.posts)
    assert [p["headers"]["webhook-id"] for p in r.posts] == [e["id"] for e in source.stored()]


def test_a_retried_batch_keeps_its_webhook_id_and_body_with_a_fresh_signature(source, receivers):
    r = receivers(answer=lambda n, events: (500, {}) if n <= 3 else (200, {}))
    store = MemoryStore(batched("retried", r.url, 10))
    with running(store, source):
        assert wait_until(lambda: len(r.delivered()) == len(source.stored()))
    first = r.posts[:4]
    assert len({p["headers"]["webhook-id"] for p in first}) == 1
    assert len({p["body"] for p in first}) == 1 and len(first[0]["events"]) == 10
    secret = store.subscriptions["retried"]["secrets"][0]
    assert all(Webhook(secret).verify(p["body"], p["headers"]) == p["events"] for p in first)
    assert same(r.delivered()) == same(source.stored()) and store.dead == []
    assert all(kind(p) == BATCH_TYPE for p in r.posts)  # no fall-back: the budget was not spent
    assert REGISTRY.get_sample_value("subscription_delivery_failures_total",
                                     {"subscription": "retried", "reason": "server_error"}) == 3


def test_a_poison_event_is_dead_lettered_alone_after_its_batch_falls_back(source, receivers):
    stored = source.stored()
    poison = stored[5]["id"]
    r = receivers(answer=lambda n, events: (500, {}) if any(e["id"] == poison for e in
                                                            (events if isinstance(events, list) else [events]))
                  else (200, {}))
    store = MemoryStore(batched("poison", r.url, 4))
    settings = Settings(**{**FAST.__dict__, "max_attempts": 3})
    with running(store, source, settings):
        assert wait_until(lambda: len(r.delivered()) == len(stored) - 1)
        assert wait_until(lambda: store.subscriptions["poison"]["position"] == int(stored[-1]["sequence"]))
    # the batch of events 4..7 tried three times, then each of its events alone (the poison three times)
    tries = [p for p in r.posts if holds(p, poison)]
    assert [kind(p) for p in tries] == [BATCH_TYPE] * 3 + [SINGLE_TYPE] * 3
    alone = [p for p in r.posts if kind(p) == SINGLE_TYPE]
    assert [p["event"]["id"] for p in alone if p["event"]["id"] != poison] == [e["id"] for e in stored[4:8]
                                                                               if e["id"] != poison]
    assert [e["id"] for e in r.delivered()] == [e["id"] for e in stored if e["id"] != poison]  # in order
    [(sid, event, reason)] = store.dead
    assert (sid, event["id"]) == ("poison", poison) and "500" in reason
    assert REGISTRY.get_sample_value("subscription_dead_letters_total", {"subscription": "poison"}) == 1
    # the disclosures are those of the events delivered, once each
    assert [d["id"] for _, d in store.deliveries] == [e["id"] for e in stored if e["id"] != poison]


def test_429_on_a_batch_waits_for_retry_after_and_sends_the_same_batch(source, receivers):
    r = receivers(answer=lambda n, events: (429, {"Retry-After": "1"}) if n == 2 else (200, {}))
    store = MemoryStore(batched("throttled", r.url, 5))
    with running(store, source):
        assert wait_until(lambda: len(r.delivered()) == len(source.stored()))
    assert r.posts[2]["at"] - r.posts[1]["at"] >= 0.95
    assert r.posts[1]["headers"]["webhook-id"] == r.posts[2]["headers"]["webhook-id"]
    assert r.posts[1]["body"] == r.posts[2]["body"]
    assert same(r.delivered()) == same(source.stored()) and store.suspensions == [] and store.dead == []


def test_410_on_a_batch_suspends_at_the_last_delivered_batch(source, receivers):
    r = receivers(answer=lambda n, events: (410, {}) if n == 3 else (200, {}))
    store = MemoryStore(batched("gone", r.url, 5))
    with running(store, source):
        assert wait_until(lambda: store.state("gone") == "suspended")
        assert wait_until(lambda: store.subscriptions["gone"]["position"] == int(r.posts[1]["events"][-1]["sequence"]))
    assert len(r.posts) == 3 and "410" in store.suspensions[0][1]  # nothing after the 410, no fall-back
    assert store.dead == []


def test_consecutive_failed_batches_suspend_the_subscription(source, receivers):
    r = receivers(answer=lambda n, events: (503, {}))
    store = MemoryStore(batched("dead", r.url, 10))
    settings = Settings(**{**FAST.__dict__, "max_attempts": 10, "suspend_after": 4})
    with running(store, source, settings):
        assert wait_until(lambda: store.state("dead") == "suspended")
    assert len(r.posts) == 4 and all(kind(p) == BATCH_TYPE for p in r.posts)
    assert "4 consecutive failed deliveries" in store.suspensions[0][1]
    assert store.subscriptions["dead"]["position"] == 0 and store.dead == []


def test_the_allowed_rate_counts_requests_not_events(source, receivers):
    r = receivers(rate="600")  # 10 requests a second
    store = MemoryStore(batched("paced", r.url, 10, state="created"))
    with running(store, source):
        assert wait_until(lambda: len(r.delivered()) == len(source.stored()))
    assert [len(p["events"]) for p in r.posts] == [10, 10, 10, 4]
    gaps = [b["at"] - a["at"] for a, b in zip(r.posts, r.posts[1:])]
    assert min(gaps) >= 0.05 and max(gaps) < 0.5  # paced per request; 34 events per event would take 3.3 s


def test_runs_cut_a_page_at_the_nth_chosen_event():
    events = [{"n": i, "want": i % 3 != 0} for i in range(10)]  # chosen: 1 2 4 5 7 8
    cut = list(runs(events, 2, lambda e: e["want"]))
    assert [[e["n"] for e in run] for run in cut] == [[0, 1, 2], [3, 4, 5], [6, 7, 8], [9]]
    assert list(runs([], 5, lambda e: True)) == []


def test_the_batch_body_is_a_json_array_of_structured_events(source, receivers):
    r = receivers()
    store = MemoryStore(batched("array", r.url, 1000))
    with running(store, source):
        assert wait_until(lambda: len(r.delivered()) == len(source.stored()))
    [post] = r.posts  # the whole page in one request
    assert json.loads(post["body"]) == post["events"] and post["events"][0]["specversion"] == "1.0"
