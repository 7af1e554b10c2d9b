"""Integration tier: stored events → relay → RabbitMQ → consumer → read model, for real."""
from __future__ import annotations

import threading
import time

import amqp
import pytest

from services.projection.readmodel import ReadModel
from shared import contract, feed
from shared.bus import AmqpAddress, declare_events_exchange
from shared.config import settings
from shared.consumer import APPLIED, RECEIVED, EventConsumer, FeedClient
from shared.relay import Relay
from tests.support import drive_year, member, postgres_app


class AppFeed(FeedClient):
    """The service's /events feed, read in-process (the same function the HTTP endpoint calls)."""

    def __init__(self, app):
        super().__init__("in-process")
        self.app = app

    def page(self, after: int, limit: int = 500) -> dict:
        return feed.page(self.app, after, limit)


@pytest.fixture
def app(fresh_schemas, amqp_uri):
    application = postgres_app()
    yield application
    application.close()


@pytest.fixture
def channel(amqp_uri):
    connection = amqp.Connection(**AmqpAddress.parse(amqp_uri).connection_kwargs())
    connection.connect()
    ch = connection.channel()
    declare_events_exchange(ch, "social_assistance")
    yield ch
    connection.close()


def tap(channel, name: str) -> str:
    """A queue that receives every event of the exchange, to look at what was published."""
    channel.queue_declare(name, durable=False, auto_delete=False, exclusive=False)
    channel.queue_purge(name)
    channel.queue_bind(name, "social_assistance.events", "#")
    return name


def drain(channel, queue: str) -> list:
    messages = []
    while (message := channel.basic_get(queue, no_ack=True)) is not None:
        messages.append(message)
    return messages


def relay_until_caught_up(app) -> Relay:
    relay = Relay(app, settings(), batch_size=50)
    while relay.run_once():
        pass
    return relay


def test_relay_publishes_every_stored_event_in_order_as_cloudevents(app, channel):
    queue = tap(channel, "tap-order")
    drive_year(app)
    relay = relay_until_caught_up(app)
    head = app.recorder.max_notification_id()
    messages = drain(channel, queue)
    sequences = [int(contract.decode(m.body).get_extension("sequence")) for m in messages]
    stored = [n.id for n in app.recorder.select_notifications(start=1, limit=10_000)]
    assert sequences == stored and relay.position == head
    first = messages[0]
    assert first.properties["content_type"] == "application/cloudevents+json"
    assert first.properties["delivery_mode"] == 2
    assert first.delivery_info["routing_key"] == contract.decode(first.body).get_type()
    from shared.schemas import validate
    for message in messages:
        validate(contract.as_dict(contract.decode(message.body)))


def test_a_relay_crash_before_recording_its_position_republishes_and_loses_nothing(app, channel):
    queue = tap(channel, "tap-crash")
    drive_year(app, households=2)
    crashing = Relay(app, settings(), batch_size=10)

    def crash(_tracking):
        raise RuntimeError("killed after the broker confirmed, before the position was recorded")
    crashing.tracking.insert_tracking = crash
    with pytest.raises(RuntimeError):
        crashing.run_once()
    crashing.publisher.close()
    relay_until_caught_up(app)  # a new relay process, from the recorded position
    events = [contract.decode(m.body) for m in drain(channel, queue)]
    ids = [e.get_id() for e in events]
    stored = app.recorder.max_notification_id()
    assert len(ids) == stored + 20  # the two batches in flight went out twice...
    assert len(set(ids)) == stored  # ...with the same ids, so consumers can drop the copies
    assert {int(e.get_extension("sequence")) for e in events} == set(range(1, stored + 1))


def run_consumer(app, model, amqp_uri, queue="projection.test"):
    consumer = EventConsumer(amqp_uri, queue, {"social_assistance": AppFeed(app)}, model.apply_batch,
                             model.position, __import__("shared.schemas", fromlist=["validate"]).validate,
                             batch_size=100, head_interval=0.5)
    thread = threading.Thread(target=consumer.run_forever, daemon=True)
    thread.start()
    return consumer, thread


def consuming(channel, queue: str) -> bool:
    try:
        return channel.queue_declare(queue, passive=True).consumer_count == 1
    except amqp.exceptions.NotFound:  # not declared yet; the channel revives itself
        return False


def wait_for(condition, timeout=60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return False


def snapshot(model: ReadModel) -> dict:
    return {name: model.table_rows(name) for name in [*model.tables, *model.views]}


def test_projection_applies_each_event_once_and_equals_a_rebuild(app, channel, amqp_uri):
    model = ReadModel.connect(settings())
    consumer, thread = run_consumer(app, model, amqp_uri)
    try:
        assert wait_for(lambda: consuming(channel, "projection.test"))
        drive_year(app)
        relay = relay_until_caught_up(app)
        head = app.recorder.max_notification_id()
        assert wait_for(lambda: model.position("social_assistance") == head)
        # Publish the whole stream again: every event is a duplicate now.
        live = snapshot(model)
        applied_before = APPLIED.labels("social_assistance")._value.get()
        received_before = RECEIVED.labels("social_assistance")._value.get()
        stored = app.recorder.select_notifications(start=1, limit=10_000)
        relay.publisher.publish_batch(contract.to_outgoing(app, stored))
        assert wait_for(lambda: channel.queue_declare("projection.test", passive=True).message_count == 0)
        assert wait_for(lambda: RECEIVED.labels("social_assistance")._value.get() == received_before + head)
        assert APPLIED.labels("social_assistance")._value.get() == applied_before  # all skipped
        assert snapshot(model) == live
    finally:
        consumer.stop()
        thread.join(10)
    totals = dict((row[0], row[1:]) for row in model.table_rows("area_totals"))
    assert sum(t[0] for t in totals.values()) == 5  # six approved, one suspended by review
    rebuilt = ReadModel.connect(settings(), schema="read_model_rebuilt")
    rebuilt.rebuild(["social_assistance"], lambda s: AppFeed(app).pages())
    assert snapshot(rebuilt) == live


def test_a_gap_in_sequence_is_filled_from_the_source_feed(app, channel, amqp_uri):
    model = ReadModel.connect(settings())
    drive_year(app, households=2)
    relay_until_caught_up(app)          # published before the projection's queue existed: lost to it
    consumer, thread = run_consumer(app, model, amqp_uri, queue="projection.gap")
    try:
        assert wait_for(lambda: consuming(channel, "projection.gap"))
        hh = app.register_household("beigang", "urban", [member()])
        relay_until_caught_up(app)
        head = app.recorder.max_notification_id()
        assert wait_for(lambda: model.position("social_assistance") == head)
        assert any(str(row[0]) == hh for row in model.table_rows("households"))
        assert len(model.table_rows("households")) == 3
    finally:
        consumer.stop()
        thread.join(10)


def test_poison_messages_go_to_the_dead_letter_queue_and_consumption_goes_on(app, channel, amqp_uri):
    model = ReadModel.connect(settings())
    consumer, thread = run_consumer(app, model, amqp_uri, queue="projection.poison")
    try:
        assert wait_for(lambda: consuming(channel, "projection.poison"))
        channel.basic_publish(amqp.Message(b"not json", content_type="text/plain"),
                              exchange="social_assistance.events", routing_key="CaseApproved")
        hh = app.register_household("beigang", "urban", [member()])
        relay_until_caught_up(app)
        head = app.recorder.max_notification_id()
        assert wait_for(lambda: model.position("social_assistance") == head)
        dead = drain(channel, "projection.poison.dead-letter")
        assert len(dead) == 1 and dead[0].body == b"not json"
        assert dead[0].properties["application_headers"]["x-dead-letter-reason"] == "not-a-cloudevent"
        assert any(str(row[0]) == hh for row in model.table_rows("households"))
    finally:
        consumer.stop()
        thread.join(10)


def test_ids_no_transaction_used_are_not_fetched_but_real_gaps_are(fresh_schemas):
    model = ReadModel.connect(settings())
    calls = []

    def fetch_missing(after, before):
        calls.append((after, before))
        return []

    def event(sequence, previous):
        return {"type": "NotProjected", "data": {}, "sequence": contract.sequence_text(sequence),
                "prevsequence": contract.sequence_text(previous)}
    model.apply_batch("social_assistance", [event(1, 0), event(5, 1)], fetch_missing)
    assert calls == [] and model.position("social_assistance") == 5   # ids 2-4 were rolled back
    model.apply_batch("social_assistance", [event(9, 7)], fetch_missing)
    assert calls == [(5, 9)] and model.position("social_assistance") == 9  # 6-7 were lost
