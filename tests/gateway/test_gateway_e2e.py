"""End-to-end tier: the platform's processes plus the gateway process (`python -m services.gateway`),
driven over real HTTP with tokens from a temporary JWKS: the dibao flow, maker-checker refused by
identity from the token, and the answers' shapes."""
from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from services.gateway import tokens
from tests.e2e.platform import ROOT, Platform, free_port
from tests.support import member

pytestmark = pytest.mark.e2e
PROBLEM = "urn:zhonglou-civil-affairs:problem:"


@pytest.fixture
def gateway(fresh_schemas, amqp_uri, tmp_path):
    platform = Platform(amqp_uri, tmp_path)
    platform.start_all()
    jwks = tokens.write_keys(tmp_path / "keys")
    port = free_port()
    log = open(tmp_path / "gateway.log", "ab")
    process = subprocess.Popen([sys.executable, "-m", "services.gateway"], cwd=ROOT,
                               env={**platform.env, "GATEWAY_JWKS": str(jwks), "GATEWAY_PORT": str(port),
                                    "GATEWAY_RPC_TIMEOUT": "20"},
                               stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        platform.wait_until(lambda: requests.get(base + "/healthz", timeout=2).ok, what="the gateway")
        key = tokens.load_key(tmp_path / "keys")
        yield base, key, platform, tmp_path
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
        platform.stop_all()


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
    standard = f"{base}/social-assistance/standard?area=beigang&registration=urban&month=2007-01"
    platform.wait_until(lambda: requests.get(standard, headers=reader, timeout=30).status_code == 200,
                        what="RPC to social_assistance through the gateway")
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
    approved = requests.post(approve, headers={**wang, "X-Request-ID": "approve-1"},
                             json={"effective_month": "2007-01"}, timeout=30)
    assert approved.status_code == 200, approved.text
    assert approved.headers["X-Request-ID"] == "approve-1"

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
