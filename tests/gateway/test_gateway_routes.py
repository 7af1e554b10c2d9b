"""Unit tier: routes and the OpenAPI document are built from the declarations."""
from __future__ import annotations

import json
from pathlib import Path

from services.gateway import openapi, routes
from shared import domains

ROOT = Path(__file__).resolve().parents[2]


def declared():
    return ([(d.name, c) for d in domains.with_part("commands") for c in d.load("commands").COMMANDS]
            + [(s.name, c) for s in routes.platform_services() for c in s.commands])


def test_every_declared_command_has_exactly_one_route_and_no_two_share_one():
    built = routes.build()
    assert sorted(r.operation_id for r in built) == sorted(f"{d}.{c.name}" for d, c in declared())
    assert len({(r.method, r.path) for r in built}) == len(built)
    for route in built:
        assert route.method == ("GET" if route.command.kind == "query" else "POST")


def test_the_path_rule():
    by_id = {r.operation_id: (r.method, r.path) for r in routes.build()}
    assert by_id["social_assistance.register_household"] == ("POST", "/social-assistance/households")
    assert by_id["social_assistance.approve"] == ("POST", "/social-assistance/cases/{case_id}/approve")
    assert by_id["social_assistance.apply"] == ("POST", "/social-assistance/households/{household_id}/apply")
    assert by_id["social_assistance.get_case"] == ("GET", "/social-assistance/cases/{case_id}")
    assert by_id["social_assistance.standard"] == ("GET", "/social-assistance/standard")
    assert by_id["social_assistance.run_payments"] == ("POST", "/social-assistance/run-payments")
    assert by_id["welfare.register_institution"] == ("POST", "/welfare/institutions")
    assert by_id["disaster_relief.get_roster"] == ("GET", "/disaster-relief/incidents/{incident_id}/roster")
    # explicit paths, declared once on the reporting service's commands
    assert by_id["reporting.audit"] == ("GET", "/audit")
    assert by_id["reporting.report"] == ("GET", "/reports/district")


def test_officer_is_in_no_public_schema_and_every_path_id_is_in_the_path():
    document = openapi.document()
    for route in routes.build():
        assert "officer" not in route.body_schema()["properties"]
        assert "officer" not in [a.name for a in route.public_args]
        for name in route.path_args:
            assert "{" + name + "}" in route.path
            assert name not in route.body_schema()["properties"]
        operation = document["paths"][route.path][route.method.lower()]
        names = [p["name"] for p in operation.get("parameters", [])]
        assert "officer" not in names
        if route.method == "POST":
            schema = operation["requestBody"]["content"]["application/json"]["schema"]
            assert "officer" not in schema["properties"]
            full = route.command.schema()
            assert schema["properties"] == {k: v for k, v in full["properties"].items()
                                            if k not in route.path_args and k != "officer"}


def test_the_served_openapi_is_the_committed_file(client):
    served = client.get("/openapi.json").json()
    assert served["openapi"] == "3.1.0"
    committed = json.loads((ROOT / "docs" / "gateway.openapi.json").read_text())
    assert served == committed, "run: python -m services.gateway openapi > docs/gateway.openapi.json"


def test_the_gateway_process_keeps_eventlet_unpatched_and_nameko_support_out():
    import subprocess
    import sys
    code = ("import sys, services.gateway.__main__, services.gateway.app, services.gateway.rpc, "
            "services.gateway.tokens\n"
            "from services.gateway.app import create_app; create_app(verifier=object(), rpc=object())\n"
            "import eventlet.patcher as p\n"
            "assert 'shared.nameko_support' not in sys.modules and 'shared.rpc' not in sys.modules\n"
            "assert not any(p.is_monkey_patched(m) for m in ('socket', 'thread', 'time', 'select'))\n")
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)


def test_every_area_via_kind_declared_today_has_a_get_query_to_resolve_it():
    """docs/gateway.md lists them as covered; a new kind without one is district-wide only."""
    for domain in domains.with_part("commands"):
        commands = {c.name: c for c in domain.load("commands").COMMANDS}
        for command in commands.values():
            if command.area_via:
                query = commands.get(f"get_{command.area_via}")
                assert query is not None and query.kind == "query", f"{domain.name}.{command.name}"
