"""Integration tier: the social_affairs Nameko service (`nameko run services.social_affairs.service`)
on the real RabbitMQ and PostgreSQL:
RPC with typed errors (the service keeps serving), a reveal recorded, HTTP /healthz, /events and
/metrics, and the demo's story driven through it, projected and reported."""
from __future__ import annotations

import functools
import io
import json
import random

import psycopg
import pytest

from services.social_affairs import demo as scenario
from services.social_affairs import report as section
from shared import feed, schemas
from shared.errors import Conflict, InvalidInput
from shared.referencedata import ReferenceData
from shared.report_kit import Context, Targets, read_section
from shared.rpc import cluster
from tests.social_affairs.sa_support import READ_MODEL, couple, party, read_model, targets
from tests.support import drop_schemas, http_get as get, nameko_service



@pytest.fixture(scope="module")
def service(database, amqp_uri, tmp_path_factory):
    drop_schemas(database, "social_affairs", READ_MODEL)
    with nameko_service("services.social_affairs.service", amqp_uri, tmp_path_factory.mktemp("social_affairs")) as base:
        yield base


@pytest.fixture(scope="module")
def rpc(service, amqp_uri):
    with cluster(amqp_uri, timeout=60) as proxy:
        yield proxy


def test_rpc_commands_typed_errors_and_a_recorded_reveal(rpc, amqp_uri):
    parties = couple()
    marriage = rpc.social_affairs.register_marriage("beigang", parties, True, "2007-05-20", "officer-wu")
    assert rpc.social_affairs.get_marriage(marriage)["parties"][0]["id_number"].count("*") == 8
    with pytest.raises(InvalidInput) as no_reason:
        rpc.social_affairs.get_marriage(marriage, True)
    assert no_reason.value.code == "audit.reveal_reason_required"
    with cluster(amqp_uri, timeout=60, reason="checking the marriage file") as revealing:
        shown = revealing.social_affairs.get_marriage(marriage, True)
    assert shown["parties"][0]["id_number"] == parties[0]["id_number"]
    with pytest.raises(Conflict) as married:
        rpc.social_affairs.register_marriage("beigang", [parties[0], party("1984-01-01", "F")], True,
                                             "2007-06-01", "officer-wu")
    assert (married.value.field, married.value.code) == ("parties[0].id_number", "affairs.already_married")
    with pytest.raises(InvalidInput) as young:
        rpc.social_affairs.register_marriage("beigang", [party("1990-01-01", "M"), party("1980-01-01", "F")],
                                             True, "2007-06-01", "officer-wu")
    assert young.value.code == "affairs.below_legal_age"
    with pytest.raises(InvalidInput) as shape:
        rpc.social_affairs.register_marriage("beigang", parties[:1], True, "2007-06-01", "officer-wu")
    assert (shape.value.field, shape.value.code) == ("parties", "input.too_few_items")
    with pytest.raises(InvalidInput) as unknown:
        rpc.social_affairs.inspect_mounds("xinzha", "2007-03-01", "officer-zhao", [{"place": "某地", "kind": "old"}])
    assert (unknown.value.field, unknown.value.code) == ("findings[0].kind", "input.not_one_of")
    assert rpc.social_affairs.rules()["in_force"]["legal_age"] == {"men": 22, "women": 20,
                                                                   "effective_from": "1981-01-01"}


def test_http_healthz_events_and_metrics(service, rpc):
    status, body = get(f"{service}/healthz")
    assert status == 200 and json.loads(body)["service"] == "social_affairs" and json.loads(body)["head"] >= 1
    status, body = get(f"{service}/events?after=0&limit=50")
    page = json.loads(body)
    assert status == 200 and page["source"] == "urn:zhonglou-civil-affairs:social_affairs"
    types = {event["type"] for event in page["events"]}
    assert {"MarriageRegistered", "MarriageApplicationRefused", "DisclosureRecorded"} <= types
    for event in page["events"]:
        schemas.validate(event)
    status, body = get(f"{service}/metrics")
    assert status == 200
    assert b'entrypoint_calls_total{entrypoint="register_marriage",service="social_affairs"}' in body


def test_the_demo_through_the_service_reaches_the_report(service, amqp_uri, database):
    from services.social_affairs.application import SocialAffairs
    app = SocialAffairs()
    model = read_model(database, READ_MODEL)
    try:
        outcome = scenario.drive(functools.partial(cluster, amqp_uri, timeout=60), random.Random(2007),
                                 progress=False, out=io.StringIO(), scale=0.1)
        while page := feed.page(app, model.position("social_affairs"), 1000)["events"]:
            model.apply_batch("social_affairs", page)
        with psycopg.connect(database.pg_conninfo()) as conn:
            got = read_section(conn, Context(2007, ReferenceData.load(), Targets(2007, targets()),
                                             schema=READ_MODEL), section)
    finally:
        model.datastore.close()
        app.close()
    assert outcome.unexpected == [] and outcome.refused == {"InvalidInput": 6, "Conflict": 4}
    district = got["district"]["metrics"]
    assert district["migration_preparation_ratio"]["met"] is True
    assert district["halls_to_standard_ratio"]["met"] is True
    assert (district["new_grave_mounds"]["value"], district["rebuilt_grave_mounds"]["value"]) == (3, 1)
    assert district["unresolved_grave_mounds"]["met"] is True
    rate = district["marriage_qualification_ratio"]
    assert rate["registrations"] - rate["qualified"] == 1 and rate["met"] is False
    assert district["marriage_refusals"]["value"] == 4 + 2      # the demo's four, the first test's two
