"""End-to-end tier: the demo's military support year through the processes of `make run` —
service, relay (SIGKILLed before the year and started again), projection and reporting — until
the reporting service's /report and /metrics show the section against its targets."""
from __future__ import annotations

import io
import shutil
import subprocess
from functools import partial

import pytest

from services.military_support.demo import WORKERS, drive
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
    head = platform.get("MILITARY_SUPPORT_PORT", "/healthz")["head"]
    return head > 0 and platform.metric("PROJECTION_PORT", "projection_position",
                                        source="military_support") == head


def test_the_demo_year_reaches_the_reporting_service_across_a_relay_kill(platform, amqp_uri):
    platform.wait_until(lambda: platform.get("MILITARY_SUPPORT_PORT", "/healthz"), what="military_support")
    platform.wait_until(lambda: platform.get("REPORTING_PORT", "/healthz"), what="reporting")
    platform.kill("relay_military_support")        # SIGKILL: the year is stored, not yet published
    outcome = drive(partial(cluster, amqp_uri, timeout=60), progress=False, out=io.StringIO(), size=SIZE)
    assert outcome.unexpected == [] and outcome.refused == {"InvalidInput": 3, "Conflict": 3}
    platform.start("relay_military_support")
    platform.wait_until(lambda: caught_up(platform), timeout=180, what="projection to catch up")

    section = platform.get("REPORTING_PORT", "/report")["military_support"]
    d = section["district"]["metrics"]
    planned = outcome.summary["planned"]
    assert d["beneficiaries"]["value"] == sum(planned["beneficiaries"].values()) - 1   # one death
    assert (d["grade_1_6_medical_coverage"]["value"], d["grade_1_6_medical_coverage"]["met"]) == (1.0, True)
    assert d["benefits_paid_yuan"]["value"] == planned["benefits_yuan"]
    assert (d["workers_received"]["value"], d["resettlement_ratio"]["met"]) == (WORKERS, True)
    assert (d["channels_with_activity"]["value"], d["channels_with_activity"]["met"]) == (8, True)
    assert section["evidence_file"]["submitted_on"] == "2007-12-15"
    assert d["evidence_file_submitted"]["met"] is True

    metrics = platform.get("REPORTING_PORT", "/metrics")
    assert "military_support_district_grade_1_6_medical_coverage_target_met 1.0" in metrics
    assert 'military_support_district_channels_with_activity{year="2007"} 8.0' in metrics
    promtool = shutil.which("promtool")
    assert promtool, "promtool not found: install the Debian package prometheus"
    for port in ("MILITARY_SUPPORT_PORT", "RELAY_MILITARY_SUPPORT_PORT", "REPORTING_PORT"):
        # the restarted relay may still be starting (its standby published meanwhile)
        exposition = platform.wait_until(lambda: platform.get(port, "/metrics"), what=f"{port} /metrics")
        checked = subprocess.run([promtool, "check", "metrics"], input=exposition, text=True, capture_output=True)
        assert checked.returncode == 0, f"{port}: {checked.stdout}{checked.stderr}"


def test_the_generic_demo_runs_twice_on_one_database(platform, amqp_uri):
    """`python -m deploy.demo --domains military_support`, twice: the second run asks the service
    how many runs were made (`runs_done`), draws new people and finds the evidence file submitted."""
    import sys
    from pathlib import Path
    root = Path(__file__).resolve().parents[2]
    platform.wait_until(lambda: platform.get("MILITARY_SUPPORT_PORT", "/healthz"), what="military_support")
    platform.wait_until(lambda: platform.get("REPORTING_PORT", "/healthz"), what="reporting")
    for run in (1, 2):
        demo = subprocess.run(
            [sys.executable, "-m", "deploy.demo", "--domains", "military_support", "--size", "small",
             "--no-progress", "--amqp-uri", amqp_uri, "--reporting-url", platform.env["REPORTING_URL"],
             "--report-wait", "90"], cwd=root, env=platform.env, capture_output=True, text=True, timeout=600)
        assert demo.returncode == 0, demo.stdout[-3000:] + demo.stderr[-3000:]
    with cluster(amqp_uri, timeout=30) as rpc:
        assert rpc.military_support.statistics()["workers_received"] == 2 * WORKERS
    section = platform.get("REPORTING_PORT", "/report")["military_support"]
    assert section["district"]["metrics"]["workers_received"]["value"] == 2 * WORKERS
