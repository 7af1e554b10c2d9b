"""Integration tier: the conduct supervision Nameko service as a process (`nameko run`) on the
real RabbitMQ and PostgreSQL: RPC with typed errors (declared bounds and domain rules), a reveal
that needs a reason and is recorded with the fields it showed, HTTP /healthz, /events and
/metrics, and the service keeps serving after bad input."""
from __future__ import annotations

import urllib.request

import pytest

from shared.errors import Conflict, InvalidInput, NotFound
from shared.rpc import cluster
from tests.conduct_supervision.cs_support import SERVICE, person
from tests.support import drop_schemas, get_json, nameko_service

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def service(database, amqp_uri, tmp_path_factory):
    drop_schemas(database, SERVICE)
    with nameko_service("services.conduct_supervision.service", amqp_uri,
                        tmp_path_factory.mktemp("conduct_supervision")) as base:
        yield base


def test_commands_over_rpc_and_refusals_come_back_typed(service, amqp_uri):
    who = person()
    with cluster(amqp_uri, timeout=30) as rpc:
        cs = rpc.conduct_supervision
        sid = cs.appoint_supervisor("beigang", "beigang_beigang", who["id_number"], who["name"], "13912345678",
                                    "2007-03-01", "2008-12-31")
        with pytest.raises(InvalidInput) as refused:          # the declaration's bound
            cs.record_review("window", "dibao_window", "resident", None, 101, "x", "2007-06-01")
        assert (refused.value.field, refused.value.code) == ("score", "input.above_ceiling")
        with pytest.raises(InvalidInput) as refused:          # the domain's rule
            cs.appoint_supervisor("xilin", "beigang_beigang", person()["id_number"], "某人", "13912345678",
                                  "2007-03-01", "2008-12-31")
        assert (refused.value.field, refused.value.code) == ("community", "conduct.community_not_in_area")
        assert cs.register_officer("officer-li", "李明", "社会救助科", "2005-01-01") == "officer-li"
        with pytest.raises(Conflict) as refused:
            cs.record_review("officer", "officer-li", "officer", "officer-li", 90, "自评", "2007-06-01")
        assert refused.value.code == "conduct.self_review"
        cid = cs.receive_complaint("complaint", "beigang", "window", "dibao_window", "王小红", "13812345678",
                                   "拖延", "2007-03-01")
        with pytest.raises(NotFound) as missing:
            cs.get_visit("00000000-0000-4000-8000-000000000000")
        assert (missing.value.field, missing.value.code) == ("visit_id", "store.not_found")
        masked = cs.get_complaint(cid)
        assert (masked["contact_name"], masked["phone"]) == ("王**", "*******5678")
        with pytest.raises(InvalidInput) as refused:          # a reveal without a reason
            cs.get_complaint(cid, True)
        assert refused.value.code == "audit.reveal_reason_required"
        assert cs.get_supervisor(sid)["phone"] == "*******5678"
    with cluster(amqp_uri, timeout=30, actor="officer-li", reason="回访投诉人") as rpc:
        shown = rpc.conduct_supervision.get_complaint(cid, True)
        assert (shown["contact_name"], shown["phone"]) == ("王小红", "13812345678")


def test_http_health_feed_and_metrics(service):
    health = get_json(f"{service}/healthz")
    assert health["status"] == "ok" and health["service"] == SERVICE and health["head"] > 0
    page = get_json(f"{service}/events?after=0&limit=500")
    disclosures = [e for e in page["events"] if e["type"] == "DisclosureRecorded"]
    assert disclosures and disclosures[-1]["data"]["fields"] == ["contact_name", "phone"]
    assert disclosures[-1]["data"]["record_type"] == "complaint"
    assert {e["source"] for e in page["events"]} == {"urn:zhonglou-civil-affairs:conduct_supervision"}
    assert "13812345678" not in str(page)
    with urllib.request.urlopen(f"{service}/metrics", timeout=10) as response:
        text = response.read().decode()
    assert 'event_store_head{service="conduct_supervision"}' in text
    assert 'entrypoint_calls_total{entrypoint="appoint_supervisor",service="conduct_supervision"}' in text
