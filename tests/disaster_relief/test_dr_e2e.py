"""End-to-end tier: the demo's disaster relief year through the processes of `make run` — service,
relay (SIGKILLed mid-year and started again), projection and reporting — until the reporting
service's /metrics and /report show the reserves against the floor."""
from __future__ import annotations

import io
import random
import re
import shutil
import subprocess
from functools import partial

import pytest

from services.disaster_relief.demo import build_plan, drive as run
from shared.rpc import cluster
from tests.e2e.platform import Platform, programs

pytestmark = pytest.mark.e2e
PROGRAMS = ("disaster_relief", "relay_disaster_relief")


@pytest.fixture
def platform(fresh_schemas, amqp_uri, tmp_path):
    running = Platform(amqp_uri, tmp_path)
    try:
        assert set(PROGRAMS) <= set(programs({**running.env, **_ports()})), \
            "deploy/supervisord.conf must run disaster_relief and relay_disaster_relief"
        running.start_all()
        yield running
    finally:            # also when start-up fails: never leave processes behind
        running.stop_all()


def _ports() -> dict:
    """Placeholders so that programs() can expand a config that names ports not yet known."""
    return {"DISASTER_RELIEF_PORT": "0", "RELAY_DISASTER_RELIEF_PORT": "0"}


def sample(text: str, name: str, **labels) -> float | None:
    wanted = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    for line in text.splitlines():
        match = re.match(rf"^{name}(?:{{(.*)}})? (\S+)$", line)
        if match and ",".join(sorted((match.group(1) or "").split(","))) == wanted:
            return float(match.group(2))
    return None


def caught_up(platform: Platform) -> bool:
    head = platform.get("DISASTER_RELIEF_PORT", "/healthz")["head"]
    text = platform.get("PROJECTION_PORT", "/metrics")
    return head > 0 and sample(text, "projection_position", source="disaster_relief") == head


def test_the_demo_year_reaches_the_reporting_service_across_a_relay_kill(platform, amqp_uri):
    platform.wait_until(lambda: platform.get("DISASTER_RELIEF_PORT", "/healthz"), what="disaster_relief")
    platform.wait_until(lambda: platform.get("REPORTING_PORT", "/healthz"), what="reporting")
    platform.kill("relay_disaster_relief")          # SIGKILL: the year is stored, not yet published
    outcome = run(partial(cluster, amqp_uri, timeout=60), random.Random(2007), progress=False,
                  out=io.StringIO())
    assert outcome.unexpected == [] and len(build_plan(random.Random(2007))) == outcome.done
    platform.start("relay_disaster_relief")
    platform.wait_until(lambda: caught_up(platform), timeout=120, what="projection to catch up")

    metrics = platform.get("REPORTING_PORT", "/metrics")
    assert sample(metrics, "disaster_relief_reserve_floor_yuan") == 20000
    for reserve in outcome.reserves:
        assert sample(metrics, "disaster_relief_reserve_balance_yuan", area=reserve["area"]) == float(reserve["balance"])
        assert sample(metrics, "disaster_relief_reserve_below_floor", area=reserve["area"]) == int(reserve["below_floor"])
    assert sample(metrics, "disaster_relief_reports", stage="initial", timeliness="late", year="2007") == 1
    assert sample(metrics, "disaster_relief_reports", stage="final", timeliness="late", year="2007") == 2
    report = platform.get("REPORTING_PORT", "/report")["disaster_relief"]
    assert [i["status"] for i in report["incidents"]] == ["closed"] * 3
    assert report["reserves_below_floor"] == 1

    promtool = shutil.which("promtool")
    assert promtool, "promtool not found: install the Debian package prometheus"
    for port in ("DISASTER_RELIEF_PORT", "RELAY_DISASTER_RELIEF_PORT", "REPORTING_PORT"):
        # the restarted relay may still be starting (its standby published meanwhile)
        exposition = platform.wait_until(lambda: platform.get(port, "/metrics"), what=f"{port} /metrics")
        checked = subprocess.run([promtool, "check", "metrics"], input=exposition, text=True, capture_output=True)
        assert checked.returncode == 0, f"{port}: {checked.stdout}{checked.stderr}"
