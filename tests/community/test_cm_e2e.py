"""End-to-end tier: the demo's community-building year through the processes of `make run` —
service, relay (SIGKILLed before the year and started again), projection and reporting — until
the reporting service's /report and /metrics show the section against its targets."""
from __future__ import annotations

import io
import shutil
import subprocess
import sys
from functools import partial
from pathlib import Path

import pytest

from services.community.demo import WORKERS, drive
from shared.rpc import cluster
from tests.e2e.platform import Platform

pytestmark = pytest.mark.e2e
SIZE = 0.1
REFUSED = {"InvalidInput": 4, "Conflict": 4}


@pytest.fixture
def platform(fresh_schemas, amqp_uri, tmp_path):
    running = Platform(amqp_uri, tmp_path)
    try:
        running.start_all()
        yield running
    finally:            # also when start-up fails: never leave processes behind
        running.stop_all()


def caught_up(platform: Platform) -> bool:
    head = platform.get("COMMUNITY_PORT", "/healthz")["head"]
    return head > 0 and platform.metric("PROJECTION_PORT", "projection_position", source="community") == head


def test_the_demo_year_reaches_the_reporting_service_across_a_relay_kill_and_runs_again(platform, amqp_uri):
    platform.wait_until(lambda: platform.get("COMMUNITY_PORT", "/healthz"), what="community")
    platform.wait_until(lambda: platform.get("REPORTING_PORT", "/healthz"), what="reporting")
    platform.kill("relay_community")        # SIGKILL: the year is stored, not yet published
    outcome = drive(partial(cluster, amqp_uri, timeout=60), progress=False, out=io.StringIO(), size=SIZE)
    assert outcome.unexpected == [] and outcome.refused == REFUSED
    platform.start("relay_community")
    platform.wait_until(lambda: caught_up(platform), timeout=180, what="projection to catch up")

    section = platform.get("REPORTING_PORT", "/report")["community"]
    d = section["district"]["metrics"]
    met = lambda name: (d[name]["value"], d[name]["met"])  # noqa: E731
    assert met("new_five_star_communities") == (1, True)
    assert met("new_four_star_communities") == (3, True)
    assert met("new_three_star_communities") == (5, True)
    for name in ("four_meetings_ratio", "organisation_registration_ratio", "organisation_inspection_ratio",
                 "village_election_ratio", "committee_offices_to_standard_ratio", "named_projects_completed_ratio",
                 "new_workers_trained_ratio"):
        assert met(name) == (1.0, True), name
    assert met("model_village_ratio") == (0.8, True)
    centres = d["service_centres_to_standard_ratio"]           # yonghong's centre is still too small (due 2008)
    assert (centres["to_standard"], centres["areas"], centres["met"], centres["due"]) == (6, 7, False, "2008-12-31")
    for code, area in section["areas"].items():
        if area["kind"] == "street":
            assert area["metrics"]["brand_communities"]["value"] == 2, code
            assert area["metrics"]["digital_communities"]["met"] is True, code
    assert d["workers_hired"]["value"] == WORKERS

    metrics = platform.get("REPORTING_PORT", "/metrics")
    assert 'community_district_new_star_target_met{level="5",year="2007"} 1.0' in metrics
    assert 'reporting_target{key="community_model_village_ratio",op=">="} 0.8' in metrics
    promtool = shutil.which("promtool")
    assert promtool, "promtool not found: install the Debian package prometheus"
    for port in ("COMMUNITY_PORT", "RELAY_COMMUNITY_PORT", "REPORTING_PORT"):
        # the restarted relay may still be starting (its standby published meanwhile)
        exposition = platform.wait_until(lambda: platform.get(port, "/metrics"), what=f"{port} /metrics")
        checked = subprocess.run([promtool, "check", "metrics"], input=exposition, text=True, capture_output=True)
        assert checked.returncode == 0, f"{port}: {checked.stdout}{checked.stderr}"
    run_generic_demo_twice(platform, amqp_uri)


def run_generic_demo_twice(platform: Platform, amqp_uri: str) -> None:
    """`python -m deploy.demo --domains community`, twice more on the same database: each run
    asks the service how many runs were made (`runs_done`), draws new people and finds the named
    projects there (one platform for the whole file: starting and stopping it is most of the time)."""
    root = Path(__file__).resolve().parents[2]
    for run in (2, 3):
        demo = subprocess.run(
            [sys.executable, "-m", "deploy.demo", "--domains", "community", "--size", "small",
             "--no-progress", "--amqp-uri", amqp_uri, "--reporting-url", platform.env["REPORTING_URL"],
             "--report-wait", "90"], cwd=root, env=platform.env, capture_output=True, text=True, timeout=600)
        assert demo.returncode == 0, f"run {run}: " + demo.stdout[-3000:] + demo.stderr[-3000:]
    with cluster(amqp_uri, timeout=30) as rpc:
        assert rpc.community.statistics()["workers_hired"] == 3 * WORKERS
    platform.wait_until(lambda: caught_up(platform), timeout=180, what="projection to catch up")
    section = platform.get("REPORTING_PORT", "/report")["community"]
    assert section["district"]["metrics"]["workers_hired"]["value"] == 3 * WORKERS
    assert section["district"]["metrics"]["named_projects_completed_ratio"]["completed"] == 9
