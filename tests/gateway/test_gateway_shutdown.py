"""The gateway stops cleanly after an unhandled error (in a fresh interpreter, so that Nameko is
imported the way the gateway process imports it): the lazily imported RPC module, first imported
inside a request's worker thread, once left that thread unjoinable and the shutdown hung."""
from __future__ import annotations

import subprocess
import sys

from tests.e2e.platform import ROOT

SCRIPT = """
import jwt
from fastapi.testclient import TestClient
from services.gateway import tokens
from services.gateway.app import create_app
from services.gateway.auth import DEFAULT_AUDIENCE, DEFAULT_ISSUER, Verifier
from tests.gateway.conftest import FakeRpc
key = tokens.new_key("RS256")
verifier = Verifier(jwt.PyJWKSet.from_dict(tokens.jwks(key)), DEFAULT_ISSUER, DEFAULT_AUDIENCE)
headers = {"Authorization": "Bearer " + tokens.issue(key, "admin-zhou", ["administrator"], "*")}
rpc = FakeRpc()            # answers "ok": not a list, an internal error of the list route
with TestClient(create_app(verifier=verifier, rpc=rpc), raise_server_exceptions=False) as client:
    print(client.get("/subscriptions", headers=headers).status_code)
print("stopped")
"""


def test_an_internal_error_answers_500_and_the_gateway_still_stops():
    done = subprocess.run([sys.executable, "-c", SCRIPT], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["500", "stopped"]
