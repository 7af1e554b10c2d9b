"""End-to-end tier: the platform's processes plus the gateway process, over real HTTP. An incident
of another area is hidden from the list, refused by its get and by its command, for the same
record; the audit trail the projection keeps answers `GET /audit` (auditor only) through the
reporting service; every department reads `GET /reports/district`."""
from __future__ import annotations

import pytest
import requests

from tests.e2e.conftest import platform  # noqa: F401  (the fixture)
from tests.gateway.test_gateway_e2e import bearer, gateway, is_problem  # noqa: F401  (the fixture)

pytestmark = pytest.mark.e2e


FIGURES = {"deaths": 0, "missing": 0, "relocated": 0, "houses_damaged": 12, "direct_loss": "180000.00"}
REPORT = {"stage": "initial", "figures": FIGURES, "reported_at": "2007-05-14T17:50"}


def register(base, headers, areas) -> str:
    response = requests.post(f"{base}/disaster-relief/incidents", headers=headers, timeout=30, json={
        "incident_type": "hail", "areas": areas, "occurred_at": "2007-05-14T16:20", "description": "冰雹"})
    assert response.status_code == 201, response.text
    return response.json()["result"]


def test_list_get_and_command_honour_areas_and_the_audit_trail_answers(gateway):  # noqa: F811
    base, key, platform, _logs = gateway
    district = bearer(key, "officer-he", "disaster_relief.officer", areas="*")
    beigang = bearer(key, "officer-zhou", "disaster_relief.officer", areas=["beigang"])
    platform.wait_until(lambda: requests.get(f"{base}/disaster-relief/reserves", headers=district,
                                             timeout=30).status_code == 200,
                        what="RPC to disaster_relief through the gateway")
    mine = register(base, district, ["beigang"])
    other = register(base, {**district, "X-Request-ID": "register-xilin"}, ["xilin"])

    listed = requests.get(f"{base}/disaster-relief/list-incidents?limit=10", headers=beigang, timeout=30)
    assert listed.status_code == 200, listed.text
    assert [i["incident_id"] for i in listed.json()["result"]] == [mine]
    assert listed.json()["next"] is None
    everything = requests.get(f"{base}/disaster-relief/list-incidents?limit=1", headers=district, timeout=30)
    assert len(everything.json()["result"]) == 1 and everything.json()["next"]
    is_problem(requests.get(f"{base}/disaster-relief/incidents/{other}", headers=beigang, timeout=30),
               403, "gateway.area_not_held")
    is_problem(requests.post(f"{base}/disaster-relief/incidents/{other}/report", headers=beigang,
                             json=REPORT, timeout=30), 403, "gateway.area_not_held")
    assert requests.get(f"{base}/disaster-relief/incidents/{mine}", headers=beigang, timeout=30).status_code == 200
    reported = requests.post(f"{base}/disaster-relief/incidents/{mine}/report", headers=beigang,
                             json=REPORT, timeout=30)
    assert reported.status_code == 200, reported.text
    untouched = requests.get(f"{base}/disaster-relief/incidents/{other}", headers=district, timeout=30)
    assert untouched.json()["result"]["stages_reported"] == []

    auditor = bearer(key, "auditor-qian", "auditor", areas="*")
    url = f"{base}/audit?aggregate={mine}"

    def trail():
        response = requests.get(url, headers=auditor, timeout=30)
        assert response.status_code == 200, response.text
        return response.json()["result"]
    platform.wait_until(lambda: "IncidentReported" in [e["type"] for e in trail()["events"]],
                        what="the projection's audit trail")
    page = trail()
    assert page["events"][-1]["type"] == "IncidentRegistered"      # newest first
    assert {e["aggregate_id"] for e in page["events"]} == {mine} and page["order"] == "newest first"
    first = requests.get(f"{base}/audit?limit=1", headers=auditor, timeout=30).json()["result"]
    assert len(first["events"]) == 1 and first["next"]
    after = requests.get(f"{base}/audit?limit=1&after={first['next']}", headers=auditor, timeout=30)
    assert after.json()["result"]["events"] != first["events"]
    is_problem(requests.get(url, headers=beigang, timeout=30), 403, "gateway.role_not_held")
    is_problem(requests.get(url, timeout=30), 401, "auth.no_token")
    is_problem(requests.get(f"{base}/audit?limit=0", headers=auditor, timeout=30), 422, "input.below_minimum")

    report = requests.get(f"{base}/reports/district?year=2007", headers=beigang, timeout=30)
    assert report.status_code == 200, report.text
    assert report.json()["result"]["year"] == 2007 and "disaster_relief" in report.json()["result"]
