"""Reporting tier: the military support section (services/military_support/report.py) over a
read model fed by the real application's events (ms_support.drive_story), on the real
PostgreSQL; its Prometheus exposition is checked by `promtool check metrics`."""
from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import psycopg
import pytest
from prometheus_client import CollectorRegistry, generate_latest

from services.military_support import report as ms_section
from services.military_support.report import METRICS
from services.reporting.application import METRICS as OWN
from services.reporting.application import ReportCollector, Reporting
from tests.military_support.ms_support import SERVICE, drive_story, postgres_app, published, read_model
from tests.support import check_with_promtool, drop_schemas, metric_samples as samples, metric_value as value

pytestmark = pytest.mark.integration
SCHEMA = "read_model_ms_reporting"
NOW = datetime(2007, 12, 31, 4, 0, tzinfo=timezone.utc)
DOCS = Path(__file__).resolve().parents[2] / "docs" / "military_support.md"


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
    return Reporting(connect, schema=schema, sections={SERVICE: ms_section}, now=lambda: NOW)


@pytest.fixture(scope="module")
def report(conninfo):
    return reporting(lambda: psycopg.connect(conninfo)).report(2007)[SERVICE]


def exposition(conninfo, year=2007, schema=SCHEMA) -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(ReportCollector(reporting(lambda: psycopg.connect(conninfo), schema), lambda: year))
    return generate_latest(registry)


def test_beneficiaries_by_category_and_grade(report):
    assert report["read_model"]["initialised"] is True
    d = report["district"]["metrics"]
    assert d["beneficiaries"]["value"] == 7
    assert d["beneficiaries"]["by_category"] == {
        "disabled_serviceman": 4, "martyr_family": 1, "died_on_duty_family": 1, "died_of_illness_family": 0,
        "demobilised_veteran": 1, "war_veteran": 0, "other": 0}
    grades = d["disabled_servicemen_by_grade"]["by_grade"]
    assert {g: n for g, n in grades.items() if n} == {"1": 1, "5": 1, "6": 1, "8": 1}


def test_grade_1_6_medical_coverage_against_its_target(report):
    coverage = report["district"]["metrics"]["grade_1_6_medical_coverage"]
    assert (coverage["insured"], coverage["grade_1_6"], coverage["target"], coverage["met"]) == (2, 3, 1.0, False)
    assert coverage["value"] == pytest.approx(2 / 3)
    assert report["areas"]["xilin"]["metrics"]["grade_1_6_medical_coverage"]["value"] is None


def test_benefits_paid_and_claims(report):
    d = report["district"]["metrics"]
    assert d["benefits_paid_yuan"]["value"] == "63374.00" and d["benefits_paid_yuan"]["payments"] == 79
    assert d["benefits_paid_yuan"]["by_category"]["disabled_serviceman"] == "50500.00"
    assert d["benefits_paid_yuan"]["by_category"]["war_veteran"] == "600.00"
    assert report["areas"]["xilin"]["metrics"]["benefits_paid_yuan"]["value"] == "6624.00"
    assert (d["assistance_claims_paid_yuan"]["value"], d["assistance_claims_paid_yuan"]["claims"]) == ("600.00", 1)


def test_resettlement_completion(report):
    r = report["district"]["metrics"]["resettlement_ratio"]
    assert (r["placed"], r["received"], r["value"], r["met"]) == (1, 2, 0.5, False)
    assert report["district"]["metrics"]["worker_benefits_yuan"]["value"] == "1400.00"


def test_activities_by_channel_sessions_pairs_and_the_evidence_file(report):
    by_channel = report["activities_by_channel"]
    assert list(by_channel) == ["window", "policy", "technology", "legal", "culture", "functional",
                                "socialized", "information"]
    assert by_channel["window"] == {"activities": 2, "participants": 80}
    channels = report["district"]["metrics"]["channels_with_activity"]
    assert (channels["value"], channels["target"], channels["met"], channels["without_activity"]) == (8, 8, True, [])
    sessions = report["district"]["metrics"]["education_sessions"]
    assert (sessions["value"], sessions["attendees"]) == (4, 1720)
    assert report["district"]["metrics"]["co_building_pairs"]["value"] == 2
    assert report["evidence_file"]["activities"] == 9 and report["evidence_file"]["submitted_on"] is None
    submitted = report["district"]["metrics"]["evidence_file_submitted"]
    assert (submitted["value"], submitted["met"]) == (0, False)


def test_another_year_pays_nothing_but_counts_the_same_people(conninfo):
    other = reporting(lambda: psycopg.connect(conninfo)).report(2006)[SERVICE]
    d = other["district"]["metrics"]
    assert d["benefits_paid_yuan"]["value"] == "0.00" and d["beneficiaries"]["value"] == 7
    assert d["channels_with_activity"]["value"] == 0 and other["evidence_file"] is None


def test_the_metrics_show_the_section(conninfo):
    found = samples(exposition(conninfo))
    assert value(found, "military_support_beneficiaries", area="beigang", category="disabled_serviceman") == 4
    assert value(found, "military_support_disabled_servicemen", area="beigang", grade="8") == 1
    assert value(found, "military_support_grade_1_6_insured", area="beigang") == 2
    assert value(found, "military_support_district_grade_1_6_medical_coverage_target_met") == 0
    assert value(found, "military_support_grade_1_6_medical_coverage_target_ratio") == 1
    assert value(found, "military_support_benefits_paid_yuan", area="xilin", category="war_veteran",
                 year="2007") == 600
    assert value(found, "military_support_district_resettlement_ratio") == 0.5
    assert value(found, "military_support_activities", area="beigang", channel="window", year="2007") == 2
    assert value(found, "military_support_district_channels_with_activity", year="2007") == 8
    assert value(found, "military_support_education_sessions", area="xilin", venue="school",
                 audience="students", year="2007") == 2
    assert value(found, "military_support_evidence_file_submitted", year="2007") == 0
    assert value(found, "military_support_grade_1_6_medical_coverage_ratio", area="xilin") is None
    assert {name for name, _ in found} - set(OWN) == set(METRICS)


def test_promtool_accepts_the_exposition(conninfo):
    check_with_promtool(exposition(conninfo))


def test_a_read_model_not_yet_created_shows_zeros(conninfo):
    text = exposition(conninfo, schema="read_model_never_created")
    found = samples(text)
    assert value(found, "military_support_read_model_initialised") == 0
    assert value(found, "military_support_beneficiaries", area="xilin", category="martyr_family") == 0
    check_with_promtool(text)


def test_an_unreachable_database_yields_no_military_support_samples():
    def broken():
        raise psycopg.OperationalError("connection refused")
    registry = CollectorRegistry(auto_describe=False)
    registry.register(ReportCollector(reporting(broken), lambda: 2007))
    found = samples(generate_latest(registry))
    assert {name for name, _ in found if name.startswith("military_support_")} == set()


def test_every_metric_is_documented():
    docs = DOCS.read_text(encoding="utf-8")
    for name in METRICS:
        assert f"`{name}`" in docs, f"{name} is not in docs/military_support.md"
