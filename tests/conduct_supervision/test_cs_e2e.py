"""End-to-end tier: the demo's conduct supervision year through the processes of `make run` —
service, relay (SIGKILLed before the year and started again), projection and reporting — until
the reporting service's /report and /metrics show the section against its targets."""
from __future__ import annotations

import io
import shutil
import subprocess
from functools import partial

import pytest

from services.conduct_supervision.demo import APPOINTED_PER_RUN, SUPERVISORS, drive
from shared.rpc import cluster
from tests.e2e.platform import Platform

pytestmark = pytest.mark.e2e
SIZE = 0.1


@pytest.fixture
def platform(fresh_schemas, amqp_uri, tmp_path):
    running = Platform(amqp_uri, tmp_path)
    try:
        running.start_all()
        yield running
    finally:            # also when start-up fails: never leave processes behind
        running.stop_all()


def caught_up(platform: Platform) -> bool:
    head = platform.get("CONDUCT_SUPERVISION_PORT", "/healthz")["head"]
    return head > 0 and platform.metric("PROJECTION_PORT", "projection_position",
                                        source="conduct_supervision") == head


def test_the_demo_year_reaches_the_reporting_service_across_a_relay_kill(platform, amqp_uri):
    platform.wait_until(lambda: platform.get("CONDUCT_SUPERVISION_PORT", "/healthz"), what="conduct_supervision")
    platform.wait_until(lambda: platform.get("REPORTING_PORT", "/healthz"), what="reporting")
    platform.kill("relay_conduct_supervision")     # SIGKILL: the year is stored, not yet published
    outcome = drive(partial(cluster, amqp_uri, timeout=60), progress=False, out=io.StringIO(), size=SIZE)
    assert outcome.unexpected == [] and outcome.refused == {"InvalidInput": 3, "Conflict": 3}
    platform.start("relay_conduct_supervision")
    platform.wait_until(lambda: caught_up(platform), timeout=180, what="projection to catch up")

    section = platform.get("REPORTING_PORT", "/report")["conduct_supervision"]
    d = section["district"]["metrics"]
    assert (d["supervisors_recruited"]["value"], d["supervisors_recruited"]["met"]) == (SUPERVISORS, True)
    assert (d["complaints_answered_ratio"]["value"], d["complaints_answered_ratio"]["met"]) == (1.0, True)
    assert (d["officers_assigned_ratio"]["value"], d["officers_assessed_ratio"]["met"]) == (1.0, True)
    assert section["overdue_complaints"] == [] and section["rewards"]
    metrics = platform.get("REPORTING_PORT", "/metrics")
    assert 'conduct_supervision_district_supervisors_recruited_target_met{year="2007"} 1.0' in metrics
    promtool = shutil.which("promtool")
    assert promtool, "promtool not found: install the Debian package prometheus"
    for port in ("CONDUCT_SUPERVISION_PORT", "RELAY_CONDUCT_SUPERVISION_PORT", "REPORTING_PORT"):
        # the restarted relay may still be starting (its standby published meanwhile)
        exposition = platform.wait_until(lambda: platform.get(port, "/metrics"), what=f"{port} /metrics")
        checked = subprocess.run([promtool, "check", "metrics"], input=exposition, text=True, capture_output=True)
        assert checked.returncode == 0, f"{port}: {checked.stdout}{checked.stderr}"


def test_the_generic_demo_runs_twice_on_one_database(platform, amqp_uri):
    """`python -m deploy.demo --domains conduct_supervision`, twice: the second run asks the
    service how many runs were made (`runs_done`), draws new supervisors and finds the officers,
    their communities and the year's assessments done."""
    import sys
    from pathlib import Path
    root = Path(__file__).resolve().parents[2]
    platform.wait_until(lambda: platform.get("CONDUCT_SUPERVISION_PORT", "/healthz"), what="conduct_supervision")
    platform.wait_until(lambda: platform.get("REPORTING_PORT", "/healthz"), what="reporting")
    for run in (1, 2):
        demo = subprocess.run(
            [sys.executable, "-m", "deploy.demo", "--domains", "conduct_supervision", "--size", "small",
             "--no-progress", "--amqp-uri", amqp_uri, "--reporting-url", platform.env["REPORTING_URL"],
             "--report-wait", "90"], cwd=root, env=platform.env, capture_output=True, text=True, timeout=600)
        assert demo.returncode == 0, demo.stdout[-3000:] + demo.stderr[-3000:]
    with cluster(amqp_uri, timeout=30) as rpc:
        assert rpc.conduct_supervision.statistics()["supervisors_appointed"] == 2 * APPOINTED_PER_RUN
    section = platform.get("REPORTING_PORT", "/report")["conduct_supervision"]
    assert section["district"]["metrics"]["supervisors_recruited"]["value"] == 2 * SUPERVISORS
