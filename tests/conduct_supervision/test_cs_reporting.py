"""Reporting tier: the conduct supervision section (services/conduct_supervision/report.py) over a
read model fed by the real application's events (cs_support.drive_story), on the real
PostgreSQL; its Prometheus exposition is checked by `promtool check metrics`."""
from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import psycopg
import pytest
from prometheus_client import CollectorRegistry, generate_latest

from services.conduct_supervision import report as cs_section
from services.conduct_supervision.report import METRICS
from services.reporting.application import METRICS as OWN
from services.reporting.application import ReportCollector, Reporting
from tests.conduct_supervision.cs_support import SERVICE, drive_story, postgres_app, published, read_model
from tests.support import check_with_promtool, drop_schemas, metric_samples as samples, metric_value as value

pytestmark = pytest.mark.integration
SCHEMA = "read_model_cs_reporting"
NOW = datetime(2007, 12, 31, 4, 0, tzinfo=timezone.utc)
DOCS = Path(__file__).resolve().parents[2] / "docs" / "conduct_supervision.md"


@pytest.fixture(scope="module")
def conninfo(database):
    drop_schemas(database, SERVICE, SCHEMA)
    app = postgres_app()
    drive_story(app)
    model = read_model(database, SCHEMA)
    model.apply_batch(SERVICE, published(app))
    model.datastore.close()
    app.close()
    return database.pg_conninfo()


def reporting(connect, schema=SCHEMA) -> Reporting:
    return Reporting(connect, schema=schema, sections={SERVICE: cs_section}, now=lambda: NOW)


@pytest.fixture(scope="module")
def report(conninfo):
    return reporting(lambda: psycopg.connect(conninfo)).report(2007)[SERVICE]


def exposition(conninfo, year=2007, schema=SCHEMA) -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(ReportCollector(reporting(lambda: psycopg.connect(conninfo), schema), lambda: year))
    return generate_latest(registry)


def test_supervisors_recruited_against_the_target(report):
    assert report["read_model"]["initialised"] is True
    d = report["district"]["metrics"]
    recruited = d["supervisors_recruited"]
    assert (recruited["value"], recruited["target"], recruited["op"], recruited["met"]) == (3, 10, ">=", False)
    assert report["areas"]["beigang"]["metrics"]["supervisors_recruited"]["value"] == 2
    assert report["areas"]["nandajie"]["metrics"]["supervisors_recruited"]["value"] == 0   # renewed, 2006
    assert d["supervisors_active"]["value"] == 3            # one dismissed


def test_complaints_answered_and_overdue(report):
    d = report["district"]["metrics"]
    answered = d["complaints_answered_ratio"]
    assert (answered["answered"], answered["received"], answered["value"], answered["met"]) == (2, 4, 0.5, False)
    assert d["complaints_received"]["by_kind"] == {"complaint": 3, "suggestion": 1}
    assert report["areas"]["xilin"]["metrics"]["complaints_answered_ratio"]["value"] == 0
    assert report["areas"]["wuxing"]["metrics"]["complaints_answered_ratio"]["value"] is None
    assert (d["complaints_overdue"]["value"], d["complaints_escalated"]["value"]) == (2, 1)
    overdue = report["overdue_complaints"]
    assert [(o["area"], o["deadline"], o["days_overdue"]) for o in overdue] == [
        ("beigang", "2007-06-23", 191), ("xilin", "2007-12-11", 20)]


def test_officers_assigned_assessed_and_the_rewards_list(report):
    d = report["district"]["metrics"]
    assigned, assessed = d["officers_assigned_ratio"], d["officers_assessed_ratio"]
    assert d["officers_serving"]["value"] == 3                             # officer-sun left
    assert (assigned["assigned"], assigned["without_community"], assigned["met"]) == (2, ["officer-zhao"], False)
    assert (assessed["assessed"], assessed["not_assessed"], assessed["due"]) == (2, ["officer-zhao"], "2008-01-31")
    assert assessed["by_grade"] == {"competent": 1, "excellent": 1}
    assert [r["officer_id"] for r in report["rewards"]] == ["officer-li"]
    assert report["targets"]["conduct_supervision_officers_assessed_ratio"]["due"] == "2008-01-31"


def test_visits_reviews_efficiency_and_breaches(report):
    d = report["district"]["metrics"]
    assert (d["visits"]["value"], d["visits"]["opinions"], d["opinions_pending"]["value"]) == (1, 2, 1)
    windows = report["reviews_by_subject"]["window"]
    assert (windows["reviews"], windows["value"], windows["by_reviewer"]) == (2, 80.0, {"resident": 1, "supervisor": 1})
    assert report["reviews_by_subject"]["officer"]["value"] == 85.0
    assert [(e["window"], e["score"], e["rectification"]) for e in report["window_efficiency"]] == [
        ("dibao_window", 95, False), ("marriage_window", 72, True)]
    assert report["breaches_by_prohibition"] == {"p3_delay": {"breaches": 1, "handled": 1}}


def test_the_metrics_show_the_section(conninfo):
    found = samples(exposition(conninfo))
    assert value(found, "conduct_supervision_district_supervisors_recruited", year="2007") == 3
    assert value(found, "conduct_supervision_district_supervisors_recruited_target_met", year="2007") == 0
    assert value(found, "conduct_supervision_supervisors_recruited", area="beigang", year="2007") == 2
    assert value(found, "conduct_supervision_complaints_received", area="beigang", kind="suggestion", year="2007") == 1
    assert value(found, "conduct_supervision_complaints_overdue", area="xilin", year="2007") == 1
    assert value(found, "conduct_supervision_district_officers_assigned_ratio", year="2007") == pytest.approx(2 / 3)
    assert value(found, "conduct_supervision_officers_rewarded", year="2007") == 1
    assert value(found, "conduct_supervision_window_efficiency_score", window="marriage_window", period="2007-Q1") == 72
    assert value(found, "conduct_supervision_breaches", prohibition="p3_delay", year="2007") == 1
    assert value(found, "conduct_supervision_breaches_unhandled", year="2007") == 0
    assert value(found, "conduct_supervision_complaints_answered_ratio", area="wuxing", year="2007") is None
    assert {name for name, _ in found} - set(OWN) == set(METRICS)


def test_promtool_accepts_the_exposition(conninfo):
    check_with_promtool(exposition(conninfo))


def test_another_year_counts_nothing_recruited(conninfo):
    other = reporting(lambda: psycopg.connect(conninfo)).report(2006)[SERVICE]
    d = other["district"]["metrics"]
    assert d["supervisors_recruited"]["value"] == 1 and d["complaints_received"]["value"] == 0
    assert d["complaints_answered_ratio"]["value"] is None


def test_a_read_model_not_yet_created_shows_zeros(conninfo):
    text = exposition(conninfo, schema="read_model_never_created")
    found = samples(text)
    assert value(found, "conduct_supervision_read_model_initialised") == 0
    assert value(found, "conduct_supervision_supervisors_recruited", area="xilin", year="2007") == 0
    check_with_promtool(text)


def test_an_unreachable_database_yields_no_conduct_supervision_samples():
    def broken():
        raise psycopg.OperationalError("connection refused")
    registry = CollectorRegistry(auto_describe=False)
    registry.register(ReportCollector(reporting(broken), lambda: 2007))
    found = samples(generate_latest(registry))
    assert {name for name, _ in found if name.startswith("conduct_supervision_")} == set()


def test_every_metric_is_documented():
    docs = DOCS.read_text(encoding="utf-8")
    for name in METRICS:
        assert f"`{name}`" in docs, f"{name} is not in docs/conduct_supervision.md"
