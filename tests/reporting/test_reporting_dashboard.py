"""deploy/grafana/dibao.json: a Grafana dashboard whose every PromQL expression parses
(promql-parser) and names only metrics and labels the reporting service exposes."""
from __future__ import annotations

import json
import re
from pathlib import Path

import promql_parser
import pytest

from services.reporting.application import METRICS as OWN
from services.reporting.application import registered_sections
from shared.report_kit import exposed_labels

DASHBOARD = Path(__file__).resolve().parents[2] / "deploy" / "grafana" / "dibao.json"
# Metrics of the default registry that every Nameko service of the platform serves.
ENTRYPOINT_LABELS = {"entrypoint_calls_total": ("service", "entrypoint"),
                     "entrypoint_errors_total": ("service", "entrypoint", "kind")}
KNOWN = {**exposed_labels(OWN), **ENTRYPOINT_LABELS,
         **{name: labels for section in registered_sections().values()
            for name, labels in exposed_labels(section.METRICS).items()}}
# What Grafana substitutes before the query reaches Prometheus.
VARIABLES = {"$__rate_interval": "5m", "$year": "2007", "$area": ".*"}
REQUIRED_PANELS = ["Urban coverage vs target, per area", "Rural coverage vs target, per area",
                   "Active cases per area", "Persons covered per area and scheme",
                   "Monthly payments (yuan), selected areas",
                   "Year-end extra month completion vs target",
                   "Marginal households: year-end relief completion vs target"]


@pytest.fixture(scope="module")
def dashboard():
    return json.loads(DASHBOARD.read_text(encoding="utf-8"))


def all_panels(dashboard):
    for panel in dashboard["panels"]:
        yield panel
        yield from panel.get("panels", [])


def expressions(dashboard):
    for panel in all_panels(dashboard):
        for target in panel.get("targets", []):
            yield panel["title"], target["expr"]


def substitute(expr: str) -> str:
    for name, value in VARIABLES.items():
        expr = expr.replace(name, value)
    assert "$" not in expr, f"unknown Grafana variable in {expr}"
    return expr


def selectors(expr) -> list:
    found = []

    def visit(node):
        if isinstance(node, promql_parser.VectorSelector):
            found.append(node)
    promql_parser.walk(expr, visit)
    return found


def test_the_dashboard_has_the_required_panels(dashboard):
    titles = [p["title"] for p in all_panels(dashboard)]
    for title in REQUIRED_PANELS:
        assert title in titles
    ids = [p["id"] for p in all_panels(dashboard)]
    assert len(ids) == len(set(ids))
    assert dashboard["uid"] and dashboard["schemaVersion"] >= 36
    names = {v["name"] for v in dashboard["templating"]["list"]}
    assert {"datasource", "year", "area"} <= names
    for panel in all_panels(dashboard):
        assert {"x", "y", "w", "h"} <= set(panel["gridPos"])
        if panel["type"] != "row":
            assert panel["targets"], panel["title"]
            assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}


def test_every_expression_parses_and_names_exposed_metrics_and_labels(dashboard):
    count = 0
    for title, expr in expressions(dashboard):
        try:
            tree = promql_parser.parse(substitute(expr))
        except ValueError as error:
            pytest.fail(f"panel {title!r}: {expr}: {error}")
        found = selectors(tree)
        assert found, f"panel {title!r} selects no metric: {expr}"
        for selector in found:
            assert selector.name in KNOWN, f"panel {title!r}: unknown metric {selector.name}"
            for matcher in selector.matchers.matchers:
                assert matcher.name in KNOWN[selector.name], \
                    f"panel {title!r}: {selector.name} has no label {matcher.name}"
        count += 1
    assert count >= 25


def test_the_plotted_dibao_metrics_cover_the_plan(dashboard):
    used = {s.name for _, e in expressions(dashboard) for s in selectors(promql_parser.parse(substitute(e)))}
    for name in ("dibao_coverage_ratio", "dibao_coverage_target_ratio", "dibao_coverage_target_met",
                 "dibao_district_coverage_ratio", "dibao_active_cases", "dibao_persons_covered",
                 "dibao_payments_yuan", "dibao_year_end_extra_ratio",
                 "dibao_year_end_extra_target_ratio", "dibao_marginal_relief_ratio",
                 "dibao_marginal_relief_target_ratio", "reporting_read_model_initialised"):
        assert name in used, name


def test_the_template_variables_query_exposed_labels(dashboard):
    for variable in dashboard["templating"]["list"]:
        if variable["type"] != "query":
            continue
        query = variable["query"]["query"] if isinstance(variable["query"], dict) else variable["query"]
        match = re.fullmatch(r"label_values\((\w+),\s*(\w+)\)", query)
        assert match, query
        metric, label = match.groups()
        assert label in KNOWN[metric], query


def test_a_broken_expression_is_caught():
    with pytest.raises(ValueError):
        promql_parser.parse(substitute('sum by (area (dibao_active_cases{area=~"$area"})'))
