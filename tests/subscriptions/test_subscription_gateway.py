"""Unit tier: the subscription routes of the gateway with a recording fake RPC: 201 + Location
on create (the secret in that answer only), administrators only (403 before any call), bad
filters and bounds 422 with their codes before any call, lists paged."""
from __future__ import annotations

from tests.gateway.test_gateway_app import assert_problem

SID = "6f1c2a3e-0000-4000-8000-0000000000a1"
ADMIN = dict(sub="admin-zhou", roles=["administrator"], areas="*")
BODY = {"subscriber": "City Statistics Bureau", "purpose": "monthly caseload statistics",
        "legal_basis": "statistics", "source": "social_assistance",
        "sink": "https://stats.example/hooks", "filters": [{"prefix": {"type": "Case"}}]}


def test_create_is_201_with_location(client, rpc, auth):
    rpc.answer = {"id": SID, "state": "created", "secret": "whsec_x"}
    response = client.post("/subscriptions", headers=auth(**ADMIN), json=BODY)
    assert response.status_code == 201, response.text
    assert response.headers["Location"] == f"/subscriptions/{SID}"
    assert response.json()["result"]["secret"] == "whsec_x"
    service, method, kwargs = rpc.calls[-1]
    assert (service, method) == ("subscriptions", "register_subscription")
    assert kwargs["filters"] == BODY["filters"] and kwargs["protocol"] == "HTTP"
    assert kwargs["after"] is None and kwargs["since"] is None      # the application starts at 0
    assert rpc.contexts[-1]["actor"] == "admin-zhou"


def test_other_routes_are_200_without_location(client, rpc, auth):
    rpc.records[SID] = {"id": SID, "state": "active"}
    got = client.get(f"/subscriptions/{SID}", headers=auth(**ADMIN))
    assert got.status_code == 200 and "Location" not in got.headers and got.json()["result"]["id"] == SID
    rpc.answer = {"id": SID, "state": "created"}
    for path, body in ((f"/subscriptions/{SID}", {"sink": "https://stats.example/v2"}),
                       (f"/subscriptions/{SID}/rotate-secret", {}),
                       (f"/subscriptions/{SID}/suspend", {"reason": "maintenance"}),
                       (f"/subscriptions/{SID}/resume", {}),
                       (f"/subscriptions/{SID}/replay", {"after": 12}),
                       (f"/subscriptions/{SID}/delete", {})):
        response = client.post(path, headers=auth(**ADMIN), json=body)
        assert response.status_code == 200, (path, response.text)
    assert [m for _, m, _ in rpc.calls[1:]] == ["update_subscription", "rotate_secret", "suspend_subscription",
                                                "resume_subscription", "replay_subscription",
                                                "delete_subscription"]


def test_list_is_paged(client, rpc, auth):
    rpc.answer = [{"id": f"6f1c2a3e-0000-4000-8000-0000000000{i:02d}"} for i in range(3)]
    first = client.get("/subscriptions?limit=2&state=active", headers=auth(**ADMIN))
    assert first.status_code == 200, first.text
    assert len(first.json()["result"]) == 2 and first.json()["next"]
    assert rpc.calls[-1] == ("subscriptions", "list_subscriptions", {"state": "active"})


def test_only_administrators(client, rpc, auth):
    for roles in (["social_assistance.officer"], ["auditor"], ["welfare.reader"]):
        response = client.post("/subscriptions", headers=auth(sub="x", roles=roles, areas="*"), json=BODY)
        assert_problem(response, 403, "gateway.role_not_held")
    officer = auth(sub="x", roles=["social_assistance.officer"], areas="*")
    assert_problem(client.get("/subscriptions", headers=officer), 403, "gateway.role_not_held")
    assert_problem(client.post(f"/subscriptions/{SID}/rotate-secret", headers=officer, json={}), 403,
                   "gateway.role_not_held")
    assert rpc.calls == []


def test_an_administrator_of_some_areas_only_is_refused(client, rpc, auth):
    response = client.post("/subscriptions", headers=auth(**{**ADMIN, "areas": ["beigang"]}), json=BODY)
    assert_problem(response, 403, "gateway.area_not_held")
    assert rpc.calls == []


def test_bad_filters_and_bounds_are_422_before_any_call(client, rpc, auth):
    cases = (({"filters": [{"sql": "type = 'x'"}]}, "filters[0].sql", "subscription.unsupported_dialect"),
             ({"filters": [{"regex": {"type": "x"}}]}, "filters[0].regex", "subscription.unknown_dialect"),
             ({"filters": [{"not": {"not": {"not": {"exact": {"type": "x"}}}}}]}, "filters[0].not.not.not",
              "subscription.filter_too_deep"),
             ({"filters": {"exact": {"type": "x"}}}, "filters", "subscription.filters_not_a_list"),
             ({"legal_basis": "curiosity"}, "legal_basis", "input.not_one_of"),
             ({"sink": "x" * 501}, "sink", "input.too_long"),
             ({"types": ["T"] * 51}, "types", "input.too_many_items"),
             ({"config": {f"k{i}": i for i in range(21)}}, "config", "subscription.too_many_settings"),
             ({"protocolsettings": {"a": [1]}}, "protocolsettings.a", "subscription.bad_setting_value"),
             ({"after": -1}, "after", "input.below_minimum"),
             ({"secret": "whsec_mine"}, "secret", "input.unknown_field"))
    for change, field, code in cases:
        response = client.post("/subscriptions", headers=auth(**ADMIN), json={**BODY, **change})
        assert_problem(response, 422, code, field)
    assert_problem(client.get("/subscriptions/not-a-uuid", headers=auth(**ADMIN)), 422, "input.not_a_uuid")
    assert rpc.calls == []


def test_the_openapi_document_shows_the_routes(client):
    paths = client.get("/openapi.json").json()["paths"]
    create = paths["/subscriptions"]["post"]
    assert create["x-role"] == "subscriptions.administrator"
    assert "Location" in create["responses"]["201"]["headers"]
    assert {"get", "post"} <= set(paths["/subscriptions/{subscription_id}"])
    assert "/subscriptions/{subscription_id}/rotate-secret" in paths


def test_a_path_with_two_methods_lists_both_in_allow(client, auth):
    for path, methods in (("/subscriptions", {"GET", "POST"}),
                          (f"/subscriptions/{SID}", {"GET", "POST"})):
        response = client.request("OPTIONS", path, headers=auth(**ADMIN))
        assert response.status_code == 405
        assert {m.strip() for m in response.headers["Allow"].split(",")} == methods
