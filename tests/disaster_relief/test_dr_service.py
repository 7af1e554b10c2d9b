"""Integration tier: the disaster relief Nameko service as a process (`nameko run`) on the real
RabbitMQ and PostgreSQL: RPC with typed errors, HTTP /healthz, /events and /metrics, and the
demo's year driven through it."""
from __future__ import annotations

import io
import json
import random
import urllib.request
from functools import partial

import pytest

from services.disaster_relief.demo import drive as run
from shared.errors import Conflict, InvalidInput, NotFound
from shared.rpc import cluster
from tests.disaster_relief.dr_support import figures
from tests.support import drop_schemas, get_json, nameko_service

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def service(database, amqp_uri, tmp_path_factory):
    drop_schemas(database, "disaster_relief")
    with nameko_service("services.disaster_relief.service", amqp_uri, tmp_path_factory.mktemp("disaster_relief")) as base:
        yield base


def test_commands_over_rpc_and_refusals_come_back_typed(service, amqp_uri):
    with cluster(amqp_uri, timeout=30) as rpc:
        dr = rpc.disaster_relief
        incident = dr.register_incident("flood", ["xinzha"], "2007-07-06T03:30", "officer-li", "暴雨")
        view = dr.report(incident, "initial", figures(relocated=250), "2007-07-06T05:00", "officer-li")
        assert (view["level"], view["report"]["late"]) == ("IV", False)
        with pytest.raises(Conflict) as refused:
            dr.report(incident, "initial", figures(), "2007-07-06T06:00", "officer-li")
        assert (refused.value.field, refused.value.code) == ("stage", "relief.initial_report_repeated")
        with pytest.raises(InvalidInput) as refused:
            dr.report(incident, "follow_up", figures(deaths=-1), "2007-07-06T06:00", "officer-li")
        assert (refused.value.field, refused.value.code) == ("figures.deaths", "input.below_minimum")
        assert refused.value.rule == "must be at least 0"  # the English, intact over RPC
        with pytest.raises(NotFound) as missing:
            dr.get_incident("00000000-0000-4000-8000-000000000000")
        assert (missing.value.field, missing.value.code) == ("incident_id", "store.not_found")
        assert dr.deposit("beigang", "20000.00", "镇财政", "officer-wang", "2007-01-15")["below_floor"] is False
        assert dr.get_reserve("beigang")["balance"] == "20000.00"


def test_http_health_feed_and_metrics(service):
    health = get_json(f"{service}/healthz")
    assert health["status"] == "ok" and health["service"] == "disaster_relief" and health["head"] > 0
    page = get_json(f"{service}/events?after=0&limit=3")
    assert [e["source"] for e in page["events"]] == ["urn:zhonglou-civil-affairs:disaster_relief"] * 3
    with urllib.request.urlopen(f"{service}/metrics", timeout=10) as response:
        text = response.read().decode()
    assert 'event_store_head{service="disaster_relief"}' in text
    assert 'entrypoint_calls_total{entrypoint="report",service="disaster_relief"}' in text
    with pytest.raises(urllib.error.HTTPError) as bad:
        urllib.request.urlopen(f"{service}/events?after=-1", timeout=10)
    assert bad.value.code == 400
    assert {k: v for k, v in json.loads(bad.value.read()).items() if k in ("error", "code", "field")} == {
        "error": "InvalidInput", "code": "feed.after_negative", "field": "after"}


def test_the_demo_year_runs_through_the_service(service, amqp_uri):
    outcome = run(partial(cluster, amqp_uri, timeout=60), random.Random(2007), progress=False,
                  out=io.StringIO())
    assert outcome.unexpected == []
    assert outcome.refused == {"Conflict": 5, "InvalidInput": 2}
    assert {r["area"] for r in outcome.reserves if r["below_floor"]} == {"xinzha"}
    assert len(outcome.late_reports) == 3
