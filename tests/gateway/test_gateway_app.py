"""Unit tier: the app's answers (problem+json shapes, X-Request-ID, identity and areas) with a
recording fake of the RPC proxies; nothing reaches a service before every check passed."""
from __future__ import annotations

import threading

import pytest

from services.gateway.rpc import Unavailable
from shared.errors import Conflict, InvalidInput
from tests.gateway.conftest import CASE_ID, HOUSEHOLD_ID

PROBLEM = "urn:zhonglou-civil-affairs:problem:"
APPROVER = dict(sub="officer-wang", roles=["social_assistance.approver"], areas=["beigang"])


def assert_problem(response, status, code, field=None):
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["type"] == PROBLEM + code and body["code"] == code and body["status"] == status
    assert body["title"] and body["detail"]
    if field is not None:
        assert body["field"] == field
    return body


def test_401_without_or_with_a_bad_token(client, rpc, token):
    url = f"/social-assistance/cases/{CASE_ID}"
    for headers, code in (({}, "auth.no_token"),
                          ({"Authorization": "Bearer nonsense"}, "auth.malformed_token"),
                          ({"Authorization": f"Bearer {token(minutes=-1)}"}, "auth.expired"),
                          ({"Authorization": f"Bearer {token(audience='x')}"}, "auth.wrong_audience")):
        response = client.get(url, headers=headers)
        assert_problem(response, 401, code)
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert rpc.calls == []


def test_officer_comes_from_the_token_and_a_client_cannot_name_it(client, rpc, auth):
    response = client.post(f"/social-assistance/cases/{CASE_ID}/approve", headers=auth(**APPROVER),
                           json={"effective_month": "2007-01"})
    assert response.status_code == 200, response.text
    assert response.json() == {"result": "ok"}
    assert rpc.calls[-1] == ("social_assistance", "approve",
                             {"case_id": CASE_ID, "officer": "officer-wang", "effective_month": "2007-01"})
    calls = len(rpc.calls)
    forged = client.post(f"/social-assistance/cases/{CASE_ID}/approve", headers=auth(**APPROVER),
                         json={"officer": "officer-li"})
    assert_problem(forged, 422, "input.unknown_field", "officer")
    in_body = client.post(f"/social-assistance/cases/{CASE_ID}/approve", headers=auth(**APPROVER),
                          json={"case_id": CASE_ID})
    assert_problem(in_body, 422, "input.unknown_field", "case_id")
    assert len(rpc.calls) == calls


def test_area_via_resolves_the_record_first_and_refuses_another_area(client, rpc, auth):
    rpc.records[CASE_ID]["area"] = "xilin"
    response = client.post(f"/social-assistance/cases/{CASE_ID}/approve", headers=auth(**APPROVER), json={})
    assert_problem(response, 403, "gateway.area_not_held", "case_id")
    assert rpc.methods() == ["get_case"]


def test_an_area_argument_outside_the_token_is_403_before_any_call(client, rpc, auth):
    body = {"area": "xilin", "registration": "urban",
            "members": [{"id_number": "320402195001010011", "name": "Li", "birth_date": "1950-01-01"}]}
    response = client.post("/social-assistance/households", headers=auth(areas=["beigang"]), json=body)
    assert_problem(response, 403, "gateway.area_not_held", "area")
    assert rpc.calls == []


def test_district_wide_commands_need_the_whole_district(client, rpc, auth):
    finance = dict(roles=["social_assistance.finance"])
    assert_problem(client.post("/social-assistance/run-payments", headers=auth(**finance, areas=["beigang"]),
                               json={"month": "2007-01"}), 403, "gateway.area_not_held")
    assert client.post("/social-assistance/run-payments", headers=auth(**finance, areas="*"),
                       json={"month": "2007-01"}).status_code == 200


def test_403_for_a_role_not_held_and_for_reveal_without_the_right(client, rpc, auth):
    assert_problem(client.post(f"/social-assistance/cases/{CASE_ID}/approve", headers=auth(), json={}),
                   403, "gateway.role_not_held")
    reader = auth(roles=["social_assistance.reader"])
    url = f"/social-assistance/households/{HOUSEHOLD_ID}"
    assert_problem(client.get(url + "?reveal_identity=true", headers=reader), 403,
                   "gateway.reveal_not_held", "reveal_identity")
    assert client.get(url + "?reveal_identity=false", headers=reader).status_code == 200
    assert_problem(client.get(url + "?reveal_identity=true", headers=auth()), 422,
                   "audit.reveal_reason_required", "reveal_reason")
    assert client.get(url + "?reveal_identity=true&reveal_reason=appeal+hearing", headers=auth()).status_code == 200
    assert rpc.calls[-1][2] == {"household_id": HOUSEHOLD_ID, "reveal_identity": True}
    assert rpc.contexts[-1]["reason"] == "appeal hearing"
    assert all("reason" not in context for context in rpc.contexts[:-1])  # area lookups reveal nothing


def test_a_records_area_is_looked_up_once(client, rpc, auth):
    """No record changes its area: the second command on a case needs no lookup (an unknown
    id is not remembered, it may be registered later)."""
    url = f"/social-assistance/cases/{CASE_ID}/verify"
    for _ in range(3):
        assert client.post(url, headers=auth(), json={"household_monthly_income": "100"}).status_code == 200
    lookups = [call for call in rpc.calls if call[1] == "get_case"]
    assert len(lookups) == 1 and [c[1] for c in rpc.calls].count("verify") == 3
    unknown = "6f1c2a3e-0000-4000-8000-0000000000ee"
    for _ in range(2):
        response = client.post(f"/social-assistance/cases/{unknown}/verify", headers=auth(),
                               json={"household_monthly_income": "100"})
        assert response.status_code == 404
    assert [call[2] for call in rpc.calls].count({"case_id": unknown}) == 2


def test_422_from_the_declaration_before_any_call_and_400_for_malformed_json(client, rpc, auth):
    url = f"/social-assistance/cases/{CASE_ID}/verify"
    assert_problem(client.post(url, headers=auth(), json={"household_monthly_income": "1e400"}),
                   422, "input.not_a_number", "household_monthly_income")
    assert_problem(client.post(url, headers=auth(), json={}), 422, "input.required", "household_monthly_income")
    assert_problem(client.post(url, headers=auth(), json=[1]), 422, "input.not_an_object")
    assert_problem(client.post(url, headers={**auth(), "Content-Type": "application/json"},
                               content=b"{not json"), 400, "gateway.malformed_json")
    assert_problem(client.post("/social-assistance/cases/not-a-uuid/verify", headers=auth(),
                               json={"household_monthly_income": "0"}), 422, "input.not_a_uuid", "case_id")
    assert_problem(client.get("/social-assistance/standard?area=beigang&registration=urban&month=2007-13",
                              headers=auth(areas="*")), 422, "input.not_a_month", "month")
    assert_problem(client.get("/social-assistance/donation-totals?year=abc", headers=auth(areas="*")),
                   422, "input.not_a_whole_number", "year")
    assert "verify" not in rpc.methods() and "standard" not in rpc.methods()


@pytest.mark.parametrize("error, status, code", [
    (Conflict("officer", "approval must be by another officer", code="dibao.maker_checker"), 409,
     "dibao.maker_checker"),
    (InvalidInput("effective_month", "before the case", code="input.date_out_of_range"), 422,
     "input.date_out_of_range"),
    (Unavailable("social_assistance did not answer"), 503, "gateway.service_unavailable"),
])
def test_domain_errors_and_unavailability_map_to_their_status(client, rpc, auth, error, status, code):
    rpc.answer = error
    response = client.post(f"/social-assistance/cases/{CASE_ID}/approve", headers=auth(**APPROVER), json={})
    assert_problem(response, status, code)


def test_404_for_an_unknown_record_and_an_unknown_route(client, rpc, auth):
    unknown = "6f1c2a3e-0000-4000-8000-0000000000ff"
    assert_problem(client.post(f"/social-assistance/cases/{unknown}/approve", headers=auth(**APPROVER),
                               json={}), 404, "store.not_found")
    assert rpc.methods() == ["get_case"]
    assert_problem(client.get("/no/such/route"), 404, "gateway.no_route")
    assert_problem(client.get("/social-assistance/run-payments"), 405, "gateway.method_not_allowed")


def test_a_real_fault_is_a_problem_500_and_logged(client, rpc, auth, caplog):
    rpc.answer = RuntimeError("boom")
    response = client.post(f"/social-assistance/cases/{CASE_ID}/approve", headers=auth(**APPROVER), json={})
    assert_problem(response, 500, "gateway.internal")
    assert "boom" not in response.text
    assert any("unhandled error" in r.message for r in caplog.records)


def test_every_response_has_x_request_id_taken_from_the_request_or_made(client, auth):
    mine = client.get(f"/social-assistance/cases/{CASE_ID}", headers={**auth(), "X-Request-ID": "req-123"})
    assert mine.headers["X-Request-ID"] == "req-123"
    for response in (client.get("/openapi.json"), client.get("/nowhere"),
                     client.get(f"/social-assistance/cases/{CASE_ID}")):
        assert len(response.headers["X-Request-ID"]) >= 16
    assert client.get("/healthz", headers={"X-Request-ID": "bad id <x>"}).headers["X-Request-ID"] != "bad id <x>"


def test_register_answers_201(client, rpc, auth):
    rpc.answer = HOUSEHOLD_ID
    body = {"area": "beigang", "registration": "urban",
            "members": [{"id_number": "32040219500101001X", "name": "Li", "birth_date": "1950-01-01"}]}
    response = client.post("/social-assistance/households", headers=auth(), json=body)
    assert response.status_code == 201, response.text
    assert response.json() == {"result": HOUSEHOLD_ID}


def test_one_proxy_per_thread_reused(monkeypatch):
    from services.gateway import rpc as gateway_rpc
    started = []

    class FakeClusterRpcProxy:
        def __init__(self, config, context_data=None, timeout=None):
            self.stopped = False

        def start(self):
            started.append(threading.get_ident())
            owner = threading.get_ident()

            class Service:
                def __getattr__(self, method):
                    def call(**kwargs):
                        assert threading.get_ident() == owner, "a proxy used from another thread"
                        return method
                    return call

            class Cluster:
                def __getattr__(self, service):
                    return Service()
            return Cluster()

        def stop(self):
            self.stopped = True

    monkeypatch.setattr(gateway_rpc, "ClusterRpcProxy", FakeClusterRpcProxy)
    proxies = gateway_rpc.ThreadProxies("amqp://x/")

    def work():
        for _ in range(5):
            assert proxies.call("social_assistance", "get_case", case_id="x") == "get_case"
    threads = [threading.Thread(target=work) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    work()
    assert proxies.started == len(started) == 4     # 3 threads and this one, 20 calls
    proxies.stop()


@pytest.mark.parametrize("body", [
    b"null", b"[]", b'"text"', b"1e400", b'{"household_monthly_income": 1e400}',
    b'{"household_monthly_income": NaN}', b'{"household_monthly_income": "12.345"}',
    b'{"household_monthly_income": [[[[]]]]}', b'{"household_monthly_income": {"a": 1}}',
    b'{"household_monthly_income": "0", "assets": true}', b'{"household_monthly_income": "0\\u0000"}',
    b'{"household_monthly_income": 1' + b"0" * 5000 + b"}", b"[" * 100000 + b"]" * 100000,
    "{\"household_monthly_income\": \"\u4e00\"}".encode(), b"\xff\xfe", b'{"x": 1, "x": 2}',
])
def test_client_input_is_never_a_500(client, rpc, auth, body):
    response = client.post(f"/social-assistance/cases/{CASE_ID}/verify", content=body,
                           headers={**auth(), "Content-Type": "application/json"})
    assert 400 <= response.status_code < 500, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert "verify" not in rpc.methods()


@pytest.mark.parametrize("query", ["year=", "year=1e3", "year=99999999999999999999999", "year=2007&year=2008",
                                   "year=2007&other=1", "year=%00", "reveal_identity=maybe"])
def test_bad_query_parameters_are_422(client, rpc, auth, query):
    response = client.get(f"/social-assistance/donation-totals?{query}", headers=auth(areas="*"))
    assert response.status_code == 422, response.text
    assert rpc.calls == []
