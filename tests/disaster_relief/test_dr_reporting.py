"""Reporting tier: the disaster relief section (services/disaster_relief/report.py) over a read
model fed by the real application's events (tests/disaster_relief/dr_support.drive_story), on the
real PostgreSQL; its Prometheus exposition is checked by `promtool check metrics`."""
from __future__ import annotations

import re
import shutil
import subprocess
from datetime import datetime
from pathlib import Path

import psycopg
import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from services.disaster_relief import report as dr_section
from services.disaster_relief.report import METRICS
from services.reporting.application import METRICS as OWN
from services.reporting.application import ReportCollector, Reporting
from tests.disaster_relief.dr_support import LOCAL, drive_story, postgres_app, published, read_model
from tests.support import drop_schemas

pytestmark = pytest.mark.integration
SCHEMA = "read_model_dr_reporting"
NOW = datetime(2007, 12, 31, 12, 0, tzinfo=LOCAL)
DOCS = Path(__file__).resolve().parents[2] / "docs" / "disaster_relief.md"


@pytest.fixture(scope="module")
def story(database):
    drop_schemas(database, "disaster_relief", SCHEMA)
    app = postgres_app()
    ids = drive_story(app)
    # A fire in December nobody has reported on yet: both its deadlines have passed.
    ids["fire"] = app.register_incident("fire", ["wuxing"], "2007-12-20T22:00", "officer-li")
    model = read_model(database, SCHEMA)
    model.apply_batch("disaster_relief", published(app))
    model.datastore.close()
    app.close()
    return ids


@pytest.fixture(scope="module")
def conninfo(database, story):
    return database.pg_conninfo()


def reporting(connect, schema=SCHEMA) -> Reporting:
    """The reporting runner with this section only, its clock at NOW."""
    return Reporting(connect, schema=schema, sections={"disaster_relief": dr_section}, now=lambda: NOW)


@pytest.fixture(scope="module")
def report(conninfo):
    return reporting(lambda: psycopg.connect(conninfo)).report(2007)["disaster_relief"]


def exposition(conninfo, year=2007, schema=SCHEMA) -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(ReportCollector(reporting(lambda: psycopg.connect(conninfo), schema), lambda: year))
    return generate_latest(registry)


def samples(text: bytes) -> dict:
    found = {}
    for family in text_string_to_metric_families(text.decode()):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def value(found: dict, name: str, **labels):
    return found.get((name, tuple(sorted(labels.items()))))


def check_with_promtool(text: bytes) -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.fail("promtool is not installed: apt-get install -y prometheus")
    result = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True, timeout=60)
    problems = (result.stdout + result.stderr).decode()
    assert result.returncode == 0 and not problems.strip(), problems


# --- the JSON section -------------------------------------------------------------------------------

def test_reserves_against_the_floor(report):
    assert report["initialised"] is True and report["floor_yuan"] == "20000.00"
    reserves = report["reserves"]
    assert len(reserves) == 7
    assert {code: (r["balance_yuan"], r["below_floor"]) for code, r in reserves.items()
            if r["opened"]} == {"beigang": ("19500.00", True), "xilin": ("29200.00", False),
                                "xinzha": ("19200.00", True)}
    assert (reserves["wuxing"]["balance_yuan"], reserves["wuxing"]["below_floor"]) == ("0.00", True)
    assert reserves["xinzha"]["deposits_in_year_yuan"] == "21000.00"
    assert reserves["xinzha"]["disbursements_in_year_yuan"] == "1800.00"
    assert report["reserves_below_floor"] == 6      # four never deposited into, two drawn below


def test_report_timeliness_and_overdue_deadlines(report):
    stages = report["reports"]["by_stage"]
    assert stages["initial"] == {"on_time": 1, "late": 1, "no_deadline": 0, "overdue": 1, "on_time_ratio": 0.5}
    assert stages["final"] == {"on_time": 2, "late": 0, "no_deadline": 0, "overdue": 1, "on_time_ratio": 1.0}
    assert stages["follow_up"] == {"on_time": 0, "late": 0, "no_deadline": 1, "overdue": 0, "on_time_ratio": None}
    assert report["reports"]["on_time_ratio"] == 0.75


def test_incidents_rosters_and_aid(report, story):
    incidents = {i["incident_id"]: i for i in report["incidents"]}
    flood = incidents[story["flood"]]
    assert (flood["level"], flood["status"], flood["late_reports"], flood["roster_households"]) == ("III", "open", 1, 3)
    assert (flood["aid_yuan"], flood["aided_households"], flood["occurred_on"]) == ("2600.00", 3, "2007-07-06")
    assert flood["figures"] == {"deaths": 1, "missing": 0, "relocated": 2800, "houses_damaged": 380,
                                "direct_loss": "4300000.00"}
    assert incidents[story["hail"]]["status"] == "closed" and incidents[story["hail"]]["level"] is None
    areas = report["areas"]
    assert areas["xinzha"] == {"roster_households": 2, "roster_persons": 5, "aided_households": 2,
                               "aid_yuan": "1800.00", "in_kind": {"quilt": {"quantity": 2, "unit": "piece"}}}
    assert areas["beigang"]["in_kind"] == {"rice": {"quantity": 20, "unit": "kg"}}
    assert areas["wuxing"]["roster_households"] == 0


def test_another_year_has_no_incidents_but_the_same_reserves(conninfo):
    other = reporting(lambda: psycopg.connect(conninfo)).report(2006)["disaster_relief"]
    assert other["incidents"] == [] and other["reports"]["on_time_ratio"] is None
    assert other["reserves"]["xinzha"]["balance_yuan"] == "19200.00"
    assert other["reserves"]["xinzha"]["deposits_in_year_yuan"] == "0.00"


# --- Prometheus ----------------------------------------------------------------------------------------

def test_the_metrics_show_the_section(conninfo, story):
    found = samples(exposition(conninfo))
    assert value(found, "disaster_relief_reserve_floor_yuan") == 20000
    assert value(found, "disaster_relief_reserve_balance_yuan", area="xinzha") == 19200
    assert value(found, "disaster_relief_reserve_below_floor", area="xinzha") == 1
    assert value(found, "disaster_relief_reserve_below_floor", area="xilin") == 0
    assert value(found, "disaster_relief_reports", stage="initial", timeliness="late", year="2007") == 1
    assert value(found, "disaster_relief_reports_on_time_ratio", stage="initial", year="2007") == 0.5
    assert value(found, "disaster_relief_all_reports_on_time_ratio", year="2007") == 0.75
    assert value(found, "disaster_relief_reports_overdue", stage="final", year="2007") == 1
    assert value(found, "disaster_relief_roster_households", area="xinzha", year="2007") == 2
    assert value(found, "disaster_relief_aid_yuan", area="xilin", year="2007") == 800
    assert value(found, "disaster_relief_incident_aid_yuan", incident=story["flood"], incident_type="flood",
                 occurred_on="2007-07-06", year="2007") == 2600
    assert value(found, "disaster_relief_incidents", incident_type="flood", level="III", status="open",
                 year="2007") == 1
    assert value(found, "disaster_relief_incidents", incident_type="hail", level="none", status="closed",
                 year="2007") == 1
    assert value(found, "disaster_relief_in_kind_aid_quantity", area="xilin", item="rice", unit="kg",
                 year="2007") == 25
    assert value(found, "disaster_relief_reports_on_time_ratio", stage="follow_up", year="2007") is None
    assert {name for name, _ in found} - set(OWN) == set(METRICS)


def test_promtool_accepts_the_exposition(conninfo):
    check_with_promtool(exposition(conninfo))


def test_a_read_model_not_yet_created_shows_zeros(conninfo):
    text = exposition(conninfo, schema="read_model_never_created")
    found = samples(text)
    assert value(found, "disaster_relief_read_model_initialised") == 0
    assert value(found, "disaster_relief_reserve_balance_yuan", area="xinzha") == 0
    check_with_promtool(text)


def test_an_unreachable_database_yields_no_disaster_relief_samples():
    def broken():
        raise psycopg.OperationalError("connection refused")
    registry = CollectorRegistry(auto_describe=False)
    registry.register(ReportCollector(reporting(broken), lambda: 2007))
    found = samples(generate_latest(registry))
    assert {name for name, _ in found if name.startswith("disaster_relief_")} == set()
    assert value(found, "reporting_read_model_up") == 0


def test_every_metric_is_documented():
    docs = DOCS.read_text(encoding="utf-8")
    for name in METRICS:
        assert f"`{name}`" in docs, f"{name} is not in docs/disaster_relief.md"
    assert re.search(r"disaster_relief_reserve_balance_yuan", docs)
