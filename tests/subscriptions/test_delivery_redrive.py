"""Integration tests of the delivery engine's re-drive of dead letters (services/subscriptions/
delivery.py, Worker._redrive) with real HTTP receivers on loopback and a real feed; the store is
the in-memory stand-in of tests/subscriptions/delivery_support.py (its `redrive` is what an
operator's `redrive_subscription` does, its `redriven` what the application does on the report)."""
from __future__ import annotations

from services.subscriptions.delivery import Settings
from tests.subscriptions.delivery_support import MemoryStore, engine_running, subscription, wait_until
from tests.support import member

FAST = Settings(poll_interval=0.02, max_attempts=3, backoff_base=0.02, backoff_cap=0.1, suspend_after=1000,
                ack_interval=0.05, refresh_interval=0.05, handshake_interval=0.2)


def running(store, source, settings=FAST):
    return engine_running(store, source, settings)


def dead_lettered(source, receivers, poison_index=4):
    """A subscription caught up with one dead letter (the receiver refused one event 3 times);
    `failing["on"]` decides whether the receiver still refuses it."""
    stored = source.stored()
    poison = stored[poison_index]
    failing = {"on": True}
    r = receivers(answer=lambda n, e: (500, {}) if failing["on"] and e["id"] == poison["id"] else (200, {}))
    store = MemoryStore(subscription("redrive", r.url))
    return store, r, poison, failing


def past(store, poison) -> bool:
    """The position acknowledged is past the poison event: a worker restarted for the re-drive
    does not meet it again in the live stream (at least once would deliver it again)."""
    return int(store.subscriptions["redrive"].get("position") or 0) >= int(poison["sequence"])


def test_a_redriven_dead_letter_is_delivered_again_with_the_same_webhook_id_and_removed(source, receivers):
    store, r, poison, failing = dead_lettered(source, receivers)
    stored = source.stored()
    with running(store, source) as engine:
        assert wait_until(lambda: len(r.delivered()) == len(stored) - 1 and len(store.dead) == 1)
        assert wait_until(lambda: past(store, poison))
        failed_ids = {p["headers"]["webhook-id"] for p in r.posts if p["status"] == 500}
        failing["on"] = False
        store.redrive("redrive", [int(poison["sequence"])])
        assert wait_until(lambda: store.dead == [] and len(r.delivered()) == len(stored))
        assert wait_until(lambda: engine.workers["redrive"].subscription.get("redrive") == [])
        with source.lock:   # and live delivery goes on after it
            source.app.register_household("beigang", "urban", [member("赵六")])
        assert wait_until(lambda: len(r.delivered()) == len(stored) + 1)
    again = r.posts[-2]
    assert again["event"]["id"] == poison["id"] and again["status"] == 200
    assert failed_ids == {again["headers"]["webhook-id"]} == {poison["id"]}
    assert store.redriven_calls == [("redrive", [int(poison["sequence"])])]
    assert [d["id"] for d in store.redriven_deliveries] == [poison["id"]]   # the disclosure, recorded
    assert store.subscriptions["redrive"]["redrive"] == []
    assert [p["event"]["id"] for p in r.posts].count(poison["id"]) == 3 + 1   # the budget, then once


def test_a_redrive_that_fails_again_is_dead_lettered_anew_and_a_missing_event_dropped(source, receivers, caplog):
    store, r, poison, failing = dead_lettered(source, receivers)
    stored = source.stored()
    missing = int(stored[-1]["sequence"]) + 100          # not in the feed
    with running(store, source):
        assert wait_until(lambda: len(store.dead) == 1 and past(store, poison))
        store.redrive("redrive", [int(poison["sequence"]), missing])
        assert wait_until(lambda: store.redriven_calls != [] and len(store.dead) == 1)
        assert wait_until(lambda: store.subscriptions["redrive"]["redrive"] == [])
    assert store.redriven_calls == [("redrive", [int(poison["sequence"]), missing])]
    assert store.redriven_deliveries == []                  # nothing was disclosed
    [(sid, event, reason)] = store.dead
    assert (sid, event["id"]) == ("redrive", poison["id"]) and "500" in reason
    assert [p["event"]["id"] for p in r.posts].count(poison["id"]) == 3 + 3   # a whole budget again
    assert any(f"re-drive of {missing}" in m for m in caplog.messages)


def test_a_redrive_asked_of_a_suspended_subscription_waits_for_the_resume(source, receivers):
    r = receivers(answer=lambda n, e: (503, {}))
    store = MemoryStore(subscription("later", r.url))
    stored = source.stored()
    with running(store, source, Settings(**{**FAST.__dict__, "suspend_after": 2})):
        assert wait_until(lambda: store.state("later") == "suspended")
        posts = len(r.posts)
        store.redrive("later", [int(stored[0]["sequence"])])
        assert not wait_until(lambda: len(r.posts) > posts, timeout=0.5)
    assert store.redriven_calls == [] and store.subscriptions["later"]["redrive"] == [int(stored[0]["sequence"])]
