"""Integration tier: the welfare Nameko service (`nameko run services.welfare.service`) on the
real RabbitMQ and PostgreSQL: RPC with typed errors, HTTP /healthz, /events, /metrics, its relay
onto `welfare.events`, and the demo's whole year driven through it, projected and reported."""
from __future__ import annotations

import functools
import io
import json
import random

import amqp
import psycopg
import pytest

from services.welfare import demo as demo_welfare
from services.welfare import report as welfare_report
from services.welfare.application import Welfare
from shared import contract, feed, schemas
from shared.bus import AmqpAddress, declare_events_exchange
from shared.config import settings
from shared.errors import Conflict, InvalidInput
from shared.referencedata import ReferenceData
from shared.report_kit import Context, Targets, read_section
from shared.relay import Relay
from shared.rpc import cluster
from tests.welfare.welfare_support import READ_MODEL, person, read_model, welfare_targets
from tests.support import drop_schemas, http_get as get, nameko_service



@pytest.fixture(scope="module")
def service(database, amqp_uri, tmp_path_factory):
    """The service process on a fresh `welfare` schema; yields its HTTP base URL."""
    drop_schemas(database, "welfare", READ_MODEL)
    with nameko_service("services.welfare.service", amqp_uri, tmp_path_factory.mktemp("welfare")) as base:
        yield base


@pytest.fixture(scope="module")
def rpc(service, amqp_uri):
    with cluster(amqp_uri, timeout=60) as proxy:
        yield proxy


def test_rpc_commands_and_typed_errors(rpc, amqp_uri):
    home = rpc.welfare.register_institution("yonghong", "永红敬老院", "public", 1, "2000-01-01")
    elder = person("孟桂芝", "1926-03-03")
    stay = rpc.welfare.admit(home, elder["id_number"], elder["name"], elder["birth_date"], "2007-02-01")
    assert rpc.welfare.get_admission(stay)["id_number"].count("*") == 8
    with pytest.raises(InvalidInput) as no_reason:      # a reveal needs a reason, it is recorded
        rpc.welfare.get_admission(stay, True)
    assert no_reason.value.code == "audit.reveal_reason_required"
    with cluster(amqp_uri, timeout=60, reason="checking the admission file") as revealing:
        assert revealing.welfare.get_admission(stay, True)["id_number"] == elder["id_number"]
    other = person()
    with pytest.raises(Conflict) as full:
        rpc.welfare.admit(home, other["id_number"], other["name"], other["birth_date"], "2007-02-02")
    assert (full.value.field, full.value.code) == ("institution_id", "welfare.institution_full")
    assert full.value.rule == "institution is full: all 1 beds are occupied"  # the English, intact over RPC
    with pytest.raises(InvalidInput) as bad:
        rpc.welfare.place_order("wuxing", "某", "housekeeping", "free", "3.00", "2007-02-02", "小刘")
    assert (bad.value.field, bad.value.code) == ("price", "welfare.free_price_not_zero")
    assert rpc.welfare.rules()["restructuring"]["deadline"] == "2007-06-30"


def test_http_healthz_events_and_metrics(service, rpc):
    rpc.welfare.register_institution("beigang", "北港敬老院", "public", 5, "2000-01-01")
    status, body = get(f"{service}/healthz")
    assert status == 200 and json.loads(body)["service"] == "welfare" and json.loads(body)["head"] >= 1
    status, body = get(f"{service}/events?after=0&limit=5")
    page = json.loads(body)
    assert status == 200 and page["source"] == "urn:zhonglou-civil-affairs:welfare"
    for event in page["events"]:
        schemas.validate(event)
    assert get(f"{service}/events?after=-1")[0] == 400
    status, body = get(f"{service}/metrics")
    assert status == 200
    assert b'entrypoint_calls_total{entrypoint="register_institution",service="welfare"}' in body
    assert b'event_store_head{service="welfare"}' in body


def test_the_relay_publishes_the_welfare_events(service, rpc, amqp_uri):
    connection = amqp.Connection(**AmqpAddress.parse(amqp_uri).connection_kwargs())
    connection.connect()
    channel = connection.channel()
    declare_events_exchange(channel, "welfare")
    channel.queue_declare("welfare-tap", durable=False, auto_delete=False, exclusive=False)
    channel.queue_bind("welfare-tap", "welfare.events", "#")
    app = Welfare()
    relay = Relay(app, settings(), batch_size=50)
    try:
        while relay.run_once():
            pass
        messages = []
        while (message := channel.basic_get("welfare-tap", no_ack=True)) is not None:
            messages.append(message)
        sequences = [int(contract.decode(m.body).get_extension("sequence")) for m in messages]
        assert sequences == list(range(1, app.recorder.max_notification_id() + 1))
        routing_keys = {m.delivery_info["routing_key"] for m in messages}
        assert routing_keys >= {"InstitutionRegistered", "AdmissionRecorded"}
    finally:
        relay.publisher.close()
        app.close()
        connection.close()


def test_the_demo_year_through_the_service_reaches_the_report(service, amqp_uri, database):
    plan = demo_welfare.build_plan(random.Random(2007))
    app = Welfare()
    model = read_model(database, READ_MODEL)
    try:
        before = project_and_report(app, model, database)       # what earlier tests left
        outcome = demo_welfare.drive(functools.partial(cluster, amqp_uri, timeout=60),
                                   random.Random(2007), progress=False, out=io.StringIO())
        after = project_and_report(app, model, database)
    finally:
        model.datastore.close()
        app.close()
    summary = outcome.summary
    assert outcome.ok and summary["unexpected"] == [] and summary["faults"] == []
    assert all(b["got"] == b["expected"] for b in summary["bad_commands"])
    for area, beds in plan.beds.items():
        metrics = after["areas"][area]["metrics"]
        assert metrics["beds"]["value"] - before["areas"][area]["metrics"]["beds"]["value"] == beds
        assert metrics["beds_per_1000_aged_60_plus"]["met"] is (
            metrics["beds"]["value"] * 1000 >= 17 * plan.aged[area])
    district, earlier = after["district"]["metrics"], before["district"]["metrics"]
    assert district["care_workers"]["value"] - earlier["care_workers"]["value"] == plan.workers
    assert district["training_ratio"]["met"] is True
    assert all(s["value"] == 1.0 and s["met"] for s in district["special_support"].values())
    assert district["three_no_dispersed_without_medical_care"]["value"] == 1
    assert district["enterprises_restructured_ratio"]["value"] == 1.0
    assert district["enterprises_flagged"]["value"] == 1
    assert district["tax_rebates_yuan"]["value"] == str(plan.rebates_yuan)


def project_and_report(app, model, database) -> dict:
    """Apply the service's feed from the model's position, then report 2007."""
    while page := feed.page(app, model.position("welfare"), 1000)["events"]:
        model.apply_batch("welfare", page)
    with psycopg.connect(database.pg_conninfo()) as conn:
        ctx = Context(2007, ReferenceData.load(), Targets(2007, welfare_targets()), schema=READ_MODEL)
        return read_section(conn, ctx, welfare_report)
