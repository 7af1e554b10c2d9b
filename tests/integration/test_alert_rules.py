"""The Prometheus alerting rules (deploy/prometheus/alerts.yml) are valid, fire when they should,
and tell the operator what to do next. Needs promtool: `make test` installs it (Debian package
prometheus); this test fails, it does not skip, when it is missing."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

RULES = Path(__file__).resolve().parents[2] / "deploy" / "prometheus"


def promtool() -> str:
    found = shutil.which("promtool")
    if found is None:
        pytest.fail("promtool is not installed, so the alerting rules cannot be checked: install "
                    "the Debian package prometheus (apt-get install -y prometheus, as `make test` "
                    "does), which provides /usr/bin/promtool")
    return found


def rules() -> dict:
    return {rule["alert"]: rule for group in yaml.safe_load((RULES / "alerts.yml").read_text())["groups"]
            for rule in group["rules"]}


def test_promtool_checks_the_alerting_rules():
    done = subprocess.run([promtool(), "check", "rules", str(RULES / "alerts.yml")],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS: 4 rules found" in done.stdout


def test_the_alerts_fire_when_they_should(tmp_path):
    """`promtool test rules` on deploy/prometheus/alerts_test.yml, against the rules without their
    annotations (promtool compares annotations in full; they are checked below instead)."""
    document = yaml.safe_load((RULES / "alerts.yml").read_text())
    for group in document["groups"]:
        for rule in group["rules"]:
            rule.pop("annotations", None)
    (tmp_path / "alerts.yml").write_text(yaml.safe_dump(document))
    shutil.copy(RULES / "alerts_test.yml", tmp_path / "alerts_test.yml")
    done = subprocess.run([promtool(), "test", "rules", "alerts_test.yml"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS" in done.stdout


def test_every_alert_tells_the_operator_what_to_do_next():
    found = rules()
    assert {"ProjectionDeadLetters", "ProjectionEventsSkipped", "ProjectionLagGrowing"} <= set(found)
    assert "increase(projection_dead_letters_total[10m])" in found["ProjectionDeadLetters"]["expr"]
    assert "projection_lag_events" in found["ProjectionLagGrowing"]["expr"]
    for name, rule in found.items():
        assert rule["annotations"]["summary"], name
        assert "python -m services.projection dead-letters" in rule["annotations"]["description"], name
    assert "requeue" in found["ProjectionDeadLetters"]["annotations"]["description"]
