"""Unit tier: the permission policy table, as a matrix of every role × every route, against an
independent expectation written by hand for a few roles; and the same matrix over HTTP (the app
answers 403 exactly where the table says no)."""
from __future__ import annotations

import pytest

from services.gateway import policy, routes
from shared import domains

ROUTES = routes.build()
ALL = {r.operation_id for r in ROUTES}
QUERIES = {r.operation_id for r in ROUTES if r.command.kind == "query"}

# Written by hand from the bureau's rules (not computed from the table): the district report is
# read by every role; the audit trail only by the auditor and the administrator.
REPORT = {"reporting.report"}
EXPECTED = {
    "auditor": QUERIES,
    "administrator": {"social_assistance.set_standard", "social_assistance.raise_standards",
                      "social_assistance.standard", "welfare.rules", "social_affairs.rules",
                      "military_support.rules", "military_support.benefit_standard", "conduct_supervision.rules",
                      "community.rules", "reporting.audit",
                      "reporting.report"} | {
        "subscriptions." + name for name in (
            "register_subscription", "list_subscriptions", "get_subscription", "update_subscription",
            "delete_subscription", "rotate_secret", "suspend_subscription", "resume_subscription",
            "replay_subscription", "redrive_dead_letters")},
    "social_assistance.approver": {
        "social_assistance." + name for name in (
            "approve", "reject", "set_standard", "raise_standards", "merge_rural_into_urban",
            "get_household", "get_case", "standard", "donation_totals")} | REPORT,
    "social_assistance.officer": {
        "social_assistance." + name for name in (
            "register_household", "apply", "verify", "review", "terminate", "register_marginal",
            "review_marginal", "record_donation",
            "get_household", "get_case", "standard", "donation_totals")} | REPORT,
    "social_assistance.finance": {
        "social_assistance." + name for name in (
            "run_payments", "pay_year_end_extra", "pay_marginal_relief",
            "get_household", "get_case", "standard", "donation_totals")} | REPORT,
    "welfare.reader": {"welfare." + name for name in (
        "get_institution", "get_admission", "get_care_worker", "get_supported_person", "get_order",
        "get_enterprise", "rules")} | REPORT,
    "nobody.known": set(),
}


def matrix(role):
    return {r.operation_id for r in ROUTES if policy.allowed([role], r.domain, r.command)}


@pytest.mark.parametrize("role", sorted(EXPECTED))
def test_the_table_gives_each_role_exactly_the_expected_routes(role):
    assert matrix(role) == EXPECTED[role]


def test_every_declared_role_is_held_by_some_token_role_and_the_table_names_only_declared_ones():
    declared = {c.role for d in domains.with_part("commands") for c in d.load("commands").COMMANDS}
    declared |= {c.role for s in routes.platform_services() for c in s.commands}
    held = set().union(*(g.roles for g in policy.POLICY.values()), policy.EVERY_ROLE_HOLDS)
    assert declared - held == set(), "declared roles no token role holds"
    assert held - declared == set(), "the table names roles no command declares"
    singles = set().union(*(g.commands for g in policy.POLICY.values()))
    assert singles <= ALL


def test_the_auditor_holds_no_command_and_a_reader_reveals_nothing():
    assert not any(r.command.kind == "command" for r in ROUTES if r.operation_id in matrix("auditor"))
    assert not policy.may_reveal(["auditor"]) and not policy.may_reveal(["social_assistance.reader"])
    assert policy.may_reveal(["social_assistance.officer"])


def test_only_the_auditor_and_the_administrator_read_the_audit_and_every_role_the_report():
    audit = next(r for r in ROUTES if r.operation_id == "reporting.audit")
    report = next(r for r in ROUTES if r.operation_id == "reporting.report")
    assert {role for role in policy.POLICY if policy.allowed([role], "reporting", audit.command)} == \
        {"auditor", "administrator"}
    assert all(policy.allowed([role], "reporting", report.command) for role in policy.POLICY)
    assert not policy.allowed(["nobody.known"], "reporting", report.command)
    assert not policy.allowed([], "reporting", report.command)


def test_roles_add_up():
    both = {r.operation_id for r in ROUTES
            if policy.allowed(["social_assistance.officer", "social_assistance.approver"], r.domain, r.command)}
    assert both == EXPECTED["social_assistance.officer"] | EXPECTED["social_assistance.approver"]


def test_areas():
    assert policy.area_allowed("*", ["*"])
    assert policy.area_allowed(("beigang", "xilin"), ["beigang"])
    assert not policy.area_allowed(("beigang",), ["xilin"])
    assert not policy.area_allowed(("beigang",), ["beigang", "xilin"])
    assert not policy.area_allowed(("beigang",), ["*"])


def _path(route, rpc):
    from tests.gateway.conftest import CASE_ID
    return route.path.format(**{name: CASE_ID for name in route.path_args})


@pytest.fixture
def unlimited(verifier, rpc):
    """The app with the rate limit off: each role walks every route (over 300) as fast as the
    in-process client goes, past any burst (tests/gateway/test_gateway_ratelimit.py tests it)."""
    from fastapi.testclient import TestClient

    from services.gateway.app import create_app
    from services.gateway.ratelimit import RateLimiter
    with TestClient(create_app(verifier=verifier, rpc=rpc, limiter=RateLimiter(rate=0)),
                    raise_server_exceptions=False) as c:
        yield c


@pytest.mark.parametrize("role", sorted(policy.POLICY))
def test_over_http_403_exactly_where_the_table_says_no(unlimited, auth, rpc, role):
    client = unlimited
    headers = auth(roles=[role], areas="*")
    wrong = []
    for route in ROUTES:
        response = client.request(route.method, _path(route, rpc), headers=headers,
                                  **({} if route.method == "GET" else {"json": {}}))
        refused = response.status_code == 403 and response.json()["code"] == "gateway.role_not_held"
        if refused == policy.allowed([role], route.domain, route.command):
            wrong.append(f"{route.method} {route.path}: {response.status_code}")
    assert wrong == []
