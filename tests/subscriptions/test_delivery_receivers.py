"""Integration tests of the delivery engine (services/subscriptions/delivery.py) with real HTTP
receivers on loopback and a real feed: a social assistance application's notification log served
by shared.feed.page over HTTP, as a domain service serves GET /events. The subscription store is
the in-memory stand-in of tests/subscriptions/delivery_support.py."""
from __future__ import annotations

import time

import pytest
from prometheus_client import REGISTRY
from standardwebhooks.webhooks import Webhook

from services.subscriptions.delivery import Settings, backoff
from shared.config import ConfigurationError
from tests.subscriptions.delivery_support import MemoryStore, engine_running, subscription, wait_until
from tests.support import member

FAST = Settings(poll_interval=0.02, page_limit=50, max_attempts=100, backoff_base=0.02, backoff_cap=0.2,
                suspend_after=1000, ack_interval=0.05, refresh_interval=0.05, handshake_interval=0.2)


def running(store, source, settings=FAST):
    return engine_running(store, source, settings)


def same(events):
    """Events without `prevsequence`: the feed sets it only within a page (the first event of a
    page read after N has none), so it depends on where a reader's pages begin; every other
    attribute and the data must be exactly what was stored. `chained` checks prevsequence."""
    return [{k: v for k, v in e.items() if k != "prevsequence"} for e in events]


def chained(events):
    return all(b.get("prevsequence", a["sequence"]) == a["sequence"] for a, b in zip(events, events[1:]))


def ids(events):
    return [e["id"] for e in events]


def sample(name, sid):
    return REGISTRY.get_sample_value(name, {"subscription": sid}) or 0


def test_replay_from_zero_then_live_equals_what_was_stored_in_order(source, receivers):
    r = receivers()
    store = MemoryStore(subscription("all", r.url))
    with running(store, source):
        stored = source.stored()
        assert wait_until(lambda: len(r.delivered()) == len(stored))
        with source.lock:
            source.app.register_household("beigang", "urban", [member("赵六")])
        assert wait_until(lambda: len(r.delivered()) == len(stored) + 1)
        time.sleep(0.2)  # nothing more arrives: no duplicate
    assert same(r.delivered()) == same(source.stored()) and chained(r.delivered())
    assert store.subscriptions["all"]["position"] == int(source.stored()[-1]["sequence"])
    assert sample("subscription_deliveries_total", "all") == len(stored) + 1
    assert sample("subscription_lag_events", "all") == 0


def test_replay_from_the_middle_of_a_source_equals_what_was_stored_after_it(source, receivers):
    r = receivers()
    stored = source.stored()
    middle = int(stored[len(stored) // 2]["sequence"])
    store = MemoryStore(subscription("middle", r.url, position=middle))
    with running(store, source):
        assert wait_until(lambda: len(r.delivered()) == len(stored) - len(stored) // 2 - 1)
        time.sleep(0.2)
    assert same(r.delivered()) == same([e for e in stored if int(e["sequence"]) > middle])
    assert all(p["headers"]["webhook-id"] == p["event"]["id"] for p in r.posts)


def test_receiver_down_then_back_loses_nothing_and_keeps_the_order(source, receivers):
    r = receivers()
    port = r.url.split(":")[2].split("/")[0]
    r.stop()
    store = MemoryStore(subscription("down", r.url))
    with running(store, source):
        time.sleep(1.0)  # the engine tries and fails meanwhile
        assert sample("subscription_delivery_failures_total", "down") == 0  # labelled by reason
        assert REGISTRY.get_sample_value("subscription_delivery_failures_total",
                                         {"subscription": "down", "reason": "connection"}) >= 3
        back = receivers(port=int(port))
        assert wait_until(lambda: len(back.delivered()) == len(source.stored()))
    assert same(back.delivered()) == same(source.stored()) and chained(back.delivered())
    assert store.dead == [] and store.suspensions == []


def test_500s_then_ok_retries_the_same_event_with_the_same_webhook_id(source, receivers):
    r = receivers(answer=lambda n, e: (500, {}) if n <= 3 else (200, {}))
    store = MemoryStore(subscription("flaky", r.url))
    with running(store, source):
        assert wait_until(lambda: len(r.delivered()) == len(source.stored()))
    assert same(r.delivered()) == same(source.stored()) and chained(r.delivered())
    assert len({p["headers"]["webhook-id"] for p in r.posts[:4]}) == 1
    assert REGISTRY.get_sample_value("subscription_delivery_failures_total",
                                     {"subscription": "flaky", "reason": "server_error"}) == 3


def test_429_waits_for_retry_after(source, receivers):
    r = receivers(answer=lambda n, e: (429, {"Retry-After": "1"}) if n == 2 else (200, {}))
    store = MemoryStore(subscription("throttled", r.url))
    with running(store, source):
        assert wait_until(lambda: len(r.delivered()) == len(source.stored()))
    assert r.posts[2]["at"] - r.posts[1]["at"] >= 0.95
    assert r.posts[1]["event"] == r.posts[2]["event"]
    assert same(r.delivered()) == same(source.stored()) and store.suspensions == []


def test_410_suspends_and_keeps_the_position_of_the_last_delivered_event(source, receivers):
    r = receivers(answer=lambda n, e: (410, {}) if n == 3 else (200, {}))
    store = MemoryStore(subscription("gone", r.url))
    with running(store, source):
        assert wait_until(lambda: store.state("gone") == "suspended")
        time.sleep(0.2)
    assert len(r.posts) == 3  # nothing after the 410
    assert "410" in store.suspensions[0][1]
    assert store.subscriptions["gone"]["position"] == int(r.posts[1]["event"]["sequence"])
    assert REGISTRY.get_sample_value("subscription_suspended", {"subscription": "gone"}) == 1
    assert REGISTRY.get_sample_value("subscription_state", {"subscription": "gone", "state": "suspended"}) == 1


def test_after_the_retry_budget_an_event_is_dead_lettered_and_the_others_go_on(source, receivers):
    stored = source.stored()
    poison = stored[4]["id"]
    r = receivers(answer=lambda n, e: (500, {}) if e["id"] == poison else (200, {}))
    store = MemoryStore(subscription("budget", r.url))
    settings = Settings(**{**FAST.__dict__, "max_attempts": 3})
    with running(store, source, settings):
        assert wait_until(lambda: len(r.delivered()) == len(stored) - 1)
    assert [p["event"]["id"] for p in r.posts].count(poison) == 3
    assert same(r.delivered()) == same([e for e in stored if e["id"] != poison])
    [(sid, event, reason)] = store.dead
    assert (sid, event["id"]) == ("budget", poison) and "500" in reason
    assert sample("subscription_dead_letters_total", "budget") == 1


def test_n_consecutive_failures_suspend_the_subscription(source, receivers):
    r = receivers(answer=lambda n, e: (503, {}))
    store = MemoryStore(subscription("dead", r.url))
    settings = Settings(**{**FAST.__dict__, "max_attempts": 10, "suspend_after": 4})
    with running(store, source, settings):
        assert wait_until(lambda: store.state("dead") == "suspended")
        time.sleep(0.2)
    assert len(r.posts) == 4 and store.dead == []
    assert "4 consecutive failed deliveries" in store.suspensions[0][1]
    assert store.subscriptions["dead"]["position"] == 0  # a resume starts with the event that failed


def test_resumed_after_suspension_continues_with_the_event_that_failed(source, receivers):
    failing = {"on": True}
    r = receivers(answer=lambda n, e: (503, {}) if failing["on"] else (200, {}))
    store = MemoryStore(subscription("resume", r.url))
    settings = Settings(**{**FAST.__dict__, "suspend_after": 3})
    with running(store, source, settings):
        assert wait_until(lambda: store.state("resume") == "suspended")
        failing["on"] = False
        store.resume("resume")
        assert wait_until(lambda: len(r.delivered()) == len(source.stored()))
    assert same(r.delivered()) == same(source.stored()) and chained(r.delivered())


def test_a_replay_while_caught_up_delivers_again_from_the_position_asked(source, receivers):
    r = receivers()
    store = MemoryStore(subscription("again", r.url))
    stored = source.stored()
    with running(store, source):
        assert wait_until(lambda: len(r.delivered()) == len(stored))
        time.sleep(0.2)
        store.replay("again", int(stored[9]["sequence"]))
        assert wait_until(lambda: len(r.delivered()) == 2 * len(stored) - 10)
        time.sleep(0.2)
    assert same(r.delivered()) == same(stored + stored[10:])


def test_a_replay_during_delivery_is_not_overwritten_by_the_worker(source, receivers):
    r = receivers(delay=0.02)  # about 50 a second: the replay lands mid-stream
    store = MemoryStore(subscription("mid", r.url))
    stored = source.stored()
    with running(store, source):
        assert wait_until(lambda: len(r.delivered()) >= 20)
        store.replay("mid", 0)
        assert wait_until(lambda: r.delivered()[-1:] == stored[-1:] and len(r.delivered()) > len(stored))
        time.sleep(0.2)
    seen = ids(r.delivered())
    restart = max(i for i, v in enumerate(seen) if v == stored[0]["id"])
    assert restart >= 20 and seen[restart:] == ids(stored)  # from the start again, then everything


def test_handshake_refused_delivers_nothing_and_the_state_stays_created(source, receivers):
    r = receivers(consent=False)
    store = MemoryStore(subscription("no", r.url, state="created"))
    refused = {"subscription": "no", "outcome": "refused"}
    with running(store, source):
        assert wait_until(lambda: len(r.options) >= 2)  # asked again later
        assert wait_until(lambda: (REGISTRY.get_sample_value("subscription_handshakes_total", refused) or 0) >= 2)
    assert r.posts == [] and store.state("no") == "created"


def test_handshake_granted_activates_and_delivery_honours_the_allowed_rate(source, receivers):
    r = receivers(rate="600")  # 10 per second
    store = MemoryStore(subscription("yes", r.url, state="created", types=["CaseApproved", "CasePaid"]))
    with running(store, source):
        assert wait_until(lambda: store.state("yes") == "active")
        expected = [e for e in source.stored() if e["type"] in ("CaseApproved", "CasePaid")]
        assert wait_until(lambda: len(r.delivered()) == len(expected))
    assert store.subscriptions["yes"]["allowed_rate"] == 600
    assert same(r.delivered()) == same(expected)
    gaps = [b["at"] - a["at"] for a, b in zip(r.posts, r.posts[1:])]
    # request starts are 100 ms apart; arrivals carry the connection's noise, so: the span over
    # the whole run, and no two requests closer than half the interval
    assert r.posts[-1]["at"] - r.posts[0]["at"] >= 0.9 * 0.1 * (len(r.posts) - 1)
    assert min(gaps) >= 0.05
    assert r.options[0]["WebHook-Request-Origin"] == FAST.origin


def test_a_receiver_slow_to_answer_the_handshake_delays_no_other(source, receivers):
    slow, quick = receivers(options_delay=3.0), receivers()
    store = MemoryStore(subscription("slow", slow.url, state="created"),
                        subscription("quick", quick.url, state="created"))
    started = time.monotonic()
    with running(store, source):
        assert wait_until(lambda: len(quick.delivered()) == len(source.stored()), timeout=10)
        assert time.monotonic() - started < 2.0
        assert store.state("slow") == "created"


def test_signatures_verify_with_standardwebhooks_and_rotation_keeps_both_valid(source, receivers):
    r = receivers()
    old, new = subscription("x", "")["secrets"][0], subscription("y", "")["secrets"][0]
    store = MemoryStore(subscription("signed", r.url, secrets=[old]))
    with running(store, source) as engine:
        assert wait_until(lambda: len(r.delivered()) == len(source.stored()))
        with store._lock:
            store.subscriptions["signed"]["secrets"] = [new, old]  # a rotation: the worker restarts
        assert wait_until(lambda: "signed" in engine.workers
                          and engine.workers["signed"].subscription["secrets"] == [new, old])
        with source.lock:
            source.app.register_household("xilin", "rural", [member("钱七")])
        assert wait_until(lambda: len(r.delivered()) == len(source.stored()))
    for post in r.posts[:-1]:
        assert Webhook(old).verify(post["body"], post["headers"]) == post["event"]
    last = r.posts[-1]
    assert Webhook(new).verify(last["body"], last["headers"]) == Webhook(old).verify(last["body"], last["headers"])


def test_reduced_scope_reaches_a_statistics_subscriber(source, receivers):
    r = receivers()
    store = MemoryStore(subscription("stats", r.url, legal_basis="statistics", types=["HouseholdRegistered"]))
    with running(store, source):
        assert wait_until(lambda: len(r.delivered()) == 2)
        head = int(source.stored()[-1]["sequence"])
        assert wait_until(lambda: store.subscriptions["stats"]["position"] == head)  # filtered ones passed
    for event in r.delivered():
        assert all(m["name"].endswith("*") and "monthly_income" not in m for m in event["data"]["members"])
    # each delivery of personal data is recorded with the acknowledgement: which record, which scope
    records = [d for sid, d in store.deliveries if sid == "stats"]
    assert [(d["id"], d["subject"], d["scope"]) for d in records] == \
        [(e["id"], e["subject"], "reduced") for e in r.delivered()]
    assert set(records[0]) == {"id", "type", "subject", "sequence", "scope", "at"}  # no content


def test_a_stalled_receiver_does_not_delay_the_others(source, receivers):
    stalled = receivers(delay=3.0)
    fast = [receivers(), receivers()]
    store = MemoryStore(subscription("stalled", stalled.url),
                        *[subscription(f"fast{i}", r.url) for i, r in enumerate(fast)])
    with running(store, source):
        assert all(wait_until(lambda r=r: len(r.delivered()) == len(source.stored())) for r in fast)
        for i in range(20):  # live: 20 events over about two seconds
            with source.lock:
                source.app.register_household("yonghong", "urban", [member(f"孙{i}")])
            time.sleep(0.1)
        assert all(wait_until(lambda r=r: len(r.delivered()) == len(source.stored())) for r in fast)
        time.sleep(0.1)
        # the lag metrics say who is behind: the stalled one, by events and by seconds
        assert sample("subscription_lag_events", "stalled") > 20 and sample("subscription_lag_seconds", "stalled") > 1
        assert all(sample("subscription_lag_events", f"fast{i}") == 0 for i in range(2))
    stored_at = {e["id"]: _timestamp(e["time"]) for e in source.stored()}
    for r in fast:
        live = r.posts[-20:]
        lags = [p["at"] - stored_at[p["event"]["id"]] for p in live]
        assert max(lags) < 1.0, lags
    assert len(stalled.posts) < 5


def test_a_restart_mid_stream_delivers_everything_at_least_once_in_order(source, receivers):
    r = receivers(delay=0.01)
    store = MemoryStore(subscription("restart", r.url))
    settings = Settings(**{**FAST.__dict__, "ack_interval": 0.0})
    with running(store, source, settings):
        assert wait_until(lambda: len(r.delivered()) >= 20)
    first = len(r.posts)
    with running(store, source, settings):
        assert wait_until(lambda: r.delivered()[-1:] == source.stored()[-1:])
    seen = ids(r.delivered())
    assert list(dict.fromkeys(seen)) == ids(source.stored())  # every event, in order
    assert len(seen) - len(set(seen)) <= 1  # at most the one in flight when it stopped
    assert 20 <= first < len(source.stored())


def test_backoff_is_exponential_with_full_jitter_and_capped():
    settings = Settings(backoff_base=0.5, backoff_cap=30)
    assert [backoff(n, settings, lambda lo, hi: hi) for n in (1, 2, 3, 4, 10)] == [0.5, 1, 2, 4, 30]
    assert backoff(3, settings, lambda lo, hi: lo) == 0


def test_settings_from_the_environment_are_bounded():
    assert Settings.from_env({"SUBSCRIPTIONS_MAX_ATTEMPTS": "5"}).max_attempts == 5
    for name, value in (("PAGE_LIMIT", "5000"), ("MAX_ATTEMPTS", "0"), ("BACKOFF_CAP", "soon")):
        with pytest.raises(ConfigurationError, match=f"SUBSCRIPTIONS_{name}"):
            Settings.from_env({f"SUBSCRIPTIONS_{name}": value})


def _timestamp(text):
    from datetime import datetime
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
