"""Every Grafana dashboard in deploy/grafana/ (one spec per file in SPECS below): every PromQL
expression parses (promql-parser) and names only metrics and labels the reporting service
exposes, the template variables query exposed labels, the required panels exist, the plotted
metrics cover the plan (every target key of the dashboard's sections is drawn, from a metric,
never typed into a panel) and the file is valid against Grafana's dashboard JSON schema.

The schema, grafana_dashboard.jsonschema.json beside this file, is a copy (data) of
grafana/grafana-foundation-sdk `jsonschema/dashboard.jsonschema.json` (commit f178d5a; see
../shared/schemas/README.md of the workspace). Its generator types two "any" fields of Grafana's
own model (`MatcherConfig.options`, `DynamicConfigValue.value`; `_` in Grafana's CUE) as objects,
which would refuse every field override Grafana itself writes (`{"id": "byName", "options":
"target"}`, `{"id": "custom.lineWidth", "value": 2}`); the test relaxes exactly those two and
nothing else."""
from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import jsonschema
import promql_parser
import pytest

from deploy.dashboards import EXTERNAL
from services.reporting.application import METRICS as OWN
from services.reporting.application import registered_sections
from shared.referencedata import load_targets
from shared.report_kit import Targets, exposed_labels

ROOT = Path(__file__).resolve().parents[2]
GRAFANA = ROOT / "deploy" / "grafana"
SCHEMA = Path(__file__).with_name("grafana_dashboard.jsonschema.json")
TARGET_METRIC = "reporting_target"      # reporting's own: {key, op} of every key of the targets file
TARGETS_YEAR = 2007


def process_metrics() -> dict[str, tuple[str, ...]]:
    """The labelled metrics the platform's processes declare (relays, projection, delivery,
    services, gateway), from prometheus_client's own declarations: exposed name -> labels."""
    from prometheus_client import REGISTRY

    import services.subscriptions.delivery  # noqa: F401  (declares the subscription metrics)
    import shared.consumer  # noqa: F401
    import shared.relay  # noqa: F401
    from services.gateway import metrics as gateway
    from shared import nameko_support  # noqa: F401  (declares the entrypoint metrics)
    found = {}
    for registry in (REGISTRY, gateway.REGISTRY):
        for collector in list(registry._collector_to_names):       # noqa: SLF001 — no public list
            labels = tuple(getattr(collector, "_labelnames", ()))
            for name in registry._collector_to_names[collector]:    # noqa: SLF001
                found[name] = labels + (("le",) if name.endswith("_bucket") else ())
    return found


KNOWN = {**process_metrics(), **exposed_labels(OWN), **EXTERNAL,
         **{name: labels for section in registered_sections().values()
            for name, labels in exposed_labels(section.METRICS).items()}}
# What Grafana substitutes before the query reaches Prometheus.
VARIABLES = {"$__rate_interval": "5m", "$year": "2007", "$area": ".*", "$source": ".*",
             "$subscription": ".*", "$service": ".*", "$route": ".*"}
LINE_OF_WORK = ("datasource", "year", "area")


@dataclass(frozen=True)
class Spec:
    sections: tuple[str, ...]       # the report sections (domain names) the dashboard plots
    panels: tuple[str, ...]         # titles that must be there
    metrics: tuple[str, ...]        # metrics that must be plotted
    min_expressions: int
    # target key (pattern) -> the section's own target metric that draws it instead of
    # reporting_target{key=...} (dibao's sections expose their targets themselves)
    own_targets: dict[str, str] = field(default_factory=dict)
    variables: tuple[str, ...] = LINE_OF_WORK


ALL_SECTIONS = tuple(registered_sections())

SPECS = {
    "dibao.json": Spec(
        sections=("social_assistance",),
        panels=("Urban coverage vs target, per area", "Rural coverage vs target, per area",
                "Active cases per area", "Persons covered per area and scheme",
                "Monthly payments (yuan), selected areas",
                "Year-end extra month completion vs target",
                "Marginal households: year-end relief completion vs target",
                "Urban standard raise vs target, per area", "Rural standard raise vs target, per area"),
        metrics=("dibao_coverage_ratio", "dibao_coverage_target_ratio", "dibao_coverage_target_met",
                 "dibao_district_coverage_ratio", "dibao_active_cases", "dibao_persons_covered",
                 "dibao_payments_yuan", "dibao_year_end_extra_ratio",
                 "dibao_year_end_extra_target_ratio", "dibao_marginal_relief_ratio",
                 "dibao_marginal_relief_target_ratio", "reporting_read_model_initialised",
                 "dibao_standard_raise_yuan", "dibao_district_standard_raise_yuan", TARGET_METRIC),
        min_expressions=25,
        own_targets={"dibao_coverage_{scheme}_ratio": "dibao_coverage_target_ratio",
                     "dibao_year_end_extra_month_ratio": "dibao_year_end_extra_target_ratio",
                     "marginal_year_end_relief_ratio": "dibao_marginal_relief_target_ratio"}),
    "social_affairs.json": Spec(
        sections=("social_affairs",),
        panels=("Migration progress per hall vs target", "Halls to standard vs target",
                "Unresolved grave mounds per area vs target",
                "New and rebuilt grave mounds per area vs target",
                "Marriage qualification rate vs target, per area", "Divorce registrations per area",
                "Targets met (district)"),
        metrics=("social_affairs_migration_progress_ratio", "social_affairs_migration_preparation_ratio",
                 "social_affairs_district_migration_progress_ratio", "social_affairs_halls_to_standard_ratio",
                 "social_affairs_grave_mounds", "social_affairs_district_grave_mounds",
                 "social_affairs_marriage_qualification_ratio",
                 "social_affairs_district_marriage_qualification_ratio",
                 "social_affairs_divorce_registrations", "social_affairs_migration_preparation_target_met",
                 "social_affairs_halls_to_standard_target_met", "social_affairs_grave_mounds_target_met",
                 "social_affairs_marriage_qualification_target_met", "social_affairs_read_model_initialised",
                 TARGET_METRIC),
        min_expressions=30),
    "military_support.json": Spec(
        sections=("military_support",),
        panels=("Beneficiaries by category", "Disabled servicemen by grade",
                "Grade 1-6 medical coverage vs target, per area",
                "Benefits paid (yuan) by category, selected areas",
                "Resettlement completion vs target, per area", "Activities by channel",
                "Channels with an activity vs target", "The evidence file vs target",
                "Targets met (district)"),
        metrics=("military_support_beneficiaries", "military_support_disabled_servicemen",
                 "military_support_grade_1_6_medical_coverage_ratio",
                 "military_support_district_grade_1_6_medical_coverage_ratio",
                 "military_support_benefits_paid_yuan", "military_support_workers_received",
                 "military_support_workers_placed", "military_support_district_resettlement_ratio",
                 "military_support_activities", "military_support_district_channels_with_activity",
                 "military_support_evidence_file_submitted",
                 "military_support_district_grade_1_6_medical_coverage_target_met",
                 "military_support_district_resettlement_target_met",
                 "military_support_district_channels_target_met", "military_support_read_model_initialised",
                 TARGET_METRIC),
        min_expressions=30),
    "disaster_relief.json": Spec(
        sections=("disaster_relief",),
        panels=("Reserve balance per area vs floor", "Reserve below the floor, per area",
                "Shortfall to the floor (yuan), below-floor areas",
                "Deposits and disbursements ($year), per area", "Incidents by type and response level",
                "Reports on time per stage", "Reports overdue", "Roster households and persons, per area",
                "Relief paid (yuan) per area", "Relief paid (yuan) per incident", "In-kind aid given, by item",
                "Targets met (district)"),
        # every metric the section exposes; it has no target key (the floor is reference data)
        metrics=tuple(registered_sections()["disaster_relief"].METRICS),
        min_expressions=30),
    "welfare.json": Spec(
        sections=("welfare",),
        panels=("Beds per 1,000 aged 60+ vs target, per area", "Beds short of the target, per area",
                "Institutions by kind, per area", "Care-worker training vs target, per area",
                "Care workers still to train to meet the target",
                "Three-no and five-guarantee support rate vs target, per area",
                "Persons short of the support target, per area",
                "Dispersed three-no persons without medical care", "Home-care orders by service and status",
                "Enterprises restructured vs target, per area",
                "Enterprises short of the restructuring target, per area",
                "Tax rebates (返税) granted ($year, yuan), per area", "Targets met (district)"),
        metrics=(*registered_sections()["welfare"].METRICS, TARGET_METRIC),     # every one it exposes
        min_expressions=50,
        # the section's own target metrics: drawn as well (the shortfall panels); the target
        # lines themselves are reporting_target{key}
        own_targets={"elderly_care_beds_per_1000_aged_60_plus":
                     "welfare_elderly_care_beds_per_1000_aged_60_plus_target",
                     "elderly_care_worker_training_ratio": "welfare_care_worker_training_target_ratio",
                     "special_support_ratio": "welfare_special_support_target_ratio",
                     "welfare_enterprises_restructured_ratio": "welfare_enterprises_restructured_target_ratio"}),
    "conduct_supervision.json": Spec(
        sections=("conduct_supervision",),
        panels=("Supervisors recruited (district)", "Complaints answered vs target, per area",
                "Overdue complaints per area", "Officers assigned and assessed vs target",
                "Public reviews by subject and reviewer", "Window efficiency scores",
                "Breaches of the eight prohibitions", "Targets met (district)"),
        metrics=("conduct_supervision_district_supervisors_recruited", "conduct_supervision_supervisors_recruited",
                 "conduct_supervision_complaints_answered_ratio",
                 "conduct_supervision_district_complaints_answered_ratio", "conduct_supervision_complaints_overdue",
                 "conduct_supervision_district_officers_assigned_ratio",
                 "conduct_supervision_district_officers_assessed_ratio", "conduct_supervision_officers_rewarded",
                 "conduct_supervision_visits", "conduct_supervision_reviews",
                 "conduct_supervision_window_efficiency_score", "conduct_supervision_breaches",
                 "conduct_supervision_district_supervisors_recruited_target_met",
                 "conduct_supervision_district_complaints_answered_target_met",
                 "conduct_supervision_district_officers_assigned_target_met",
                 "conduct_supervision_district_officers_assessed_target_met",
                 "conduct_supervision_read_model_initialised", TARGET_METRIC),
        min_expressions=30),
    "community.json": Spec(
        sections=("community",),
        panels=("New star communities vs target", "Four meetings vs target, per area",
                "Brand communities per street vs target",
                "Digital-management demonstration communities per street vs target",
                "Registration and filing vs target, per area", "Annual inspection vs target, per area",
                "Model villages vs target, per area", "Village committee elections vs target, per area",
                "Service centres to standard vs target", "Committee offices to standard vs target",
                "Named projects completed vs target",
                "New workers trained by the due date vs target, per area", "Targets met (district)"),
        metrics=("community_district_new_star_communities", "community_star_communities",
                 "community_designated_communities", "community_four_meetings_ratio",
                 "community_organisation_registration_ratio", "community_organisation_inspection_ratio",
                 "community_model_village_ratio", "community_village_election_ratio",
                 "community_service_centre_floor_area_m2", "community_district_service_centres_to_standard_ratio",
                 "community_committee_offices_to_standard_ratio", "community_named_projects",
                 "community_district_named_projects_completed_ratio", "community_workers_hired",
                 "community_new_workers_trained_ratio", "community_read_model_initialised", TARGET_METRIC),
        min_expressions=40),
}
SPECS.update({
    "district_plan.json": Spec(
        sections=ALL_SECTIONS, panels=("Targets met (district)", "Every district-wide measure: met (1) or not (0)"),
        metrics=("reporting_target_value", "reporting_target_met", TARGET_METRIC), min_expressions=40),
    "event_flow.json": Spec(
        sections=(), variables=("datasource", "source", "subscription"), min_expressions=25,
        panels=("Relay lag per source (events stored, not yet confirmed)", "Projection lag per source (events)",
                "Projection dead letters by reason", "Subscription lag (seconds): the oldest event not yet delivered",
                "Failed delivery attempts per subscription", "Queue depth: messages ready", "Consumers per queue",
                "PostgreSQL up"),
        metrics=("relay_lag_events", "projection_lag_events", "projection_dead_letters_total",
                 "subscription_lag_seconds", "subscription_delivery_failures_total", "subscription_state", "rabbitmq_detailed_queue_messages_ready",
                 "rabbitmq_detailed_queue_consumers", "pg_up")),
    "services.json": Spec(
        sections=(), variables=("datasource", "service", "route"), min_expressions=10,
        panels=("Calls per second per entrypoint", "Fault ratio per service (5m)", "Duration per entrypoint (p99)",
                "Requests per second per route", "Server errors (5xx) ratio per route (5m)", "Duration per route (p99)"),
        metrics=("entrypoint_calls_total", "entrypoint_errors_total", "entrypoint_duration_seconds_bucket",
                 "gateway_requests_total", "gateway_request_duration_seconds_bucket")),
})
FILES = sorted(path.name for path in GRAFANA.glob("*.json"))


@pytest.fixture(scope="module", params=FILES)
def board(request):
    name = request.param
    assert name in SPECS, f"deploy/grafana/{name} has no spec in {Path(__file__).name} (SPECS)"
    return name, json.loads((GRAFANA / name).read_text(encoding="utf-8")), SPECS[name]


@lru_cache(maxsize=1)
def validator() -> jsonschema.Draft7Validator:
    schema = copy.deepcopy(json.loads(SCHEMA.read_text(encoding="utf-8")))
    definitions = schema["definitions"]
    definitions["MatcherConfig"]["properties"]["options"] = {}      # any, as in Grafana's model
    definitions["DynamicConfigValue"]["properties"]["value"] = {}   # any, as in Grafana's model
    jsonschema.Draft7Validator.check_schema(schema)
    return jsonschema.Draft7Validator(schema)


def all_panels(dashboard):
    for panel in dashboard["panels"]:
        yield panel
        yield from panel.get("panels", [])


def queries(dashboard):
    for panel in all_panels(dashboard):
        for target in panel.get("targets", []):
            yield panel, target


def expressions(dashboard):
    for panel, target in queries(dashboard):
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


def parsed(expr: str):
    return selectors(promql_parser.parse(substitute(expr)))


def used_metrics(dashboard) -> set[str]:
    return {s.name for _, e in expressions(dashboard) for s in parsed(e)}


def drawn_target_keys(dashboard) -> set[str]:
    """The keys of every reporting_target{key="..."} the dashboard plots."""
    return {m.value for _, e in expressions(dashboard) for s in parsed(e) if s.name == TARGET_METRIC
            for m in s.matchers.matchers if m.name == "key"}


def target_keys(pattern: str, targets: Targets) -> set[str]:
    """The keys of the targets file a section's TARGETS entry stands for (`{x}` a family)."""
    if "{" not in pattern:
        return {pattern}
    prefix, _, rest = pattern.partition("{")
    suffix = rest.partition("}")[2]
    return {f"{prefix}{x}{suffix}" for x in targets.matching(pattern)}


def test_every_dashboard_has_a_spec_and_a_uid_of_its_own():
    assert set(FILES) == set(SPECS), "a dashboard without a spec, or a spec without its dashboard"
    uids = [json.loads((GRAFANA / name).read_text(encoding="utf-8"))["uid"] for name in FILES]
    assert len(uids) == len(set(uids)), uids
    for spec in SPECS.values():
        assert set(spec.sections) <= set(registered_sections())


def test_the_dashboard_has_the_required_panels(board):
    _, dashboard, spec = board
    titles = [p["title"] for p in all_panels(dashboard)]
    for title in spec.panels:
        assert title in titles
    ids = [p["id"] for p in all_panels(dashboard)]
    assert len(ids) == len(set(ids))
    assert dashboard["uid"] and dashboard["schemaVersion"] >= 36
    names = {v["name"] for v in dashboard["templating"]["list"]}
    assert set(spec.variables) <= names
    for panel in all_panels(dashboard):
        assert {"x", "y", "w", "h"} <= set(panel["gridPos"])
        assert panel["gridPos"]["x"] + panel["gridPos"]["w"] <= 24, panel["title"]
        if panel["type"] != "row":
            assert panel["targets"], panel["title"]
            assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
            ref_ids = [t["refId"] for t in panel["targets"]]
            assert len(ref_ids) == len(set(ref_ids)), panel["title"]


def test_the_dashboard_is_valid_against_grafanas_dashboard_schema(board):
    name, dashboard, _ = board
    errors = sorted(validator().iter_errors(dashboard), key=lambda e: list(e.absolute_path))
    assert not errors, f"{name}: " + "; ".join(
        f"{'/'.join(map(str, e.absolute_path))}: {e.message[:200]}" for e in errors[:5])


def test_every_expression_parses_and_names_exposed_metrics_and_labels(board):
    _, dashboard, spec = board
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
    assert count >= spec.min_expressions


def test_the_plotted_metrics_cover_the_plan(board):
    _, dashboard, spec = board
    used = used_metrics(dashboard)
    for name in spec.metrics:
        assert name in used, name
    targets = Targets(TARGETS_YEAR, load_targets(TARGETS_YEAR))
    drawn = drawn_target_keys(dashboard)
    sections = registered_sections()
    for section in spec.sections:
        for pattern in sections[section].TARGETS:
            keys = target_keys(pattern, targets)
            assert keys, f"{section}: no key of data/targets/{TARGETS_YEAR}.json for {pattern}"
            own = spec.own_targets.get(pattern)
            for key in keys:
                assert key in drawn or (own is not None and own in used), \
                    f"{section}: the target {key} is drawn by no panel"


def test_every_drawn_target_is_a_key_of_the_targets_file_drawn_as_a_target(board):
    """reporting_target{key="..."}: one key by equality, a key the section evaluates; in a
    panel beside what it measures, and in a time series as the dashed 'target' line."""
    _, dashboard, spec = board
    keys = set(load_targets(TARGETS_YEAR)["targets"])
    targets = Targets(TARGETS_YEAR, load_targets(TARGETS_YEAR))
    evaluated = {key for s in spec.sections for pattern in registered_sections()[s].TARGETS
                 for key in target_keys(pattern, targets)}
    for panel, query in queries(dashboard):
        found = [s for s in parsed(query["expr"]) if s.name == TARGET_METRIC]
        if not found:
            continue
        for selector in found:
            matchers = [m for m in selector.matchers.matchers if m.name == "key"]
            assert len(matchers) == 1 and matchers[0].op == promql_parser.MatchOp.Equal, query["expr"]
            assert matchers[0].value in keys & evaluated, f"{panel['title']}: {query['expr']}"
        assert query["legendFormat"].startswith("target"), panel["title"]
        assert any(not any(s.name == TARGET_METRIC for s in parsed(q["expr"])) for q in panel["targets"]), \
            f"{panel['title']} draws a target against nothing"
        if panel["type"] == "timeseries":
            styled = [o for o in panel["fieldConfig"]["overrides"]
                      if (o["matcher"]["id"] == "byName" and o["matcher"]["options"] == query["legendFormat"])
                      or (o["matcher"]["id"] == "byRegexp" and re.search(o["matcher"]["options"],
                                                                           query["legendFormat"]))]
            assert styled, f"{panel['title']}: the target line {query['legendFormat']!r} is not styled"


def test_no_target_is_typed_into_a_panel(board):
    """Thresholds are the met/not met colouring of 0/1 verdicts only: a target's value comes
    from a metric, never from the panel."""
    _, dashboard, _ = board
    for panel in all_panels(dashboard):
        thresholds = panel.get("fieldConfig", {}).get("defaults", {}).get("thresholds")
        if thresholds:
            assert [s["value"] for s in thresholds["steps"]] in ([None], [None, 1]), panel["title"]
        for query in panel.get("targets", []):
            compared = re.findall(r"(?:[<>]=?|[=!]=)\s*(?:bool\s+)?([0-9.eE+-]+)", query["expr"])
            assert "vector(" not in query["expr"] and set(compared) <= {"0"}, \
                f"{panel['title']}: a number typed into {query['expr']}"


def test_the_template_variables_query_exposed_labels(board):
    _, dashboard, _ = board
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


def test_the_district_plan_draws_every_target_of_the_plan_as_its_panels_threshold():
    """One panel per key of every targets file; its threshold is query B, reporting_target{key},
    turned into the panel's threshold by Grafana's config-from-query-results transformation."""
    plan = json.loads((GRAFANA / "district_plan.json").read_text(encoding="utf-8"))
    keys = set().union(*(json.loads(p.read_text(encoding="utf-8"))["targets"]
                         for p in (ROOT / "data" / "targets").glob("*.json")))
    assert drawn_target_keys(plan) == keys
    per_key = [p for p in all_panels(plan) if p["type"] == "bargauge"]
    assert len(per_key) == len(keys)
    for panel in per_key:
        b = next(t for t in panel["targets"] if t["refId"] == "B")
        assert b["expr"].startswith("reporting_target{key=") and b["legendFormat"] == "target"
        (transformation,) = panel["transformations"]
        assert transformation["id"] == "configFromData"
        assert transformation["options"]["configRefId"] == "B"
        assert transformation["options"]["mappings"][0]["handlerKey"] == "threshold1"
        assert 'area=~"$area|"' in panel["targets"][0]["expr"]
