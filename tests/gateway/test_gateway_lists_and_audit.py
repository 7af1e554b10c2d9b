"""Unit tier: list queries show only the caller's areas and are paged; the same out-of-area record
is hidden from the list, refused by its get and by its commands; /audit only for the auditor and
the administrator; /reports/district for every role. A recording fake of the RPC proxies."""
from __future__ import annotations

import pytest

from tests.gateway.test_gateway_app import assert_problem

BEIGANG = "7a000000-0000-4000-8000-000000000001"
XILIN = "7a000000-0000-4000-8000-000000000002"
BOTH = "7a000000-0000-4000-8000-000000000003"
RELIEF = dict(sub="officer-zhou", roles=["disaster_relief.officer"], areas=["beigang"])
AUDITOR = dict(sub="auditor-qian", roles=["auditor"], areas="*")


def incident(incident_id, *areas):
    return {"incident_id": incident_id, "incident_type": "hail", "areas": list(areas)}


@pytest.fixture
def incidents(rpc):
    listed = [incident(BEIGANG, "beigang"), incident(XILIN, "xilin"), incident(BOTH, "beigang", "xilin")]
    for item in listed:
        rpc.records[item["incident_id"]] = item
    rpc.answer = listed
    return listed


def ids(response):
    assert response.status_code == 200, response.text
    return [item["incident_id"] for item in response.json()["result"]]


def test_list_get_and_command_honour_the_same_areas_for_an_out_of_area_record(client, rpc, auth, incidents):
    headers = auth(**RELIEF)
    listed = client.get("/disaster-relief/list-incidents", headers=headers)
    assert ids(listed) == [BEIGANG] and listed.json()["next"] is None
    for hidden in (XILIN, BOTH):       # an incident in two areas needs both, in every surface
        assert_problem(client.get(f"/disaster-relief/incidents/{hidden}", headers=headers),
                       403, "gateway.area_not_held", "incident_id")
        assert_problem(client.post(f"/disaster-relief/incidents/{hidden}/close-incident", headers=headers,
                                   json={}), 403, "gateway.area_not_held", "incident_id")
    assert "close_incident" not in rpc.methods()
    rpc.answer = "ok"
    assert client.get(f"/disaster-relief/incidents/{BEIGANG}", headers=headers).status_code == 200
    assert client.post(f"/disaster-relief/incidents/{BEIGANG}/close-incident", headers=headers,
                       json={}).status_code == 200
    assert rpc.calls[-1] == ("disaster_relief", "close_incident",
                             {"incident_id": BEIGANG, "officer": "officer-zhou", "closed_on": None})


def test_a_whole_district_token_sees_every_item_and_an_item_without_area_only_it(client, rpc, auth, incidents):
    rpc.answer = [*incidents, {"incident_id": "no-area"}]
    everything = client.get("/disaster-relief/list-incidents", headers=auth(**{**RELIEF, "areas": "*"}))
    assert ids(everything) == [BEIGANG, XILIN, BOTH, "no-area"]
    assert ids(client.get("/disaster-relief/list-incidents",
                          headers=auth(**{**RELIEF, "areas": ["beigang", "xilin"]}))) == [BEIGANG, XILIN, BOTH]


def test_a_list_by_area_field_reserves(client, rpc, auth):
    rpc.answer = [{"area": code, "balance": "0.00"} for code in ("beigang", "xilin", "xinzha")]
    response = client.get("/disaster-relief/reserves", headers=auth(**RELIEF))
    assert response.status_code == 200, response.text
    assert [r["area"] for r in response.json()["result"]] == ["beigang"]


def test_pages_of_a_list_cover_it_once_in_order(client, rpc, auth):
    rpc.answer = [incident(f"7a000000-0000-4000-8000-{n:012d}", "beigang" if n % 3 else "xilin")
                  for n in range(1, 13)]
    wanted = [item["incident_id"] for item in rpc.answer if item["areas"] == ["beigang"]]
    headers = auth(**RELIEF)
    seen, cursor, pages = [], None, 0
    while True:
        url = "/disaster-relief/list-incidents?limit=3" + (f"&cursor={cursor}" if cursor else "")
        response = client.get(url, headers=headers)
        page = ids(response)
        assert len(page) <= 3
        seen += page
        pages += 1
        cursor = response.json()["next"]
        if cursor is None:
            break
    assert seen == wanted and pages == 3          # 8 items: 3 + 3 + 2
    default = client.get("/disaster-relief/list-incidents", headers=headers)
    assert ids(default) == wanted and default.json()["next"] is None   # default limit 50


def test_a_page_resumes_after_its_last_item_when_items_are_added_before_it(client, rpc, auth):
    items = [incident(f"7a000000-0000-4000-8000-{n:012d}", "beigang") for n in range(1, 6)]
    rpc.answer = list(items)
    headers = auth(**RELIEF)
    first = client.get("/disaster-relief/list-incidents?limit=2", headers=headers)
    assert ids(first) == [items[0]["incident_id"], items[1]["incident_id"]]
    rpc.answer = [incident("7a000000-0000-4000-8000-00000000000a", "beigang"), *items]
    second = client.get(f"/disaster-relief/list-incidents?limit=2&cursor={first.json()['next']}",
                        headers=headers)
    assert ids(second) == [items[2]["incident_id"], items[3]["incident_id"]]


@pytest.mark.parametrize("query, code", [
    ("limit=0", "input.below_minimum"), ("limit=201", "input.above_ceiling"),
    ("limit=many", "input.not_a_whole_number"), ("cursor=not!base64", "input.bad_format"),
    ("cursor=bm90LWpzb24", "input.bad_cursor"), ("cursor=WzEsIngiXQ", "input.bad_cursor"),
    ("cursor=" + "A" * 201, "input.too_long"), ("offset=2", "input.unknown_field"),
])
def test_page_parameters_are_bounded(client, rpc, auth, incidents, query, code):
    response = client.get(f"/disaster-relief/list-incidents?{query}", headers=auth(**RELIEF))
    assert_problem(response, 422, code)
    assert rpc.calls == []


def test_a_cursor_of_other_arguments_or_other_areas_is_refused(client, rpc, auth):
    rpc.answer = [incident(f"7a000000-0000-4000-8000-{n:012d}", "beigang") for n in range(1, 6)]
    first = client.get("/disaster-relief/list-incidents?limit=2", headers=auth(**RELIEF))
    cursor = first.json()["next"]
    assert cursor
    for url, headers in ((f"/disaster-relief/list-incidents?year=2007&limit=2&cursor={cursor}", auth(**RELIEF)),
                         (f"/disaster-relief/list-incidents?limit=2&cursor={cursor}",
                          auth(**{**RELIEF, "areas": ["beigang", "xilin"]})),
                         (f"/disaster-relief/late-reports?limit=2&cursor={cursor}", auth(**RELIEF))):
        assert_problem(client.get(url, headers=headers), 422, "input.bad_cursor", "cursor")


def test_page_parameters_are_only_for_lists(client, rpc, auth):
    assert_problem(client.get(f"/disaster-relief/incidents/{BEIGANG}?limit=2", headers=auth(**RELIEF)),
                   422, "input.unknown_field", "limit")


# --- GET /audit and GET /reports/district ------------------------------------------------------

PAGE = {"order": "newest first", "events": [], "next": None, "initialised": True, "note": None}


def test_audit_answers_the_auditor_and_the_administrator(client, rpc, auth):
    rpc.answer = PAGE
    response = client.get("/audit?actor=officer-li&limit=10", headers=auth(**AUDITOR))
    assert response.status_code == 200, response.text
    assert response.json() == {"result": PAGE}
    assert rpc.calls[-1] == ("reporting", "audit", {
        "aggregate": None, "actor": "officer-li", "request": None, "since": None, "until": None,
        "limit": 10, "after": None})
    admin = auth(sub="admin-sun", roles=["administrator"], areas="*")
    assert client.get(f"/audit?aggregate={BEIGANG}", headers=admin).status_code == 200


def test_audit_is_refused_to_everyone_else(client, rpc, auth, token):
    assert_problem(client.get("/audit"), 401, "auth.no_token")
    for roles in (["disaster_relief.officer"], ["social_assistance.approver"], ["welfare.reader"], []):
        assert_problem(client.get("/audit", headers=auth(roles=roles, areas="*")), 403,
                       "gateway.role_not_held")
    # the trail is the whole district's: an auditor of some areas only does not see it
    assert_problem(client.get("/audit", headers=auth(**{**AUDITOR, "areas": ["beigang"]})), 403,
                   "gateway.area_not_held")
    assert rpc.calls == []


@pytest.mark.parametrize("query, field, code", [
    ("limit=0", "limit", "input.below_minimum"), ("limit=501", "limit", "input.above_ceiling"),
    ("aggregate=42", "aggregate", "input.not_a_uuid"), ("since=yesterday", "since", "input.not_a_datetime"),
    ("request=a%20b", "request", "input.bad_format"), ("actor=" + "x" * 129, "actor", "input.too_long"),
    ("after=%21%21", "after", "input.bad_format"), ("who=me", "who", "input.unknown_field"),
])
def test_audit_arguments_are_checked_before_any_call(client, rpc, auth, query, field, code):
    assert_problem(client.get(f"/audit?{query}", headers=auth(**AUDITOR)), 422, code, field)
    assert rpc.calls == []


def test_the_district_report_is_read_by_every_role_in_any_area(client, rpc, auth):
    from services.gateway import policy
    rpc.answer = {"service": "reporting", "year": 2007}
    for role in policy.POLICY:
        response = client.get("/reports/district?year=2007", headers=auth(roles=[role], areas=["xilin"]))
        assert response.status_code == 200, (role, response.text)
    assert rpc.calls[-1] == ("reporting", "report", {"year": 2007})
    assert_problem(client.get("/reports/district"), 401, "auth.no_token")
    assert_problem(client.get("/reports/district", headers=auth(roles=["nobody.known"])), 403,
                   "gateway.role_not_held")
    assert_problem(client.get("/reports/district?year=1800", headers=auth()), 422,
                   "input.below_minimum", "year")
