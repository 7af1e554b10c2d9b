"""Integration tier: the community Nameko service as a process (`nameko run`) on the real
RabbitMQ and PostgreSQL: RPC with typed errors (declared bounds and domain rules), a reveal that
needs a reason and is recorded, HTTP /healthz, /events and /metrics, and the service keeps
serving after bad input."""
from __future__ import annotations

import urllib.request

import pytest

from shared.errors import Conflict, InvalidInput, NotFound
from shared.rpc import cluster
from tests.community.cm_support import SERVICE, person
from tests.support import drop_schemas, get_json, nameko_service

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def service(database, amqp_uri, tmp_path_factory):
    drop_schemas(database, SERVICE)
    with nameko_service("services.community.service", amqp_uri, tmp_path_factory.mktemp("community")) as base:
        yield base


def test_commands_over_rpc_and_refusals_come_back_typed(service, amqp_uri):
    who = person()
    with cluster(amqp_uri, timeout=30) as rpc:
        cm = rpc.community
        cid = cm.register_community("beigang", "北港社区", "2005-01-01")
        with pytest.raises(InvalidInput) as refused:          # the declaration's bound
            cm.award_star(cid, 6, "2007-03-01")
        assert (refused.value.field, refused.value.code) == ("level", "input.not_one_of")
        assert cm.award_star(cid, 4, "2007-03-01")["star"] == 4
        with pytest.raises(Conflict) as refused:              # the domain's rule
            cm.award_star(cid, 4, "2007-04-01")
        assert (refused.value.field, refused.value.code) == ("level", "community.star_unchanged")
        with pytest.raises(InvalidInput) as refused:
            cm.record_facility("beigang", "service_centre", "北港街道社区服务中心", 200_000, "2007-01-05")
        assert (refused.value.field, refused.value.code) == ("floor_area_m2", "input.above_ceiling")
        with pytest.raises(InvalidInput) as refused:
            cm.record_facility("beigang", "service_centre", "北港街道社区服务中心", 60_000, "2007-01-05")
        assert refused.value.code == "community.floor_area_out_of_range"
        vid = cm.register_village("xilin", "新龙村", "2006-01-01")
        assert cm.record_election(vid, "2007-05-01")["counts_for_target"] is False
        with pytest.raises(InvalidInput) as refused:
            cm.record_election(vid, "2099-05-01")
        assert (refused.value.field, refused.value.code) == ("held_on", "input.future_date")
        wid = cm.hire_worker("beigang", "北港社区", who["id_number"], who["name"], who["birth_date"],
                             "graduate", "2007-02-01")
        with pytest.raises(Conflict) as refused:
            cm.hire_worker("xilin", "西林社区", who["id_number"], who["name"], who["birth_date"],
                           "secondment", "2007-02-01")
        assert refused.value.code == "community.already_hired"
        with pytest.raises(NotFound) as missing:
            cm.get_village("00000000-0000-4000-8000-000000000000")
        assert (missing.value.field, missing.value.code) == ("village_id", "store.not_found")
        masked = cm.get_worker(wid)
        assert masked["id_number"] == who["id_number"][:6] + "*" * 8 + who["id_number"][-4:]
        with pytest.raises(InvalidInput) as refused:          # a reveal without a reason
            cm.get_worker(wid, True)
        assert refused.value.code == "audit.reveal_reason_required"
    with cluster(amqp_uri, timeout=30, actor="officer-wang", reason="核对社区工作者档案") as rpc:
        assert rpc.community.get_worker(wid, True)["id_number"] == who["id_number"]
        assert rpc.community.statistics()["workers_hired"] == 1


def test_http_health_feed_and_metrics(service):
    health = get_json(f"{service}/healthz")
    assert health["status"] == "ok" and health["service"] == SERVICE and health["head"] > 0
    page = get_json(f"{service}/events?after=0&limit=500")
    types = [e["type"] for e in page["events"]]
    assert "CommunityRegistered" in types and "DisclosureRecorded" in types
    disclosures = [e for e in page["events"] if e["type"] == "DisclosureRecorded"]
    assert disclosures[-1]["data"]["fields"] == ["id_number", "name"]   # what a reveal shows
    assert {e["source"] for e in page["events"]} == {"urn:zhonglou-civil-affairs:community"}
    with urllib.request.urlopen(f"{service}/metrics", timeout=10) as response:
        text = response.read().decode()
    assert 'event_store_head{service="community"}' in text
    assert 'entrypoint_calls_total{entrypoint="award_star",service="community"}' in text
