"""Unit tier: the gateway's GET /metrics (no token, not in the OpenAPI document): answers counted
by route template (never the raw URL), `unmatched` for unknown paths, a duration histogram, the
rate-limited count; `promtool check metrics` accepts the page."""
from __future__ import annotations

import pytest

from services.gateway import metrics
from services.gateway.ratelimit import RateLimiter
from tests.gateway.conftest import CASE_ID
from tests.support import check_with_promtool

CASE_ROUTE = "/social-assistance/cases/{case_id}"


def sample(name: str, **labels) -> float:
    return metrics.REGISTRY.get_sample_value(name, labels) or 0.0


@pytest.fixture
def limited_client(verifier, rpc):
    from fastapi.testclient import TestClient

    from services.gateway.app import create_app
    limiter = RateLimiter(rate=1, burst=2, clock=lambda: 0.0)
    with TestClient(create_app(verifier=verifier, rpc=rpc, limiter=limiter),
                    raise_server_exceptions=False) as client:
        yield client


def test_answers_are_counted_by_route_template_method_and_status(limited_client, auth):
    before = {status: sample("gateway_requests_total", route=CASE_ROUTE, method="GET", status=status)
              for status in ("200", "401", "429")}
    unmatched = sample("gateway_requests_total", route="unmatched", method="GET", status="404")
    limited = sample("gateway_rate_limited_total")
    timed = sample("gateway_request_duration_seconds_count", route=CASE_ROUTE, method="GET")
    reader = auth(roles=["social_assistance.reader"])
    assert limited_client.get(f"/social-assistance/cases/{CASE_ID}", headers=reader).status_code == 200
    assert limited_client.get(f"/social-assistance/cases/{CASE_ID}").status_code == 401
    assert limited_client.get(f"/social-assistance/cases/{CASE_ID}", headers=reader).status_code == 200
    assert limited_client.get(f"/social-assistance/cases/{CASE_ID}", headers=reader).status_code == 429
    assert limited_client.get("/no/such/path/4711", headers=auth(sub="officer-ma")).status_code == 404

    assert sample("gateway_requests_total", route=CASE_ROUTE, method="GET", status="200") == before["200"] + 2
    assert sample("gateway_requests_total", route=CASE_ROUTE, method="GET", status="401") == before["401"] + 1
    # refused before routing, still under its route's template
    assert sample("gateway_requests_total", route=CASE_ROUTE, method="GET", status="429") == before["429"] + 1
    assert sample("gateway_rate_limited_total") == limited + 1
    assert sample("gateway_requests_total", route="unmatched", method="GET", status="404") == unmatched + 1
    assert sample("gateway_request_duration_seconds_count", route=CASE_ROUTE, method="GET") == timed + 4

    page = limited_client.get("/metrics")        # no token, not rate limited
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/plain")
    text = page.text
    assert f'route="{CASE_ROUTE}"' in text and "gateway_request_duration_seconds_bucket" in text
    assert CASE_ID not in text and "/no/such/path" not in text, "raw URLs must never become labels"
    check_with_promtool(page.content)


def test_an_unknown_method_is_other_not_a_new_series(client, auth):
    before = sample("gateway_requests_total", route=CASE_ROUTE, method="other", status="405")
    response = client.request("BREW", f"/social-assistance/cases/{CASE_ID}", headers=auth())
    assert response.status_code == 405
    assert sample("gateway_requests_total", route=CASE_ROUTE, method="other", status="405") == before + 1
    assert "BREW" not in client.get("/metrics").text


def test_metrics_is_not_in_the_openapi_document(client):
    document = client.get("/openapi.json").json()
    assert "/metrics" not in document["paths"] and "/healthz" not in document["paths"]
