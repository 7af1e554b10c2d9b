"""Unit tier: replay from a time (`since`, resolved by an injected `position_at`) and operator
re-drive of dead letters (HTTP: recorded for the delivery process; AMQP: the injected
`redriver`), in the application in memory: each rule refused with its code and nothing stored,
then accepted."""
from __future__ import annotations

import pytest
from eventsourcing.cryptography import AESCipher

from services.subscriptions.application import Subscriptions
from shared.errors import Conflict, InvalidInput, NotFound, ServiceUnavailable

SOURCES = ("social_assistance", "welfare")
SINCE = "2007-03-01T08:00:00+08:00"


class Positions:
    """A fake feed: answers a fixed position per time and records what it was asked."""

    def __init__(self, answer=42, error=None):
        self.answer, self.error, self.asked = answer, error, []

    def __call__(self, source, at):
        self.asked.append((source, at))
        if self.error is not None:
            raise self.error
        return self.answer


class Redriver:
    def __init__(self, moved=3, error=None):
        self.moved, self.error, self.calls = moved, error, []

    def __call__(self, view, limit):
        self.calls.append((view["id"], limit))
        if self.error is not None:
            raise self.error
        return min(self.moved, limit)


def make(**kwargs):
    return Subscriptions({"PERSISTENCE_MODULE": "eventsourcing.popo", "CIPHER_KEY": AESCipher.create_key(32)},
                         sources=SOURCES, **kwargs)


def create(app, **given):
    values = dict(subscriber="City Statistics Bureau", purpose="monthly counts", legal_basis="statistics",
                  source="welfare", sink="https://stats.example/hook")
    values.update(given)
    return app.create(**values)


def head(app) -> int:
    return app.recorder.max_notification_id() or 0


def refused(error_type, code, call, *args, **kwargs):
    with pytest.raises(error_type) as caught:
        call(*args, **kwargs)
    assert caught.value.code == code, caught.value
    return caught.value


def events_of(app, sid):
    from uuid import UUID
    return list(app.events.get(UUID(sid)))


# --- since ------------------------------------------------------------------------------------

def test_created_since_a_time_starts_at_the_position_the_source_resolved_and_records_both():
    positions = Positions(answer=42)
    app = make(position_at=positions)
    created = create(app, since=SINCE)
    assert positions.asked == [("welfare", SINCE)]
    assert created["position"] == 42 and created["since"] == SINCE
    (event,) = events_of(app, created["id"])
    assert (event.position, event.since) == (42, SINCE)
    assert create(app)["position"] == 0 and create(app)["since"] is None and len(positions.asked) == 1


def test_replay_since_a_time_rewinds_to_the_resolved_position_and_records_the_time():
    positions = Positions(answer=7)
    app = make(position_at=positions)
    sid = create(app, after=30)["id"]
    replayed = app.replay(sid, since="2007-03-01T00:00:00Z")
    assert replayed["position"] == 7 and replayed["since"] == "2007-03-01T00:00:00+00:00"
    rewound = events_of(app, sid)[-1]
    assert type(rewound).__name__ == "Rewound" and (rewound.position, rewound.since) == (7, "2007-03-01T00:00:00+00:00")
    assert app.replay(sid, after=3)["since"] is None      # a replay by sequence forgets the time


@pytest.mark.parametrize("call, code", [
    (lambda app, sid: create(app, after=5, since=SINCE), "subscription.after_and_since"),
    (lambda app, sid: app.replay(sid, after=5, since=SINCE), "subscription.after_and_since"),
    (lambda app, sid: app.replay(sid), "subscription.replay_needs_start"),
    (lambda app, sid: app.replay(sid, since="2007-03-01T08:00:00"), "subscription.bad_since"),   # no offset
    (lambda app, sid: create(app, since="yesterday"), "subscription.bad_since"),
    (lambda app, sid: create(app, since=SINCE, source="nowhere"), "subscription.unknown_source"),
])
def test_since_rules_are_refused_before_the_source_is_asked_and_nothing_is_stored(call, code):
    positions = Positions()
    app = make(position_at=positions)
    sid = create(app)["id"]
    before = head(app)
    refused(InvalidInput, code, call, app, sid)
    assert positions.asked == [] and head(app) == before


def test_a_source_that_does_not_answer_is_unreachable_and_nothing_is_stored():
    app = make(position_at=Positions(error=ServiceUnavailable("since", "no answer", code="feed.source_unreachable")))
    sid = create(app)["id"]
    before = head(app)
    refused(ServiceUnavailable, "feed.source_unreachable", create, app, since=SINCE)
    refused(ServiceUnavailable, "feed.source_unreachable", app.replay, sid, since=SINCE)
    assert head(app) == before and app.get(sid)["position"] == 0


def test_the_default_position_at_asks_the_source_named_in_the_environment(monkeypatch):
    """Without <SOURCE>_URL the default is a typed error telling what to set; with it pointing at
    nothing that listens, `ServiceUnavailable` within the bounded timeout."""
    app = make()
    monkeypatch.delenv("WELFARE_URL", raising=False)
    error = refused(ServiceUnavailable, "feed.source_not_configured", create, app, since=SINCE)
    assert "WELFARE_URL" in error.rule
    from tests.support import free_port
    monkeypatch.setenv("WELFARE_URL", f"http://127.0.0.1:{free_port()}")    # nothing listens there
    refused(ServiceUnavailable, "feed.source_unreachable", create, app, since=SINCE)
    assert app.list() == []


# --- re-drive: HTTP ----------------------------------------------------------------------------

def dead_lettered(app, *sequences):
    sid = create(app)["id"]
    for sequence in sequences:
        app.dead_letter(sid, {"id": f"e-{sequence}", "sequence": str(sequence).zfill(20), "type": "InstitutionRegistered"},
                        "HTTP 500 after 8 attempts")
    return sid


def test_http_redrive_is_recorded_for_the_delivery_process_and_redriven_removes_it():
    app = make()
    sid = dead_lettered(app, 9, 10, 99, 100)
    answer = app.redrive(sid, sequences=[100, 9])
    assert answer["redriven"] == 2 and answer["redrive"] == [9, 100]
    assert [d["sequence"] for d in answer["dead_letters"]] == [10, 99]
    assert app.delivery(sid)["redrive"] == [9, 100]              # what the engine reads
    assert type(events_of(app, sid)[-1]).__name__ == "DeadLettersRedriveRequested"
    assert app.redrive(sid, limit=1)["redrive"] == [9, 10, 100]   # the oldest of the rest
    delivered = app.get(sid)["delivered"]
    shown = {"id": "e-9", "type": "InstitutionRegistered", "subject": "institution/1", "sequence": "9".zfill(20),
             "scope": "full", "at": "2026-12-02T06:00:00+00:00"}
    assert app.redriven(sid, [9, 10], [shown])["redrive"] == [100]
    assert app.get(sid)["delivered"] == delivered + 1              # the re-drive's disclosure, recorded
    assert type(events_of(app, sid)[-1]).__name__ == "DeadLettersRedriven"
    version = app.get(sid)["version"]
    assert app.redriven(sid, [9, 12345])["version"] == version    # nothing waiting: nothing recorded
    app.dead_letter(sid, {"id": "e-100", "sequence": 100, "type": "X"}, "failed again")
    view = app.redriven(sid, [100])                               # a new failure stays a dead letter
    assert view["redrive"] == [] and [d["sequence"] for d in view["dead_letters"]] == [99, 100]
    assert app.redrive(sid)["redrive"] == [99, 100] and app.get(sid)["dead_letters"] == []


@pytest.mark.parametrize("given, error, code", [
    ({"sequences": [11]}, NotFound, "subscription.unknown_dead_letter"),
    ({"sequences": "9"}, InvalidInput, "subscription.bad_sequences"),
    ({"sequences": [-1]}, InvalidInput, "subscription.bad_position"),
    ({"limit": 0}, InvalidInput, "subscription.redrive_limit"),
    ({"limit": 10 ** 6}, InvalidInput, "subscription.redrive_limit"),
])
def test_http_redrive_rules_are_refused_and_nothing_is_stored(given, error, code):
    app = make()
    sid = dead_lettered(app, 9, 10)
    before = head(app)
    refused(error, code, app.redrive, sid, **given)
    assert head(app) == before and app.get(sid)["redrive"] == []


def test_nothing_to_redrive_full_and_deleted_are_conflicts(monkeypatch):
    app = make()
    sid = create(app)["id"]
    refused(Conflict, "subscription.nothing_to_redrive", app.redrive, sid)
    monkeypatch.setattr("services.subscriptions.domain.DEAD_LETTERS_KEPT", 3)
    sid = dead_lettered(app, 1, 2, 3)
    assert app.redrive(sid, limit=2)["redrive"] == [1, 2]       # the delivery process has not run yet
    for sequence in (4, 5):
        app.dead_letter(sid, {"id": f"e-{sequence}", "sequence": sequence, "type": "X"}, "HTTP 500")
    refused(Conflict, "subscription.redrive_full", app.redrive, sid)
    assert app.redrive(sid, limit=1)["redrive"] == [1, 2, 3]
    app.delete(sid)
    refused(Conflict, "subscription.deleted", app.redrive, sid)
    refused(Conflict, "subscription.deleted", app.redriven, sid, [1])


# --- re-drive: AMQP ----------------------------------------------------------------------------

def test_amqp_redrive_calls_the_redriver_and_answers_how_many_it_moved():
    redriver = Redriver(moved=3)
    app = make(redriver=redriver, provisioner=lambda view: {"username": "u"})
    sid = create(app, protocol="AMQP", sink="amqp://broker.example/")["id"]
    answer = app.redrive(sid, limit=2)
    assert answer["redriven"] == 2 and redriver.calls == [(sid, 2)]
    last = events_of(app, sid)[-1]
    assert type(last).__name__ == "DeadLetterQueueRedriven" and last.moved == 2
    refused(InvalidInput, "subscription.redrive_sequences_amqp", app.redrive, sid, sequences=[1])
    refused(Conflict, "subscription.redrive_not_http", app._subscription(sid).request_redrive)
    assert redriver.calls == [(sid, 2)]


@pytest.mark.parametrize("redriver, error, code", [
    (None, ServiceUnavailable, "subscription.no_redriver"),
    (Redriver(moved=0), Conflict, "subscription.nothing_to_redrive"),
    (Redriver(error=ConnectionResetError("broker went away")), ServiceUnavailable, "subscription.redrive_failed"),
    (Redriver(error=NotFound("subscription_id", "no queue", code="subscription.no_amqp_sink")), NotFound,
     "subscription.no_amqp_sink"),
])
def test_amqp_redrive_refusals_store_nothing(redriver, error, code):
    app = make(redriver=redriver, provisioner=lambda view: {"username": "u"})
    sid = create(app, protocol="AMQP", sink="amqp://broker.example/")["id"]
    before = head(app)
    refused(error, code, app.redrive, sid)
    assert head(app) == before
