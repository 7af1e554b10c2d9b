"""The Prometheus recording and alerting rules (deploy/prometheus/alerts.yml) are valid, each alert
fires when it should in a `promtool test rules` case (deploy/prometheus/alerts_test.yml) and tells
the operator what to do next, with a runbook section in docs/operations.md; the Alertmanager
configuration passes `amtool check-config` and routes each kind of alert to its receiver.
promtool and amtool come from Debian packages `make test` installs (make tools); these tests fail,
they do not skip, when one is missing."""
from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "deploy" / "prometheus"
ALERTMANAGER = ROOT / "deploy" / "alertmanager" / "alertmanager.yml"
OPERATIONS = ROOT / "docs" / "operations.md"


def tool(name: str, package: str) -> str:
    found = shutil.which(name)
    if found is None:
        pytest.fail(f"{name} is not installed, so this cannot be checked: `make tools` installs the "
                    f"Debian package {package} (apt-get install -y --no-install-recommends {package})")
    return found


def groups() -> list[dict]:
    return yaml.safe_load((RULES / "alerts.yml").read_text())["groups"]


def alerts() -> dict:
    return {rule["alert"]: rule for group in groups() for rule in group["rules"] if "alert" in rule}


def records() -> dict:
    return {rule["record"]: rule for group in groups() for rule in group["rules"] if "record" in rule}


def test_promtool_checks_the_rules():
    done = subprocess.run([tool("promtool", "prometheus"), "check", "rules", str(RULES / "alerts.yml")],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"SUCCESS: {len(alerts()) + len(records())} rules found" in done.stdout


def test_the_alerts_fire_when_they_should(tmp_path):
    """`promtool test rules` on alerts_test.yml, against the rules without their annotations
    (promtool compares annotations in full; they are checked below instead)."""
    document = yaml.safe_load((RULES / "alerts.yml").read_text())
    for group in document["groups"]:
        for rule in group["rules"]:
            rule.pop("annotations", None)
    (tmp_path / "alerts.yml").write_text(yaml.safe_dump(document))
    shutil.copy(RULES / "alerts_test.yml", tmp_path / "alerts_test.yml")
    done = subprocess.run([tool("promtool", "prometheus"), "test", "rules", "alerts_test.yml"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS" in done.stdout


def test_every_alert_has_a_case_where_it_fires_and_one_where_it_does_not():
    cases = [case for test in yaml.safe_load((RULES / "alerts_test.yml").read_text())["tests"]
             for case in test.get("alert_rule_test", [])]
    fires = {c["alertname"] for c in cases if c.get("exp_alerts")}
    silent = {c["alertname"] for c in cases if not c.get("exp_alerts")}
    assert set(alerts()) - fires == set(), "alerts never shown firing"
    # quiet cases: either an explicit eval with none, or another series of the same case not alerting
    assert {"ProjectionDeadLetters", "ProjectionLagGrowing", "RelayDown", "SubscriptionLagHigh",
            "PlanTargetMissedAfterDue", "ReliefReserveBelowFloor"} <= silent


def test_the_issue_s_alerts_are_there():
    assert {"ProjectionLagGrowing", "RelayLagGrowing", "SubscriptionLagHigh",     # lag growing
            "ProjectionDeadLetters", "SubscriptionDeadLetters",                   # dead letters
            "ServiceFaultRatioHigh", "GatewayServerErrorRatioHigh",               # error ratio
            "SubscriptionSuspended", "RelayDown", "ProjectionDown",
            "PlanTargetMissedAfterDue", "ReliefReserveBelowFloor"} <= set(alerts())
    assert "reporting_target_due_timestamp_seconds" in alerts()["PlanTargetMissedAfterDue"]["expr"]


def anchors(markdown: str) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces to dashes."""
    return {re.sub(r"[^\w\- ]", "", line.lstrip("#").strip().lower()).replace(" ", "-")
            for line in markdown.splitlines() if line.startswith("#")}


def test_every_alert_tells_the_operator_what_to_do_next():
    documented = anchors(OPERATIONS.read_text(encoding="utf-8"))
    for name, rule in alerts().items():
        annotations = rule["annotations"]
        assert annotations["summary"] and len(annotations["description"]) > 80, name
        assert annotations["runbook"] == f"docs/operations.md#{name.lower()}", name
        assert name.lower() in documented, f"docs/operations.md has no section `### {name}`"
        assert rule["labels"]["severity"] in {"critical", "warning"}, name
    assert "requeue" in alerts()["ProjectionDeadLetters"]["annotations"]["description"]


def test_amtool_checks_the_alertmanager_configuration():
    done = subprocess.run([tool("amtool", "prometheus-alertmanager"), "check-config", str(ALERTMANAGER)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS" in done.stdout


@pytest.mark.parametrize("labels,receiver", [
    ({"alertname": "RelayDown", "severity": "critical"}, "on-call"),
    ({"alertname": "ServiceFaultRatioHigh", "severity": "critical"}, "on-call"),
    ({"alertname": "PlanTargetMissedAfterDue", "severity": "warning", "key": "k"}, "bureau"),
    ({"alertname": "ReliefReserveBelowFloor", "severity": "warning", "area": "xinzha"}, "bureau"),
    ({"alertname": "SubscriptionSuspended", "severity": "warning"}, "operators"),
])
def test_each_kind_of_alert_reaches_its_receiver(labels, receiver):
    done = subprocess.run([tool("amtool", "prometheus-alertmanager"), "config", "routes", "test",
                           f"--config.file={ALERTMANAGER}", *(f"{k}={v}" for k, v in labels.items())],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.strip() == receiver


def test_every_alert_in_the_rules_is_routed_by_its_severity():
    routes = yaml.safe_load(ALERTMANAGER.read_text())["route"]["routes"]
    severities = {m for r in routes for m in r.get("matchers", []) if m.startswith("severity=")}
    assert severities == {'severity="critical"', 'severity="warning"'}
