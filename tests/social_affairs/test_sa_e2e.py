"""End-to-end tier: the social affairs domain on the processes of `make run`: its service, relay
(SIGKILLed while the demo runs and started again), the projection and reporting: `python -m
deploy.demo --domains social_affairs` until /report and /metrics show the section's targets."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.platform import Platform
from tests.support import drop_schemas

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.e2e


@pytest.fixture
def platform(fresh_schemas, amqp_uri, tmp_path):
    drop_schemas(fresh_schemas, "social_affairs")
    running = Platform(amqp_uri, tmp_path)
    try:
        running.start_all()
        yield running
    finally:            # also when start-up fails: never leave processes behind
        running.stop_all()


def test_the_demo_reaches_the_reporting_service_across_a_relay_kill(platform, amqp_uri):
    platform.wait_until(lambda: platform.get("SOCIAL_AFFAIRS_PORT", "/healthz"), what="social_affairs")
    platform.wait_until(lambda: platform.get("REPORTING_PORT", "/healthz"), what="reporting")
    platform.kill("relay_social_affairs")
    demo = subprocess.run(
        [sys.executable, "-m", "deploy.demo", "--domains", "social_affairs", "--size", "small", "--no-progress",
         "--no-report", "--amqp-uri", amqp_uri],
        cwd=ROOT, env=platform.env, capture_output=True, text=True, timeout=300)
    assert demo.returncode == 0, demo.stdout + demo.stderr
    assert "every command had its expected outcome" in demo.stdout
    platform.start("relay_social_affairs")
    head = platform.get("SOCIAL_AFFAIRS_PORT", "/healthz")["head"]
    platform.wait_until(lambda: platform.metric("PROJECTION_PORT", "projection_position",
                                                source="social_affairs") == head, timeout=120, what="projection")
    section = platform.get("REPORTING_PORT", "/report")["social_affairs"]
    district = section["district"]["metrics"]
    assert section["read_model"]["initialised"] is True
    assert district["migration_preparation_ratio"]["met"] is True
    assert district["marriage_qualification_ratio"]["met"] is False        # one found unlawful
    assert district["unresolved_grave_mounds"]["met"] is True
    assert platform.metric("REPORTING_PORT", "social_affairs_migration_preparation_target_met") == 1.0
    assert platform.metric("REPORTING_PORT", "social_affairs_district_grave_mounds", kind="new", year="2007") == 3.0
    assert platform.metric("PROJECTION_PORT", "projection_dead_letters_total") in (None, 0.0)
