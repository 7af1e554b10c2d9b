"""Integration tier: the military support Nameko service as a process (`nameko run`) on the real
RabbitMQ and PostgreSQL: RPC with typed errors (declared bounds and domain rules), a reveal that
needs a reason and is recorded, HTTP /healthz, /events and /metrics, and the service keeps
serving after bad input."""
from __future__ import annotations

import urllib.request

import pytest

from shared.errors import Conflict, InvalidInput, NotFound
from shared.rpc import cluster
from tests.military_support.ms_support import SERVICE, person
from tests.support import drop_schemas, get_json, nameko_service

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def service(database, amqp_uri, tmp_path_factory):
    drop_schemas(database, SERVICE)
    with nameko_service("services.military_support.service", amqp_uri, tmp_path_factory.mktemp("military_support")) as base:
        yield base


def test_commands_over_rpc_and_refusals_come_back_typed(service, amqp_uri):
    who = person()
    with cluster(amqp_uri, timeout=30) as rpc:
        ms = rpc.military_support
        bid = ms.register_beneficiary("disabled_serviceman", "beigang", who["id_number"], who["name"],
                                      who["birth_date"], "2006-05-01", 2, "war")
        with pytest.raises(InvalidInput) as refused:          # the declaration's bound
            ms.register_beneficiary("disabled_serviceman", "beigang", who["id_number"], who["name"],
                                    who["birth_date"], "2006-05-01", 11, "war")
        assert (refused.value.field, refused.value.code) == ("grade", "input.not_one_of")
        with pytest.raises(InvalidInput) as refused:          # the domain's rule
            ms.register_beneficiary("disabled_serviceman", "beigang", person()["id_number"], "某人",
                                    None, "2006-05-01", 8, "illness")
        assert refused.value.field == "birth_date"
        other = person()
        with pytest.raises(InvalidInput) as refused:
            ms.register_beneficiary("disabled_serviceman", "beigang", other["id_number"], "某人",
                                    other["birth_date"], "2006-05-01", 8, "illness")
        assert (refused.value.field, refused.value.code) == ("grade", "military.grade_not_rated_for_cause")
        with pytest.raises(Conflict) as refused:
            ms.register_beneficiary("martyr_family", "xilin", who["id_number"], who["name"],
                                    who["birth_date"], "2006-05-01")
        assert refused.value.code == "military.already_beneficiary"
        paid = ms.run_benefits("2007-01")
        assert (paid["paid"], paid["total"]) == (1, "1800.00")
        assert ms.run_benefits("2007-01")["paid"] == 0
        with pytest.raises(InvalidInput) as refused:
            ms.record_activity("sports", "beigang", "拥军", "某部", "2007-04-01", 10)
        assert refused.value.code == "military.unknown_channel"
        with pytest.raises(InvalidInput) as refused:
            ms.record_activity("window", "beigang", "拥军" * 60, "某部", "2007-04-01", 10)
        assert (refused.value.field, refused.value.code) == ("title", "input.too_long")
        with pytest.raises(NotFound) as missing:
            ms.get_worker("00000000-0000-4000-8000-000000000000")
        assert (missing.value.field, missing.value.code) == ("worker_id", "store.not_found")
        masked = ms.get_beneficiary(bid)
        assert masked["id_number"] == who["id_number"][:6] + "*" * 8 + who["id_number"][-4:]
        with pytest.raises(InvalidInput) as refused:          # a reveal without a reason
            ms.get_beneficiary(bid, True)
        assert refused.value.code == "audit.reveal_reason_required"
    with cluster(amqp_uri, timeout=30, actor="officer-li", reason="核对抚恤发放") as rpc:
        assert rpc.military_support.get_beneficiary(bid, True)["id_number"] == who["id_number"]


def test_http_health_feed_and_metrics(service):
    health = get_json(f"{service}/healthz")
    assert health["status"] == "ok" and health["service"] == SERVICE and health["head"] > 0
    page = get_json(f"{service}/events?after=0&limit=500")
    types = [e["type"] for e in page["events"]]
    assert "BeneficiaryRegistered" in types and "DisclosureRecorded" in types
    assert {e["source"] for e in page["events"]} == {"urn:zhonglou-civil-affairs:military_support"}
    with urllib.request.urlopen(f"{service}/metrics", timeout=10) as response:
        text = response.read().decode()
    assert 'event_store_head{service="military_support"}' in text
    assert 'entrypoint_calls_total{entrypoint="run_benefits",service="military_support"}' in text
