"""Gateway tests without infrastructure: a generated key set, tokens minted from it, and the app
with a recording fake of the RPC proxies."""
from __future__ import annotations

import pytest

from services.gateway import tokens
from services.gateway.auth import DEFAULT_AUDIENCE, DEFAULT_ISSUER, Verifier
from shared.errors import NotFound

CASE_ID = "6f1c2a3e-0000-4000-8000-000000000001"
HOUSEHOLD_ID = "6f1c2a3e-0000-4000-8000-000000000002"


@pytest.fixture(scope="session")
def key():
    return tokens.new_key("RS256")


@pytest.fixture(scope="session")
def verifier(key):
    import jwt
    return Verifier(jwt.PyJWKSet.from_dict(tokens.jwks(key)), DEFAULT_ISSUER, DEFAULT_AUDIENCE)


@pytest.fixture(scope="session")
def token(key):
    def mint(sub="officer-li", roles=("social_assistance.officer",), areas=("beigang",), **kw):
        return tokens.issue(key, sub, roles, areas, **kw)
    return mint


class FakeRpc:
    """Records calls; answers get-queries with a record in `records` (else NotFound), other calls
    with `answer` (or raises it when it is an exception)."""

    def __init__(self):
        self.calls: list[tuple[str, str, dict]] = []
        self.records = {CASE_ID: {"case_id": CASE_ID, "area": "beigang"},
                        HOUSEHOLD_ID: {"household_id": HOUSEHOLD_ID, "area": "beigang"}}
        self.answer = "ok"
        self.contexts: list[dict | None] = []     # the audit context data sent with each call

    def call(self, service, method, context=None, /, **kwargs):
        self.calls.append((service, method, kwargs))
        self.contexts.append(context)
        if method.startswith("get_") and len(kwargs) == 1:
            (value,) = kwargs.values()
            if value in self.records:
                return self.records[value]
            if isinstance(self.answer, Exception):
                raise self.answer
            raise NotFound("id", "no such record", code="store.not_found")
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer

    def methods(self):
        return [method for _, method, _ in self.calls]


@pytest.fixture
def rpc():
    return FakeRpc()


@pytest.fixture
def client(verifier, rpc):
    from fastapi.testclient import TestClient

    from services.gateway.app import create_app
    with TestClient(create_app(verifier=verifier, rpc=rpc), raise_server_exceptions=False) as c:
        yield c


@pytest.fixture
def auth(token):
    def header(**kw):
        return {"Authorization": f"Bearer {token(**kw)}"}
    return header
