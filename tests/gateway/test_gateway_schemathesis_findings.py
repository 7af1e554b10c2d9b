"""Unit tier: regression tests of the defects schemathesis found against the live gateway
(tests/e2e/test_gateway_schemathesis.py), each pinned here without infrastructure."""
from __future__ import annotations

import pytest


def test_an_argument_named_service_or_method_reaches_the_rpc(monkeypatch):
    """welfare.place_order has an argument `service`: it collided with ThreadProxies.call's own
    `service` parameter (TypeError, a 500 for a valid request)."""
    from services.gateway import rpc as gateway_rpc
    seen = []

    class FakeClusterRpcProxy:
        def __init__(self, config, context_data=None, timeout=None):
            pass

        def start(self):
            class Service:
                def __init__(self, name):
                    self.name = name

                def __getattr__(self, method):
                    def call(**kwargs):
                        seen.append((self.name, method, kwargs))
                        return "order-1"
                    return call

            class Cluster:
                def __getattr__(self, service):
                    return Service(service)
            return Cluster()

        def stop(self):
            pass

    monkeypatch.setattr(gateway_rpc, "ClusterRpcProxy", FakeClusterRpcProxy)
    proxies = gateway_rpc.ThreadProxies("amqp://x/")
    try:
        assert proxies.call("welfare", "place_order", service="meals", method="cash") == "order-1"
    finally:
        proxies.stop()
    assert seen == [("welfare", "place_order", {"service": "meals", "method": "cash"})]


@pytest.mark.parametrize("method, url, body", [
    ("post", "/social-assistance/households", b"[]"),                      # not an object
    ("post", "/social-assistance/households", b"{oops"),                   # not JSON
    ("get", "/social-assistance/donation-totals?year=2007&year=2008", None),  # a parameter twice
])
def test_no_token_is_401_whatever_the_body_or_the_parameters(client, rpc, method, url, body):
    """The token is checked first: the body was parsed (400/422) before it was."""
    response = client.request(method.upper(), url, content=body,
                              headers={"Content-Type": "application/json"} if body else {})
    assert response.status_code == 401, response.text
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert response.json()["code"] == "auth.no_token"
    assert rpc.calls == []


def test_a_service_whose_database_is_away_is_503_not_500(monkeypatch):
    """The reporting service answers a RemoteError of psycopg's OperationalError while its
    database is down: the gateway says 503 (try again), as for an unreachable service."""
    from nameko.exceptions import RemoteError

    from services.gateway import rpc as gateway_rpc

    class DownClusterRpcProxy:
        def __init__(self, config, context_data=None, timeout=None):
            pass

        def start(self):
            class Service:
                def __getattr__(self, method):
                    def call(**kwargs):
                        raise RemoteError("OperationalError", "connection refused")
                    return call

            class Cluster:
                def __getattr__(self, service):
                    return Service()
            return Cluster()

        def stop(self):
            pass

    monkeypatch.setattr(gateway_rpc, "ClusterRpcProxy", DownClusterRpcProxy)
    proxies = gateway_rpc.ThreadProxies("amqp://x/")
    try:
        with pytest.raises(gateway_rpc.Unavailable, match="database"):
            proxies.call("reporting", "report")
    finally:
        proxies.stop()
