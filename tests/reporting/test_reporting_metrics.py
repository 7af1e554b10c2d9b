"""The report as Prometheus metrics: the social assistance section's samples of the `scenario`
and reporting's own gauges, the exposition served on GET /metrics (default registry + the
service's registry) checked by `promtool check metrics`."""
from __future__ import annotations

from pathlib import Path

import psycopg
import pytest
from prometheus_client import REGISTRY, CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from services.reporting.application import METRICS as OWN
from services.reporting.application import ReportCollector, Reporting, render
from services.social_assistance import report as dibao
from shared import nameko_support  # noqa: F401  (registers the entrypoint metrics, as in the service)
from shared.report_kit import exposed_labels

DOCS = Path(__file__).resolve().parents[2] / "docs" / "reporting.md"
LABELS = {**exposed_labels(dibao.METRICS), **exposed_labels(OWN)}   # exposed name -> labels


def exposition(reporting: Reporting, year=2007) -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(ReportCollector(reporting, lambda: year))
    return render(REGISTRY, registry)


def samples(text: bytes) -> dict[tuple, float]:
    found = {}
    for family in text_string_to_metric_families(text.decode()):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def value(found, name, **labels):
    return found[(name, tuple(sorted(labels.items())))]


@pytest.fixture(scope="module")
def reporting(conninfo, scenario):
    return Reporting(lambda: psycopg.connect(conninfo), year=2007)


@pytest.fixture(scope="module")
def text(reporting):
    return exposition(reporting)


def test_the_scenario_samples(text):
    found = samples(text)
    assert value(found, "dibao_active_cases", area="beigang") == 4
    assert value(found, "dibao_active_cases", area="nandajie") == 0
    assert value(found, "dibao_pending_cases", area="xilin") == 1
    assert value(found, "dibao_suspended_cases", area="xilin") == 1
    assert value(found, "dibao_monthly_allowance_yuan", area="beigang") == 430.0
    assert value(found, "dibao_persons_covered", area="beigang", scheme="urban") == 6
    assert value(found, "dibao_persons_covered", area="beigang", scheme="rural") == 4
    assert value(found, "dibao_population", area="beigang", scheme="urban") == 45000
    assert value(found, "dibao_coverage_ratio", area="beigang", scheme="urban") == pytest.approx(6 / 45000)
    assert ("dibao_coverage_ratio", (("area", "nandajie"), ("scheme", "rural"))) not in found
    assert value(found, "dibao_coverage_target_ratio", scheme="urban") == 0.012
    assert value(found, "dibao_coverage_target_ratio", scheme="rural") == 0.02
    assert value(found, "dibao_coverage_target_met", area="beigang", scheme="urban") == 0
    assert value(found, "dibao_district_coverage_ratio", scheme="urban") == pytest.approx(9 / 350000)
    assert value(found, "dibao_district_coverage_target_met", scheme="rural") == 0
    month = {"area": "beigang", "kind": "monthly"}
    assert value(found, "dibao_payments_yuan", month="2007-01", **month) == 620.0
    assert value(found, "dibao_paid_cases", month="2007-01", **month) == 5
    assert value(found, "dibao_back_pay_yuan", month="2007-02", **month) == 10.0
    assert value(found, "dibao_payments_yuan", area="beigang", month="2007-YE",
                 kind="year_end_extra") == 2300.0
    assert not any(labels and dict(labels).get("month") == "2006-12" for _, labels in found)
    assert value(found, "dibao_year_end_extra_paid_cases", area="beigang", year="2007") == 3
    assert value(found, "dibao_year_end_extra_ratio", area="beigang", year="2007") == 0.75
    assert value(found, "dibao_year_end_extra_target_ratio") == 1.0
    assert value(found, "dibao_year_end_extra_target_met", area="beigang", year="2007") == 0
    assert value(found, "dibao_district_year_end_extra_ratio", year="2007") == 0.5
    assert value(found, "dibao_marginal_households", area="beigang") == 2
    assert value(found, "dibao_marginal_relieved_households", area="beigang", year="2007") == 1
    assert value(found, "dibao_marginal_relief_ratio", area="beigang", year="2007") == 0.5
    assert value(found, "dibao_marginal_relief_yuan", area="beigang", year="2007") == 400.0
    assert value(found, "dibao_district_marginal_relief_ratio", year="2007") == 0.5
    assert value(found, "dibao_standard_raise_yuan", area="beigang", scheme="urban", year="2007") == 20.0
    assert value(found, "dibao_standard_raise_yuan", area="xilin", scheme="rural", year="2007") == 30.0
    assert value(found, "dibao_standard_raise_target_met", area="beigang", scheme="urban", year="2007") == 1
    assert value(found, "dibao_district_standard_raise_yuan", scheme="rural", year="2007") == 30.0
    assert value(found, "charity_donations_yuan", area="xinzha", year="2007") == 1000.0
    assert value(found, "charity_donations", area="beigang", year="2007") == 2
    assert value(found, "dibao_report_info", year="2007", targets_version="2007.1",
                 reference_version="2007-01") == 1
    assert value(found, "reporting_read_model_up") == 1
    assert value(found, "reporting_read_model_initialised") == 1
    assert value(found, "reporting_targets_found") == 1


def test_every_target_measure_is_also_exposed_uniformly(text):
    """The dibao section's own target metrics have a uniform twin, reporting_target_value/_met
    {key, scope, area}, which the district plan dashboard and the alerts read."""
    found = samples(text)
    area = {"key": "dibao_coverage_urban_ratio", "scope": "social_assistance.areas.beigang.metrics.coverage_ratio.urban",
            "area": "beigang", "year": "2007"}
    assert value(found, "reporting_target_value", **area) == pytest.approx(6 / 45000)
    assert value(found, "reporting_target_met", **area) == 0
    district = [labels for name, labels in found if name == "reporting_target_met"
                and dict(labels)["key"] == "dibao_coverage_rural_ratio" and dict(labels)["area"] == ""]
    assert len(district) == 1 and value(found, "reporting_target_met", **dict(district[0])) == 0
    assert value(found, "reporting_target_due_timestamp_seconds", key="dibao_coverage_urban_ratio") == \
        1199145600.0                                   # 2008-01-01T00:00:00Z: the end of the year


def test_every_documented_metric_is_exposed_once(text):
    families = [f.name for f in text_string_to_metric_families(text.decode())]
    assert len(families) == len(set(families)), "a metric name is served by both registries"
    assert set(LABELS) <= set(families), set(LABELS) - set(families)
    for family in text_string_to_metric_families(text.decode()):
        if family.name in LABELS:
            for sample in family.samples:
                assert tuple(sample.labels) == LABELS[family.name] or \
                    set(sample.labels) == set(LABELS[family.name]), (family.name, sample.labels)
    # the default registry's entrypoint metrics are served beside the dibao ones
    assert {"entrypoint_calls", "entrypoint_duration_seconds"} <= set(families)
    for line in text.decode().splitlines():
        if line.startswith("# TYPE dibao_") or line.startswith("# TYPE charity_"):
            assert line.endswith(" gauge"), line


def test_promtool_accepts_the_exposition(text, promtool_check):
    promtool_check(text)


def test_every_metric_is_documented():
    docs = DOCS.read_text(encoding="utf-8")
    for name in LABELS:
        assert f"`{name}`" in docs or f"`{name}{{" in docs, f"{name} is not in docs/reporting.md"


def test_an_uninitialised_read_model_exposes_zeros(conninfo, promtool_check):
    reporting = Reporting(lambda: psycopg.connect(conninfo), schema="read_model_not_created")
    text = exposition(reporting)
    found = samples(text)
    assert value(found, "reporting_read_model_initialised") == 0
    assert value(found, "dibao_active_cases", area="beigang") == 0
    assert value(found, "dibao_coverage_ratio", area="beigang", scheme="urban") == 0
    promtool_check(text)


def test_an_unreachable_database_still_answers_the_scrape(promtool_check):
    def broken():
        raise psycopg.OperationalError("connection refused")
    text = exposition(Reporting(broken))
    found = samples(text)
    assert value(found, "reporting_read_model_up") == 0
    assert value(found, "dibao_report_info", year="2007", targets_version="", reference_version="") == 1
    assert not any(name.startswith("dibao_active") for name, _ in found)
    promtool_check(text)
