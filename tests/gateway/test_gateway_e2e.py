"""End-to-end tier: the platform's processes, its gateway (`python -m services.gateway`) among them,
driven over real HTTP with tokens from a temporary JWKS: the dibao flow, maker-checker refused by
identity from the token, and the answers' shapes."""
from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import requests

from services.gateway import tokens
from tests.e2e.conftest import platform  # noqa: F401  (the fixture)
from tests.e2e.platform import ROOT
from tests.support import member

pytestmark = pytest.mark.e2e
PROBLEM = "urn:zhonglou-civil-affairs:problem:"


@pytest.fixture
def gateway(platform, tmp_path):
    """The platform's own gateway (one of its programs), once RPC answers through it."""
    base = platform.gateway_url("")
    key = platform.signing_key()
    reader = bearer(key, "reader-zhao", "social_assistance.reader", areas=["beigang"])
    standard = f"{base}/social-assistance/standard?area=beigang&registration=urban&month=2007-01"
    platform.wait_until(lambda: requests.get(standard, headers=reader, timeout=30).status_code == 200,
                        what="RPC to social_assistance through the gateway")
    return base, key, platform, tmp_path


def bearer(key, sub, *roles, areas=("beigang", "xilin")):
    return {"Authorization": f"Bearer {tokens.issue(key, sub, roles, areas)}"}


def is_problem(response, status, code=None):
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"].startswith("application/problem+json")
    body = response.json()
    assert body["status"] == status and body["type"].startswith(PROBLEM)
    if code:
        assert body["code"] == code and body["type"] == PROBLEM + code
    return body


def test_the_dibao_flow_over_http_with_maker_checker_by_identity(gateway):
    base, key, platform, logs = gateway
    li = bearer(key, "officer-li", "social_assistance.officer", "social_assistance.approver")
    wang = bearer(key, "officer-wang", "social_assistance.approver", areas=["beigang"])
    reader = bearer(key, "reader-zhao", "social_assistance.reader", areas=["beigang"])
    started = time.monotonic()

    household = requests.post(f"{base}/social-assistance/households", headers=li, json={
        "area": "beigang", "registration": "urban",
        "members": [member(income="0"), member(income="100")]}, timeout=30)
    assert household.status_code == 201, household.text
    household_id = household.json()["result"]
    case = requests.post(f"{base}/social-assistance/households/{household_id}/apply", headers=li,
                         json={}, timeout=30)
    assert case.status_code == 200, case.text
    case_id = case.json()["result"]
    verified = requests.post(f"{base}/social-assistance/cases/{case_id}/verify", headers=li,
                             json={"household_monthly_income": "100"}, timeout=30)
    assert verified.status_code == 200, verified.text

    approve = f"{base}/social-assistance/cases/{case_id}/approve"
    # the verifier cannot approve their own case, whatever the client sends
    body = is_problem(requests.post(approve, headers=li, json={"effective_month": "2007-01"}, timeout=30),
                      409, "dibao.maker_checker")
    assert body["title"] == "Conflict"
    is_problem(requests.post(approve, headers=li, json={"officer": "officer-wang"}, timeout=30),
               422, "input.unknown_field")
    # another area's approver is refused before the command
    is_problem(requests.post(approve, headers=bearer(key, "officer-xu", "social_assistance.approver",
                                                     areas=["xilin"]), json={}, timeout=30),
               403, "gateway.area_not_held")
    # an officer without the approver role
    is_problem(requests.post(approve, headers=bearer(key, "officer-ma", "social_assistance.officer"),
                             json={}, timeout=30), 403, "gateway.role_not_held")
    trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
    approved = requests.post(approve, headers={**wang, "X-Request-ID": "approve-1",
                                               "traceparent": f"00-{trace_id}-00f067aa0ba902b7-01"},
                             json={"effective_month": "2007-01"}, timeout=30)
    assert approved.status_code == 200, approved.text
    assert approved.headers["X-Request-ID"] == "approve-1"
    assert approved.headers["traceparent"].startswith(f"00-{trace_id}-")

    got = requests.get(f"{base}/social-assistance/cases/{case_id}", headers=reader, timeout=30)
    assert got.status_code == 200, got.text
    assert got.json()["result"]["area"] == "beigang"
    assert "X-Request-ID" in got.headers

    # the answers' shapes
    for headers in ({}, {"Authorization": "Bearer x.y.z"},
                    {"Authorization": f"Bearer {tokens.issue(key, 'officer-li', [], [], minutes=-1)}"}):
        response = requests.get(f"{base}/social-assistance/cases/{case_id}", headers=headers, timeout=30)
        is_problem(response, 401)
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
    unknown = "6f1c2a3e-0000-4000-8000-0000000000ff"
    is_problem(requests.get(f"{base}/social-assistance/cases/{unknown}", headers=reader, timeout=30), 404)
    is_problem(requests.post(f"{base}/social-assistance/cases/{case_id}/verify", headers=li,
                             json={"household_monthly_income": "-5"}, timeout=30), 422)
    is_problem(requests.post(f"{base}/social-assistance/households", headers=li, data="{oops",
                             timeout=30), 400, "gateway.malformed_json")
    unknown_area = requests.post(f"{base}/social-assistance/households", headers=li, json={
        "area": "beigang", "registration": "martian", "members": [member()]}, timeout=30)
    is_problem(unknown_area, 422, "input.not_one_of")

    served = requests.get(f"{base}/openapi.json", timeout=10).json()
    assert served == json.loads((Path(ROOT) / "docs" / "gateway.openapi.json").read_text())
    assert time.monotonic() - started < 30


def published(platform, event_type: str) -> list[dict]:
    """The social_assistance service's events of a type, as the relay publishes them."""
    page = platform.get("SOCIAL_ASSISTANCE_PORT", "/events?after=0&limit=500")
    return [event for event in page["events"] if event["type"] == event_type]


def test_who_acted_and_the_request_id_reach_the_stored_and_published_event(gateway):
    """X-Request-ID and traceparent go with the command into the stored event, and out as the
    CloudEvent's requestid and traceparent; the actor is the token's subject, never in `data`."""
    base, key, platform, _ = gateway
    li = bearer(key, "officer-li", "social_assistance.officer")
    trace_id = "0af7651916cd43dd8448eb211c80319c"
    response = requests.post(f"{base}/social-assistance/households", timeout=30, json={
        "area": "beigang", "registration": "urban", "members": [member()]},
        headers={**li, "X-Request-ID": "req-42", "traceparent": f"00-{trace_id}-b7ad6b7169203331-01"})
    assert response.status_code == 201, response.text
    (event,) = [e for e in published(platform, "HouseholdRegistered") if e["subject"] == response.json()["result"]]
    assert event["requestid"] == "req-42" and event["actor"] == "officer-li"
    assert event["actorroles"] == "social_assistance.officer"
    assert event["traceparent"].startswith(f"00-{trace_id}-") and event["traceparent"].endswith("-01")
    assert "officer-li" not in json.dumps(event["data"]) and "audit" not in event["data"]
    # ... and into the audit read model, through the bus and the projection
    auditor = bearer(key, "auditor-sun", "auditor", areas="*")
    trail = platform.wait_until(lambda: requests.get(f"{base}/audit", params={"request": "req-42"}, headers=auditor,
                                                     timeout=30).json()["result"]["events"], what="the audit row")
    (row,) = trail
    assert (row["actor"], row["request_id"], row["type"]) == ("officer-li", "req-42", "HouseholdRegistered")
    assert row["traceparent"] == event["traceparent"] and row["aggregate_id"] == event["subject"]
    is_problem(requests.get(f"{base}/audit", params={"request": "req-42"}, headers=li, timeout=30), 403)

    # without the headers: a request id is made, answered, and stored
    response = requests.post(f"{base}/social-assistance/households", headers=li, timeout=30, json={
        "area": "beigang", "registration": "urban", "members": [member()]})
    made = response.headers["X-Request-ID"]
    (event,) = [e for e in published(platform, "HouseholdRegistered") if e["subject"] == response.json()["result"]]
    assert event["requestid"] == made and event["traceparent"] == response.headers["traceparent"]


def test_every_reveal_is_recorded_with_who_why_and_which_record(gateway):
    base, key, platform, _ = gateway
    li = bearer(key, "officer-li", "social_assistance.officer")
    person = member()
    household = requests.post(f"{base}/social-assistance/households", headers=li, timeout=30, json={
        "area": "beigang", "registration": "urban", "members": [person]}).json()["result"]
    url = f"{base}/social-assistance/households/{household}"
    masked = requests.get(url, headers=li, timeout=30).json()["result"]
    assert masked["members"][0]["id_number"] != person["id_number"]
    assert published(platform, "DisclosureRecorded") == []
    is_problem(requests.get(url + "?reveal_identity=true", headers=li, timeout=30), 422,
               "audit.reveal_reason_required")
    assert published(platform, "DisclosureRecorded") == []

    shown = requests.get(url, headers={**li, "X-Request-ID": "reveal-7"}, timeout=30,
                         params={"reveal_identity": "true", "reveal_reason": "home visit check"})
    assert shown.status_code == 200, shown.text
    assert shown.json()["result"]["members"][0]["id_number"] == person["id_number"]
    (disclosure,) = published(platform, "DisclosureRecorded")
    assert disclosure["actor"] == "officer-li" and disclosure["requestid"] == "reveal-7"
    assert disclosure["data"]["record_type"] == "household" and disclosure["data"]["record_id"] == household
    assert disclosure["data"]["fields"] == ["id_number"] and disclosure["data"]["reason"] == "home visit check"
