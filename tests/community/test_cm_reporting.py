"""Reporting tier: the community section (services/community/report.py) over a read model fed by
the real application's events (cm_support.drive_story), on the real PostgreSQL; its Prometheus
exposition is checked by `promtool check metrics`."""
from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import psycopg
import pytest
from prometheus_client import CollectorRegistry, generate_latest

from services.community import report as cm_section
from services.community.report import METRICS, TARGETS
from services.reporting.application import METRICS as OWN
from services.reporting.application import ReportCollector, Reporting
from shared.referencedata import load_targets
from tests.community.cm_support import SERVICE, drive_story, postgres_app, published, read_model
from tests.support import check_with_promtool, drop_schemas, metric_samples as samples, metric_value as value

pytestmark = pytest.mark.integration
SCHEMA = "read_model_cm_reporting"
NOW = datetime(2007, 12, 31, 4, 0, tzinfo=timezone.utc)
DOCS = Path(__file__).resolve().parents[2] / "docs" / "community.md"


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
    return Reporting(connect, schema=schema, sections={SERVICE: cm_section}, now=lambda: NOW)


@pytest.fixture(scope="module")
def report(conninfo):
    return reporting(lambda: psycopg.connect(conninfo)).report(2007)[SERVICE]


def exposition(conninfo, year=2007, schema=SCHEMA) -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(ReportCollector(reporting(lambda: psycopg.connect(conninfo), schema), lambda: year))
    return generate_latest(registry)


def measured(entry) -> tuple:
    return entry["value"], entry["target"], entry["met"]


def test_every_target_of_the_domain_is_in_the_file_and_the_report(report):
    keys = {k for k in load_targets(2007)["targets"] if k.startswith("community_")}
    assert keys == set(TARGETS) == set(report["targets"])
    reported = {e.get("target_key") for e in report["district"]["metrics"].values() if isinstance(e, dict)}
    assert keys <= reported


def test_new_star_communities_count_net_new_ratings(report):
    d = report["district"]["metrics"]
    assert measured(d["new_five_star_communities"]) == (1, 1, True)      # raised from 4 to 5
    assert measured(d["new_four_star_communities"]) == (1, 3, False)
    assert measured(d["new_three_star_communities"]) == (1, 5, False)    # the revoked one does not count
    assert d["star_communities"]["by_level"] == {"5": 2, "4": 1, "3": 1}
    assert report["areas"]["beigang"]["metrics"]["new_star_communities"]["by_level"] == {"5": 1, "4": 0, "3": 1}


def test_designations_per_street(report):
    beigang, xilin = (report["areas"][a]["metrics"] for a in ("beigang", "xilin"))
    assert measured(beigang["brand_communities"]) == (2, 1, True)
    assert measured(xilin["brand_communities"]) == (0, 1, False)
    assert measured(xilin["digital_communities"]) == (1, 1, True)
    town = report["areas"]["xinzha"]["metrics"]["brand_communities"]
    assert (town["applies"], town["target"]) == (False, None)                 # the town is not a street
    streets = report["district"]["metrics"]["streets_with_digital_communities"]
    assert (streets["with_one"], streets["streets"]) == (2, 6)


def test_four_meetings_and_civil_organisations(report):
    d = report["district"]["metrics"]
    assert (d["four_meetings_ratio"]["held_all_four"], d["four_meetings_ratio"]["communities"]) == (2, 5)
    assert d["four_meetings_ratio"]["met"] is False
    reg = d["organisation_registration_ratio"]
    assert (reg["completed"], reg["identified"], reg["target"], reg["met"]) == (5, 6, 0.98, False)
    ins = d["organisation_inspection_ratio"]
    assert (ins["inspected"], ins["due"], ins["target"]) == (2, 3, 0.95)
    assert ins["by_result"] == {"passed": 1, "basically_passed": 1, "failed": 0}
    assert report["areas"]["beigang"]["metrics"]["organisation_inspection_ratio"]["value"] == 1.0


def test_villages_models_and_elections(report):
    d = report["district"]["metrics"]
    assert (d["model_village_ratio"]["model"], d["model_village_ratio"]["villages"], d["model_village_ratio"]["met"]) == (
        2, 4, False)
    assert measured(report["areas"]["xinzha"]["metrics"]["model_village_ratio"]) == (1.0, 0.8, True)
    assert (d["village_election_ratio"]["elected"], d["village_election_ratio"]["villages"]) == (3, 4)
    assert report["areas"]["wuxing"]["metrics"]["village_election_ratio"]["value"] is None


def test_facilities_and_the_named_projects(report):
    d = report["district"]["metrics"]
    centres = d["service_centres_to_standard_ratio"]
    assert (centres["to_standard"], centres["areas"], centres["due"], centres["overdue"]) == (2, 7, "2008-12-31", False)
    assert report["areas"]["beigang"]["metrics"]["service_centre_to_standard"]["floor_area_m2"] == 2300
    assert measured(report["areas"]["xinzha"]["metrics"]["service_centre_to_standard"]) == (0, 1.0, False)
    offices = d["committee_offices_to_standard_ratio"]
    assert (offices["to_standard"], offices["offices"]) == (2, 3)
    named = d["named_projects_completed_ratio"]
    assert (named["completed"], named["named"], named["met"]) == (2, 9, False)
    statuses = {p["code"]: p["status"] for p in report["named_projects"]}
    assert statuses["beigang_centre"] == "completed" and statuses["xilin_centre"] == "started"
    assert statuses["pengxinlidu"] == "not_planned"


def test_new_workers_trained_by_the_due_date(report):
    d = report["district"]["metrics"]
    trained = d["new_workers_trained_ratio"]
    assert (trained["trained"], trained["hired"], trained["due"], trained["met"]) == (1, 3, "2007-06-30", False)
    assert d["workers_hired"]["by_channel"] == {"open_recruitment": 1, "secondment": 1, "graduate": 2}


def test_another_year(conninfo):
    other = reporting(lambda: psycopg.connect(conninfo)).report(2006)[SERVICE]
    d = other["district"]["metrics"]
    assert d["new_four_star_communities"]["value"] == 1 and d["new_five_star_communities"]["value"] == 1
    assert d["four_meetings_ratio"]["held_all_four"] == 0
    assert d["organisation_inspection_ratio"]["due"] == 1 and d["organisation_inspection_ratio"]["inspected"] == 0
    assert d["named_projects_completed_ratio"]["value"] is None                # no named project of 2006


def test_the_metrics_show_the_section(conninfo):
    found = samples(exposition(conninfo))
    assert value(found, "community_district_new_star_communities", level="5", year="2007") == 1
    assert value(found, "community_district_new_star_target_met", level="4", year="2007") == 0
    assert value(found, "community_star_communities", area="wuxing", level="5") == 1
    assert value(found, "community_designated_communities", area="beigang", designation="brand", year="2007") == 2
    assert value(found, "community_designation_target_met", area="beigang", designation="brand", year="2007") == 1
    assert value(found, "community_designation_target_met", area="xinzha", designation="brand", year="2007") is None
    assert value(found, "community_district_organisation_registration_ratio", year="2007") == pytest.approx(5 / 6)
    assert value(found, "community_district_model_village_ratio", year="2007") == 0.5
    assert value(found, "community_service_centre_floor_area_m2", area="xinzha") == 1500
    assert value(found, "community_district_service_centres_to_standard_ratio") == pytest.approx(2 / 7)
    assert value(found, "community_named_projects", status="completed", year="2007") == 2
    assert value(found, "community_workers_hired", area="xilin", channel="graduate", year="2007") == 1
    assert value(found, "community_district_four_meetings_ratio", year="2007") == 0.4
    assert {name for name, _ in found} - set(OWN) == set(METRICS)
    targets = {dict(labels)["key"] for name, labels in found if name == "reporting_target"}
    assert set(TARGETS) <= targets


def test_promtool_accepts_the_exposition(conninfo):
    check_with_promtool(exposition(conninfo))


def test_a_read_model_not_yet_created_shows_zeros(conninfo):
    text = exposition(conninfo, schema="read_model_never_created")
    found = samples(text)
    assert value(found, "community_read_model_initialised") == 0
    assert value(found, "community_communities", area="xilin", year="2007") == 0
    check_with_promtool(text)


def test_an_unreachable_database_yields_no_community_samples():
    def broken():
        raise psycopg.OperationalError("connection refused")
    registry = CollectorRegistry(auto_describe=False)
    registry.register(ReportCollector(reporting(broken), lambda: 2007))
    found = samples(generate_latest(registry))
    assert {name for name, _ in found if name.startswith("community_")} == set()


def test_every_metric_is_documented():
    docs = DOCS.read_text(encoding="utf-8")
    for name in METRICS:
        assert f"`{name}`" in docs, f"{name} is not in docs/community.md"
