"""The consumer retries a batch its read model could not apply, and says why in the log."""
import logging

import psycopg

from prometheus_client import REGISTRY

from shared.consumer import EventConsumer


def store_errors() -> float:
    return REGISTRY.get_sample_value("projection_errors_total", {"kind": "store"}) or 0.0


def test_a_batch_the_store_refused_is_retried_and_the_failure_logged(caplog):
    calls = []

    def apply_batch(source, events, fetch_missing=None):
        calls.append(len(events))
        if len(calls) == 1:
            raise psycopg.OperationalError("server closed the connection")
        return len(events)

    consumer = EventConsumer("amqp://unused", "q", {}, apply_batch, lambda source: 0)
    consumer.stopping.wait = lambda seconds: False  # no back-off sleep in a unit test
    before = store_errors()
    with caplog.at_level(logging.ERROR, logger="consumer"):
        consumer._apply_with_retry("social_assistance", [{"sequence": "7"}])
    assert calls == [1, 1]
    assert store_errors() == before + 1
    assert "OperationalError: server closed the connection" in caplog.text
    assert "PostgreSQL at POSTGRES_HOST" in caplog.text


# --- permanent failures: bounded attempts, then the bad event is skipped and dead-lettered ------

import decimal  # noqa: E402
import json  # noqa: E402
import urllib.error  # noqa: E402

import pytest  # noqa: E402
from eventsourcing import persistence  # noqa: E402
from psycopg import errors  # noqa: E402

from shared.consumer import FeedUnavailable, FeedClient, is_permanent  # noqa: E402


def wrapped(error):
    """As eventsourcing's datastore raises psycopg's errors: its own class, `from` the original."""
    outer = getattr(persistence, type(error).__mro__[1].__name__, persistence.PersistenceError)("wrapped")
    outer.__cause__ = error
    return outer


@pytest.mark.parametrize("error", [
    psycopg.OperationalError("server closed the connection unexpectedly"),
    psycopg.InterfaceError("the connection is closed"),
    errors.AdminShutdown("terminating connection due to administrator command"),
    errors.CannotConnectNow("the database system is starting up"),
    errors.ConnectionFailure("connection failure"),
    errors.DiskFull("no space left"),
    errors.SerializationFailure("could not serialize"),
    errors.DeadlockDetected("deadlock detected"),
    errors.QueryCanceled("statement timeout"),
    errors.LockNotAvailable("lock timeout"),
    __import__("psycopg_pool").PoolTimeout("couldn't get a connection after 30 sec"),
    urllib.error.URLError("connection refused"), TimeoutError("timed out"), OSError("unreachable"),
    FeedUnavailable("welfare", ValueError("Expecting value: line 1 column 1")),
    RuntimeError("nobody classified this"),
])
def test_transient_failures_are_retried_not_skipped(error):
    assert not is_permanent(error)
    if isinstance(error, psycopg.Error):
        assert not is_permanent(wrapped(error))


@pytest.mark.parametrize("error", [
    errors.NumericValueOutOfRange("integer out of range"), errors.InvalidDatetimeFormat("bad date"),
    errors.UniqueViolation("duplicate key"), errors.NotNullViolation("null value"),
    errors.UndefinedColumn("column does not exist"), errors.ProgramLimitExceeded("index row too big"),
    psycopg.DataError("PostgreSQL text fields cannot contain NUL (0x00) bytes"),
    KeyError("beds"), TypeError("unsupported operand"), ValueError("invalid literal"),
    decimal.InvalidOperation(), ZeroDivisionError(),
])
def test_permanent_failures_are_recognised_also_through_eventsourcing_wrappers(error):
    assert is_permanent(error)
    if isinstance(error, psycopg.Error):
        assert is_permanent(wrapped(error))


class FakeMessage:
    def __init__(self, source: str, sequence: int, type_: str = "InstitutionRegistered"):
        self.event = {"id": f"{source}-{sequence}", "type": type_, "source": f"urn:x:{source}",
                      "sequence": str(sequence).zfill(20), "data": {}}
        self.body = json.dumps(self.event).encode()
        self.headers = {}
        self.delivery_info = {"exchange": f"{source}.events", "routing_key": type_}
        self.content_type, self.content_encoding = "application/cloudevents+json", None
        self.acked = []

    def ack(self, multiple=False):
        self.acked.append(multiple)


class FakeProducer:
    def __init__(self):
        self.published = []

    def publish(self, body, **kwargs):
        self.published.append((body, kwargs))


def consumer_with(apply_batch, sources=("social_assistance", "welfare"), **kwargs):
    consumer = EventConsumer("amqp://unused", "q", {s: FeedClient(f"http://{s}.invalid") for s in sources},
                             apply_batch, lambda source: 0, **kwargs)
    consumer.stopping.wait = lambda seconds: False
    consumer._producer = FakeProducer()
    consumer._parse = lambda message: (message.delivery_info["exchange"].split(".")[0], message.event)
    return consumer


def sample(name, **labels):
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_a_permanent_failure_is_tried_a_bounded_number_of_times_then_the_bad_event_is_skipped():
    calls = []

    def apply_batch(source, events, fetch_missing=None, on_skip=None):
        calls.append((source, on_skip is not None))
        if source == "welfare" and on_skip is None:
            raise wrapped(errors.NumericValueOutOfRange("integer out of range"))
        if on_skip is not None:
            on_skip(events[1], errors.NumericValueOutOfRange("integer out of range"))
            return len(events) - 1
        return len(events)

    consumer = consumer_with(apply_batch, apply_attempts=3)
    messages = [FakeMessage("welfare", 1), FakeMessage("social_assistance", 1), FakeMessage("welfare", 2),
                FakeMessage("welfare", 3)]
    consumer._buffer.extend(messages)
    dead = sample("projection_dead_letters_total", reason="apply-failed")
    skipped = sample("projection_skipped_events_total", source="welfare")
    consumer._flush()
    assert calls == [("welfare", False)] * 3 + [("welfare", True), ("social_assistance", False)]
    assert messages[-1].acked == [True]  # everything acked, the other source's message too
    [(body, published)] = consumer._producer.published
    assert body == messages[2].body  # the original message of sequence 2
    assert published["routing_key"] == "q.dead-letter"
    assert published["headers"]["x-dead-letter-reason"] == "apply-failed"
    assert "NumericValueOutOfRange: integer out of range" in published["headers"]["x-dead-letter-detail"]
    assert published["headers"]["x-original-exchange"] == "welfare.events"
    assert sample("projection_dead_letters_total", reason="apply-failed") == dead + 1
    assert sample("projection_skipped_events_total", source="welfare") == skipped + 1


def test_a_skipped_event_that_came_from_the_feed_is_dead_lettered_as_a_rebuilt_cloudevent():
    feed_event = {"id": "x", "type": "InstitutionRegistered", "sequence": "5", "data": {"beds": 10**30}}

    def apply_batch(source, events, fetch_missing=None, on_skip=None):
        if on_skip is None:
            raise KeyError("beds")
        on_skip(feed_event, KeyError("beds"))
        return 0

    consumer = consumer_with(apply_batch, apply_attempts=1)
    consumer._apply_with_retry("welfare", [{"sequence": "6"}], {6: FakeMessage("welfare", 6)})
    [(body, published)] = consumer._producer.published
    assert json.loads(body) == feed_event
    assert published["headers"]["x-original-exchange"] == "welfare.events"
    assert published["headers"]["x-original-routing-key"] == "InstitutionRegistered"


def test_a_source_whose_feed_cannot_fill_a_gap_is_deferred_while_the_others_are_applied():
    applied = []

    def apply_batch(source, events, fetch_missing=None, on_skip=None):
        if source == "welfare":
            fetch_missing(0, int(events[0]["sequence"]))  # a gap: the feed is asked
        applied.append(source)
        return len(events)

    consumer = consumer_with(apply_batch)
    consumer.feeds["welfare"].between = lambda after, before: (_ for _ in ()).throw(
        urllib.error.URLError("connection refused"))
    deferred = sample("projection_deferred_events_total", source="welfare")
    messages = [FakeMessage("welfare", 9), FakeMessage("social_assistance", 1)]
    consumer._buffer.extend(messages)
    consumer._flush()
    assert applied == ["social_assistance"] and messages[-1].acked == [True]
    assert sample("projection_deferred_events_total", source="welfare") == deferred + 1
    # Right after a failure the feed is not asked again (a timing-out feed would slow every batch).
    asked = []
    consumer.feeds["welfare"].between = lambda after, before: asked.append(after) or []
    consumer._buffer.extend([FakeMessage("welfare", 10), FakeMessage("social_assistance", 2)])
    consumer._flush()
    assert asked == [] and applied == ["social_assistance"] * 2
    consumer._feed_retry_at["welfare"] = (0.0, 1.0)  # the back-off is over: asked, and applied
    consumer._buffer.extend([FakeMessage("welfare", 11)])
    consumer._flush()
    assert asked == [0] and applied[-1] == "welfare" and "welfare" not in consumer._feed_retry_at


def test_apply_attempts_is_configurable(monkeypatch):
    monkeypatch.setenv("CONSUMER_APPLY_ATTEMPTS", "5")
    assert consumer_with(lambda *a, **k: 0).apply_attempts == 5
    assert consumer_with(lambda *a, **k: 0, apply_attempts=2).apply_attempts == 2


def test_the_head_check_catch_up_isolates_a_poison_event_from_the_feed_too():
    feed_events = [{"id": f"e{n}", "type": "InstitutionRegistered", "sequence": str(n), "data": {}}
                   for n in (1, 2, 3)]
    position = {"welfare": 0}
    calls = []

    def apply_batch(source, events, fetch_missing=None, on_skip=None):
        calls.append(on_skip is not None)
        if on_skip is None:
            raise errors.NumericValueOutOfRange("integer out of range")
        on_skip(events[1], errors.NumericValueOutOfRange("integer out of range"))
        position[source] = int(events[-1]["sequence"])
        return 2

    consumer = consumer_with(apply_batch, sources=("welfare",), apply_attempts=2)
    consumer.position = lambda source: position[source]
    feed = consumer.feeds["welfare"]
    feed.head = lambda: 3
    feed.between = lambda after, before: [e for e in feed_events if after < int(e["sequence"]) < before]
    consumer._last_seen = {"welfare": 0}  # the bus has been quiet for a whole check interval
    consumer._check_heads()
    assert calls == [False, False, True] and position["welfare"] == 3
    [(body, published)] = consumer._producer.published
    assert json.loads(body) == feed_events[1]
    assert published["headers"]["x-dead-letter-reason"] == "apply-failed"
