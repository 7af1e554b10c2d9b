"""End-to-end tier: schemathesis against the live gateway under the real platform processes.

For every operation of the served /openapi.json:
- with a token holding every role and the whole district (so no permission check hides a
  handler): no 5xx, and every response conforms to the document (status code documented,
  content type, headers, body schema) — schemathesis' checks, all of them;
- without a token: every operation answers 401 with `WWW-Authenticate: Bearer`, whatever the
  body or the parameters (the token is checked before anything else).

Bounded: a few examples per operation and phase, a fixed seed (printed), so one run takes about
two minutes and a failure is reproduced by running again. schemathesis prints each failure with
the request as a curl command.
"""
from __future__ import annotations

import contextlib
from pathlib import Path

import pytest
import requests
import schemathesis
from schemathesis.config import SchemathesisConfig

from services.gateway import policy, tokens

pytestmark = pytest.mark.e2e

SEED = 20269  # fixed: a failure found here is found again by the next run
MAX_EXAMPLES = 10  # per operation in the fuzzing phase; the examples and coverage phases add theirs


@pytest.fixture(autouse=True)
def no_rate_limit(monkeypatch):
    """schemathesis sends far more requests than one client may: the gateway's rate limit is off
    for this module. Set before `platform` copies the environment, so it reaches the platform's
    programs as well as the gateway started here."""
    monkeypatch.setenv("GATEWAY_RATE_LIMIT", "0")


@pytest.fixture(autouse=True)
def nodeid_for_schemathesis(request):
    """schemathesis 4.32's lazy schema (`from_fixture`) reads and renames `item._nodeid`, which
    pytest 9.2 no longer has (its node id is a property): give the item one to read."""
    if not hasattr(request.node, "_nodeid"):
        request.node._nodeid = request.node.nodeid


@contextlib.contextmanager
def platform_gateway(platform, _directory: Path):
    """The gateway program of the platform itself (its keys beside its GATEWAY_JWKS file, as
    `python -m services.gateway.tokens keys DIR` writes them)."""
    jwks = Path(platform.env["GATEWAY_JWKS"])
    yield platform.url("GATEWAY_PORT", ""), tokens.load_key(jwks.parent)


@pytest.fixture
def gateway(platform, tmp_path):
    """(base URL, signing key) of the platform's own gateway program."""
    with platform_gateway(platform, tmp_path) as (base, key):
        platform.wait_until(lambda: requests.get(base + "/healthz", timeout=2).ok, what="the gateway")
        # the first RPC through the gateway: the services are consuming
        token = {"Authorization": f"Bearer {every_right(key)}"}
        platform.wait_until(lambda: requests.get(base + "/welfare/rules", headers=token,
                                                 timeout=30).status_code == 200,
                            what="RPC through the gateway")
        yield base, key


def every_right(key) -> str:
    """Every role of the policy table, the whole district: no permission check hides a handler."""
    return tokens.issue(key, "schemathesis", sorted(policy.POLICY), "*")


def config(headers: dict | None, *, anonymous: bool = False) -> SchemathesisConfig:
    """Both runs: every phase but the stateful one (no links in the document), every check."""
    generation = {"mode": "all", "max-examples": MAX_EXAMPLES, "deterministic": True}
    phases = {"stateful": {"enabled": False}}
    if anonymous:
        # Any body and parameters, valid or not, duplicated query parameters too: the token is
        # checked first. No Authorization header at all. A method an operation does not have is
        # the other run's business (405 with Allow).
        generation["with-security-parameters"] = False
        phases["coverage"] = {"unexpected-methods": [], "generate-duplicate-query-parameters": True}
    return SchemathesisConfig.from_dict({
        "seed": SEED, "request-timeout": 30, "headers": headers or {},
        "suppress-health-check": ["too_slow", "filter_too_much", "data_too_large"],
        "generation": generation, "phases": phases,
        # A schema-valid request may still break a rule JSON Schema cannot say (an identity
        # number's check digit, an area code of the reference data, a state the record is not
        # in): the domain answers 422 with the rule's code, as the document lists. Any other
        # status for valid data stays a failure.
        "checks": {"positive_data_acceptance": {"expected-statuses": ["2xx", "401", "403", "404", "409", "422"]}},
    })


def load(base: str, headers: dict | None, capsys, **options):
    with capsys.disabled():  # the seed, in the output whatever the outcome
        print(f"\nschemathesis {schemathesis.__version__} against {base}/openapi.json, seed {SEED}, "
              f"max-examples {MAX_EXAMPLES}{', without a token' if options else ''}", flush=True)
    return schemathesis.openapi.from_url(base + "/openapi.json", config=config(headers, **options))


@pytest.fixture
def with_token(gateway, capsys):
    base, key = gateway
    return load(base, {"Authorization": f"Bearer {every_right(key)}"}, capsys)


@pytest.fixture
def without_token(gateway, capsys):
    base, _key = gateway
    return load(base, None, capsys, anonymous=True)


authorized = schemathesis.pytest.from_fixture("with_token")
anonymous = schemathesis.pytest.from_fixture("without_token")


@authorized.parametrize()
def test_every_operation_conforms_to_the_document_with_a_valid_token(case):
    case.call_and_validate()


@anonymous.parametrize()
def test_every_operation_answers_401_without_a_token(case):
    response = case.call()
    assert response.status_code == 401, (
        f"{case.method} {case.formatted_path} without a token answered {response.status_code}, "
        f"not 401: {response.text[:300]}\nReproduce: {case.as_curl_command()}")
    assert response.headers.get("www-authenticate", [""])[0].startswith("Bearer"), response.headers

