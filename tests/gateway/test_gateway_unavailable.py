"""Integration tier: the real thread-local proxies against the session's RabbitMQ: a service
that is not running, and a broker that cannot be reached, are 503 problems, not 500s."""
from __future__ import annotations

import pytest

from services.gateway.rpc import ThreadProxies

pytestmark = pytest.mark.integration
CASE_ID = "6f1c2a3e-0000-4000-8000-000000000001"


@pytest.mark.parametrize("where", ["no service on the session's vhost", "no broker"])
def test_unavailable_is_503(amqp_uri, verifier, auth, where):
    from fastapi.testclient import TestClient

    from services.gateway.app import create_app
    uri = amqp_uri if where.startswith("no service") else "amqp://guest:guest@127.0.0.1:1/"
    proxies = ThreadProxies(uri, timeout=5)
    with TestClient(create_app(verifier=verifier, rpc=proxies), raise_server_exceptions=False) as client:
        response = client.get(f"/social-assistance/cases/{CASE_ID}", headers=auth(areas="*"))
    assert response.status_code == 503, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["code"] == "gateway.service_unavailable"
    assert response.headers["Retry-After"]
