"""Integration tier: replay from a time on a real store. The social assistance application on the
session's PostgreSQL; its feed served over HTTP by the platform's own endpoints
(shared/nameko_support.py EventStoreEndpoints: GET /events and GET /events/position, the code a
domain service runs); a subscription created `since` a time, resolved through that endpoint by
the default client (shared.feed.position_at), delivered by the delivery engine to a real receiver
on loopback: what it receives equals what was stored from that time on."""
from __future__ import annotations

import contextlib
import threading
from datetime import datetime, timedelta
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import pytest
from eventsourcing.cryptography import AESCipher
from werkzeug.wrappers import Request

from services.subscriptions.application import Subscriptions
from services.subscriptions.delivery import ApplicationStore, Engine, FeedReader, Settings
from shared import feed
from shared.errors import InvalidInput
from shared.nameko_support import EventStoreEndpoints
from tests.subscriptions.delivery_support import LOOPBACK, Receiver, match_all, wait_until
from tests.support import drive_year, postgres_app

FAST = Settings(poll_interval=0.02, page_limit=7, max_attempts=100, backoff_base=0.02, backoff_cap=0.2,
                suspend_after=1000, ack_interval=0.05, refresh_interval=0.05, handshake_interval=0.2)


class _Quiet(WSGIRequestHandler):
    def log_message(self, *args):
        pass


class Endpoints(EventStoreEndpoints):
    """The endpoints as a domain service has them, with the application given directly."""
    name = "social_assistance"

    def __init__(self, app):
        self.app = app


@contextlib.contextmanager
def serving(app):
    """The feed's endpoints over HTTP on loopback (werkzeug requests, as under Nameko)."""
    endpoints = Endpoints(app)
    routes = {"/events": endpoints.events, "/events/position": endpoints.events_position}

    def wsgi(environ, start_response):
        request = Request(environ)
        return routes[request.path](request)(environ, start_response)

    server = make_server("127.0.0.1", 0, wsgi, WSGIServer, _Quiet)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def source(database):
    from shared import domains
    from tests.support import drop_schemas
    drop_schemas(database, *domains.names(), "read_model")
    app = postgres_app()
    drive_year(app, households=3)
    yield app
    app.close()


def stored(app) -> list[dict]:
    return feed.page(app, 0, 1000)["events"]


def time_of(event) -> datetime:
    return datetime.fromisoformat(event["time"].replace("Z", "+00:00"))


def clean_cuts(events) -> list[tuple[datetime, int]]:
    """(time, expected position) for the times that split the log cleanly: every event up to the
    position is before the time, every later one is not. (Within one transaction times may
    interleave by microseconds: shared/feed.py says why; those times have no clean answer.)"""
    times = [(int(e["sequence"]), time_of(e)) for e in events]
    cuts = []
    for _, t in times:
        for at in (t - timedelta(microseconds=1), t, t + timedelta(microseconds=1)):
            before = {s for s, m in times if m < at}
            position = max(before, default=0)
            if before == {s for s, _ in times if s <= position}:
                cuts.append((at, position))
    return cuts


def test_the_position_of_a_time_is_the_last_event_stored_before_it(source):
    events = stored(source)
    cuts = clean_cuts(events)
    assert len(cuts) > 2 * len(events)          # nearly every time splits the log cleanly
    for at, expected in cuts:
        assert feed.position(source, at.isoformat())["position"] == expected, at
    head = source.recorder.max_notification_id()
    assert feed.position(source, "1999-12-31T23:59:59+08:00")["position"] == 0
    assert feed.position(source, "2999-01-01T00:00:00Z") == {
        "source": "urn:zhonglou-civil-affairs:social_assistance", "at": "2999-01-01T00:00:00+00:00",
        "position": head}


@pytest.mark.parametrize("at", ["", "2007-03-01", "2007-03-01T08:00:00", "2007-02-30T08:00:00Z", "now",
                                "2007-03-01T08:00:00+08:00" + "0" * 40])
def test_a_bad_time_is_refused_with_its_code(source, at):
    with pytest.raises(InvalidInput) as refused:
        feed.position(source, at)
    assert (refused.value.field, refused.value.code) == ("at", "feed.bad_time")


def test_the_endpoint_over_http_and_its_client(source):
    events = stored(source)
    at, expected = clean_cuts(events)[len(events)]
    with serving(source) as url:
        environ = {"SOCIAL_ASSISTANCE_URL": url}
        assert feed.position_at("social_assistance", at.isoformat(), environ=environ) == expected
        # an offset written +08:00 and the same moment in UTC give the same answer
        local = at.astimezone(datetime.fromisoformat("2007-01-01T00:00:00+08:00").tzinfo).isoformat()
        assert feed.position_at("social_assistance", local, environ=environ) == expected
        import urllib.error
        import urllib.request
        with pytest.raises(urllib.error.HTTPError) as bad:
            urllib.request.urlopen(url + "/events/position?at=2007-03-01", timeout=5)
        assert bad.value.code == 400 and b'"feed.bad_time"' in bad.value.read()
        with pytest.raises(InvalidInput) as refused:
            feed.position_at("social_assistance", "2007-03-01", environ=environ)
        assert refused.value.code == "feed.bad_time"


def test_a_subscription_since_a_time_receives_what_was_stored_from_then_on(source):
    events = stored(source)
    cuts = [(at, p) for at, p in clean_cuts(events) if 5 < p < len(events) - 5]
    at, position = cuts[len(cuts) // 2]
    expected = [e for e in events if time_of(e) >= at]
    assert expected and int(expected[0]["sequence"]) > position
    receiver = Receiver()
    with serving(source) as url:
        app = Subscriptions({"PERSISTENCE_MODULE": "eventsourcing.popo", "CIPHER_KEY": AESCipher.create_key(32)},
                            sources=("social_assistance",),
                            position_at=lambda name, t: feed.position_at(name, t, environ={"SOCIAL_ASSISTANCE_URL": url}))
        created = app.create(subscriber="City Finance Bureau", purpose="allowances", legal_basis="service_delivery",
                             source="social_assistance", sink=receiver.url, since=at.isoformat())
        assert created["position"] == position and created["since"] == at.isoformat()
        engine = Engine(ApplicationStore(app), lambda name: FeedReader(url), FAST, match_all, (LOOPBACK,)).start()
        try:
            assert wait_until(lambda: len(receiver.delivered()) >= len(expected), timeout=30)
        finally:
            engine.stop()
        receiver.stop()
    strip = [{k: v for k, v in e.items() if k != "prevsequence"} for e in receiver.delivered()]
    assert strip == [{k: v for k, v in e.items() if k != "prevsequence"} for e in expected]
    assert app.get(created["id"])["position"] == int(events[-1]["sequence"])


def test_a_service_that_serves_no_feed_serves_no_position(source):
    class NoFeed(Endpoints):
        events = None       # as the subscription service (its store holds webhook secrets)

    answer = NoFeed(source).events_position(Request.from_values("/events/position?at=2007-03-01T08:00:00Z"))
    assert answer.status_code == 404 and b'"feed.not_served"' in answer.get_data()
    served = Endpoints(source).events_position(Request.from_values("/events/position?at=2007-03-01T08:00:00Z"))
    assert served.status_code == 200
