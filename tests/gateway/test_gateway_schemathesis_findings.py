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
        def __init__(self, config, timeout=None):
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
