"""Adding a domain is its folder, one registry entry and its targets.

The test-only domain tests/sample_domain (volunteers and their hours) is registered by this test
alone, through PLATFORM_EXTRA_DOMAINS, and its target is added to a copy of data/targets/. With no
other edit, the platform of `make run` runs its service and relay, set-up creates its event store,
the projection applies its events, reporting measures it against its target, and the generic demo
drives it through the demo kit."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from shared.domains import EXTRA_ENV
from tests.e2e.platform import Platform
from tests.support import drop_schemas

ROOT = Path(__file__).resolve().parents[2]
DOMAIN = "volunteering"
TARGET = "volunteer_hours_per_volunteer"
pytestmark = pytest.mark.e2e


@pytest.fixture
def platform(fresh_schemas, amqp_uri, tmp_path, monkeypatch):
    data = tmp_path / "data"
    shutil.copytree(ROOT / "data", data)
    targets_file = data / "targets" / "2007.json"
    targets = json.loads(targets_file.read_text(encoding="utf-8"))
    targets["targets"][TARGET] = {"op": ">=", "value": 10, "label": "hours per volunteer"}
    targets_file.write_text(json.dumps(targets, ensure_ascii=False), encoding="utf-8")
    monkeypatch.setenv(EXTRA_ENV, "tests.sample_domain")
    monkeypatch.setenv("REFERENCE_DATA_DIR", str(data))
    drop_schemas(fresh_schemas, DOMAIN)
    running = Platform(amqp_uri, tmp_path)
    try:
        running.start_all()
        yield running
    finally:            # also when start-up fails: never leave processes behind
        running.stop_all()


def test_a_domain_registered_by_a_test_runs_on_the_whole_platform(platform, amqp_uri):
    platform.wait_until(lambda: platform.get("VOLUNTEERING_PORT", "/healthz"), what="the new service")
    platform.wait_until(lambda: platform.get("REPORTING_PORT", "/healthz"), what="reporting")
    demo = subprocess.run(
        [sys.executable, "-m", "deploy.demo", "--domains", DOMAIN, "--size", "small", "--no-progress",
         "--amqp-uri", amqp_uri, "--reporting-url", platform.env["REPORTING_URL"], "--report-wait", "60"],
        cwd=ROOT, env=platform.env, capture_output=True, text=True, timeout=240)
    assert demo.returncode == 0, demo.stdout + demo.stderr
    from tests.sample_domain import demo as scenario
    planned = scenario.plan(2007, 0.03, 1)

    head = platform.get("VOLUNTEERING_PORT", "/healthz")["head"]
    assert head == len(planned.lanes) * 4                        # 1 registration + 3 days each
    platform.wait_until(lambda: platform.metric("PROJECTION_PORT", "projection_position",
                                                source=DOMAIN) == head, what="projection")
    # whichever of the two relays holds the lease, both show the recorded position
    platform.wait_until(lambda: platform.metric("RELAY_VOLUNTEERING_PORT", "relay_published_position",
                                                service=DOMAIN) == head, what="the relay's recorded position")

    section = platform.get("REPORTING_PORT", "/report")[DOMAIN]
    assert section["initialised"] is True
    district = section["district"]
    assert district["volunteers"]["value"] == len(planned.lanes)
    assert district["hours"]["value"] == planned.hours
    measured = district["hours_per_volunteer"]
    assert (measured["target"], measured["met"]) == (10.0, planned.hours / len(planned.lanes) >= 10)
    assert f'volunteering_hours_per_volunteer {float(planned.hours / len(planned.lanes))}' in \
        platform.get("REPORTING_PORT", "/metrics")
    assert platform.metric("PROJECTION_PORT", "projection_dead_letters_total") in (None, 0.0)
