"""End-to-end tier: the gateway as `make run` starts it (a program of the rendered
supervisord.conf, started by the e2e platform with a JWKS of its own): a dibao household
registered through it and read back, 401 without a token, and its /metrics."""
from __future__ import annotations

import pytest
import requests

from tests.support import member

pytestmark = pytest.mark.e2e
HOUSEHOLDS = "/social-assistance/households"


def test_a_household_registered_through_the_platforms_gateway_reads_back(platform):
    officer = {"Authorization": "Bearer " + platform.token(
        sub="officer-li", roles=["social_assistance.officer"], areas=["beigang"])}
    standard = platform.gateway_url("/social-assistance/standard?area=beigang&registration=urban&month=2007-01")
    # The gateway is up once the service answers through it (the services start as it does).
    platform.wait_until(lambda: requests.get(standard, headers=officer, timeout=30).status_code == 200,
                        what="RPC to social_assistance through the platform's gateway")
    head = member(name="王芳")
    body = {"area": "beigang", "registration": "urban", "members": [head, member(name="李强")]}

    refused = requests.post(platform.gateway_url(HOUSEHOLDS), json=body, timeout=30)
    assert refused.status_code == 401, refused.text
    assert refused.headers["WWW-Authenticate"].startswith("Bearer")
    assert refused.json()["code"] == "auth.no_token"

    registered = requests.post(platform.gateway_url(HOUSEHOLDS), headers=officer, json=body, timeout=30)
    assert registered.status_code == 201, registered.text
    household_id = registered.json()["result"]

    url = platform.gateway_url(f"{HOUSEHOLDS}/{household_id}")
    read = requests.get(url, headers=officer, timeout=30)
    assert read.status_code == 200, read.text
    household = read.json()["result"]
    assert (household["household_id"], household["area"], household["registration"]) == \
        (household_id, "beigang", "urban")
    assert [m["name"] for m in household["members"]] == ["王芳", "李强"]
    assert household["members"][0]["id_number"] != head["id_number"], "masked unless revealed"
    assert requests.get(url, timeout=30).status_code == 401

    route = "/social-assistance/households/{household_id}"
    assert platform.metric("GATEWAY_PORT", "gateway_requests_total", route=HOUSEHOLDS,
                           method="POST", status="201") == 1.0
    assert platform.metric("GATEWAY_PORT", "gateway_requests_total", route=route,
                           method="GET", status="401") == 1.0
