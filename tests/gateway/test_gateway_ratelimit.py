"""Unit tier: the per-client rate limit, as a token bucket on a fake clock and through the app
(fake RPC): the request after a burst gets 429 gateway.rate_limited with Retry-After, before any
RPC, while another client is unaffected."""
from __future__ import annotations

import pytest

from services.gateway.ratelimit import RateLimiter, SettingError, client_of
from tests.gateway.conftest import CASE_ID
from tests.gateway.test_gateway_app import assert_problem


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def test_a_burst_then_the_refill_rate_and_retry_after_in_whole_seconds():
    clock = Clock()
    limiter = RateLimiter(rate=2, burst=3, clock=clock)
    assert [limiter.take("a") for _ in range(3)] == [0, 0, 0]
    assert limiter.take("a") == 1            # half a second to one request: rounded up to 1
    clock.now += 0.5
    assert limiter.take("a") == 0            # refilled one
    assert limiter.take("a") == 1
    clock.now += 100                         # never more than the burst
    assert [limiter.take("a") for _ in range(4)] == [0, 0, 0, 1]


def test_retry_after_is_the_whole_seconds_to_the_next_request_at_a_slow_rate():
    clock = Clock()
    limiter = RateLimiter(rate=0.2, burst=1, clock=clock)      # one every 5 s
    assert limiter.take("a") == 0
    assert limiter.take("a") == 5
    clock.now += 3.2
    assert limiter.take("a") == 2            # 1.8 s left: 2
    clock.now += 1.9                         # (1.8 would be 0.9999... in floating point)
    assert limiter.take("a") == 0


def test_a_refused_request_takes_nothing_and_clients_are_separate():
    clock = Clock()
    limiter = RateLimiter(rate=1, burst=1, clock=clock)
    assert limiter.take("a") == 0
    assert all(limiter.take("a") == 1 for _ in range(50))   # hammering does not push it further
    assert limiter.take("b") == 0
    clock.now += 1
    assert limiter.take("a") == 0


def test_the_buckets_kept_are_bounded():
    limiter = RateLimiter(rate=1, burst=1, clock=Clock(), max_clients=3)
    for client in "abcde":
        limiter.take(client)
    assert list(limiter._buckets) == ["c", "d", "e"]


def test_zero_disables_and_bad_settings_are_refused_naming_the_variable():
    assert not RateLimiter.from_env({"GATEWAY_RATE_LIMIT": "0"}).enabled
    assert RateLimiter.from_env({"GATEWAY_RATE_LIMIT": "0"}).take("a") == 0
    default = RateLimiter.from_env({})
    assert (default.rate, default.burst, default.enabled) == (50.0, 100, True)
    for env, field in (({"GATEWAY_RATE_LIMIT": "fast"}, "GATEWAY_RATE_LIMIT"),
                       ({"GATEWAY_RATE_LIMIT": "-1"}, "GATEWAY_RATE_LIMIT"),
                       ({"GATEWAY_RATE_LIMIT": "nan"}, "GATEWAY_RATE_LIMIT"),
                       ({"GATEWAY_RATE_LIMIT": "1e9"}, "GATEWAY_RATE_LIMIT"),
                       ({"GATEWAY_RATE_BURST": "0"}, "GATEWAY_RATE_BURST"),
                       ({"GATEWAY_RATE_BURST": "1.5"}, "GATEWAY_RATE_BURST")):
        with pytest.raises(SettingError) as raised:
            RateLimiter.from_env(env)
        assert raised.value.field == field and raised.value.code == "gateway.bad_rate_setting"
        assert raised.value.rule


def test_the_client_is_the_verified_subject_else_the_address(verifier, token):
    assert client_of(verifier, f"Bearer {token(sub='officer-li')}", "10.0.0.1") == "sub:officer-li"
    assert client_of(verifier, "Bearer forged.token.here", "10.0.0.1") == "address:10.0.0.1"
    assert client_of(verifier, None, None) == "address:unknown"


# --- through the app ---------------------------------------------------------------------------
@pytest.fixture
def limited(verifier, rpc):
    from fastapi.testclient import TestClient

    from services.gateway.app import create_app
    limiter = RateLimiter(rate=1, burst=3, clock=Clock())      # the clock never moves
    with TestClient(create_app(verifier=verifier, rpc=rpc, limiter=limiter),
                    raise_server_exceptions=False) as client:
        yield client


def test_the_request_after_a_burst_is_429_with_retry_after_and_another_client_is_unaffected(
        limited, rpc, auth):
    url = f"/social-assistance/cases/{CASE_ID}"
    li = auth(sub="officer-li", roles=["social_assistance.reader"])
    assert [limited.get(url, headers=li).status_code for _ in range(3)] == [200, 200, 200]
    calls = len(rpc.calls)
    refused = limited.get(url, headers={**li, "X-Request-ID": "burst-4"})
    body = assert_problem(refused, 429, "gateway.rate_limited")
    assert int(refused.headers["Retry-After"]) >= 1
    assert refused.headers["X-Request-ID"] == "burst-4"
    assert "requests/s" in body["detail"]
    assert len(rpc.calls) == calls, "a limited request reaches no service"
    # a different subject has a bucket of its own, even from the same address
    wang = auth(sub="officer-wang", roles=["social_assistance.reader"])
    assert limited.get(url, headers=wang).status_code == 200
    # probes and Prometheus are never limited
    assert limited.get("/healthz").status_code == 200
    assert limited.get("/metrics").status_code == 200


def test_requests_without_a_valid_token_are_limited_per_address(limited, rpc, auth):
    url = f"/social-assistance/cases/{CASE_ID}"
    assert [limited.get(url).status_code for _ in range(3)] == [401, 401, 401]
    assert_problem(limited.get(url, headers={"Authorization": "Bearer x.y.z"}), 429, "gateway.rate_limited")
    # ... which does not touch an officer's own bucket
    assert limited.get(url, headers=auth(roles=["social_assistance.reader"])).status_code == 200


def test_every_operation_documents_the_429(client):
    document = client.get("/openapi.json").json()
    operations = [op for path in document["paths"].values() for op in path.values()]
    assert operations and all(op["responses"].get("429") == {"$ref": "#/components/responses/429"}
                              for op in operations)
    header = document["components"]["responses"]["429"]["headers"]["Retry-After"]
    assert header["required"] and header["schema"] == {"type": "integer", "minimum": 1}
