"""End-to-end tier: the welfare service in the processes of `make run` (deploy/supervisord.conf),
through relay, RabbitMQ, projection and reporting, across a SIGKILL of the welfare relay."""
from __future__ import annotations

from pathlib import Path

import pytest

from shared import domains
from shared.rpc import cluster
from tests.e2e.platform import Platform
from tests.welfare.welfare_support import WELFARE_TARGETS, admit, person, worker

ROOT = Path(__file__).resolve().parents[2]


def wired() -> bool:
    conf = (ROOT / "deploy" / "supervisord.conf").read_text(encoding="utf-8")
    return "[program:relay_welfare]" in conf and "welfare" in domains.names()


pytestmark = pytest.mark.e2e


@pytest.fixture
def platform(fresh_schemas, amqp_uri, tmp_path):
    assert wired(), ("make run must run welfare and relay_welfare (deploy/supervisord.conf) and "
                     "the projection must consume welfare (services/registry.py)")
    running = Platform(amqp_uri, tmp_path)
    try:
        running.start_all()
        yield running
    finally:            # also when start-up fails: never leave processes behind
        running.stop_all()


class Rpc:
    """The welfare methods the helpers of welfare_support call on an app, over RPC."""

    def __init__(self, proxy):
        self.proxy = proxy

    def __getattr__(self, name):
        return getattr(self.proxy.welfare, name)


def caught_up(platform: Platform) -> bool:
    head = platform.get("WELFARE_PORT", "/healthz")["head"]
    for line in platform.get("PROJECTION_PORT", "/metrics").splitlines():
        if line.startswith('projection_position{source="welfare"}'):
            return head > 0 and float(line.rsplit(" ", 1)[1]) == head
    return False


def sample(metrics: str, name: str, **labels) -> float | None:
    wanted = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    for line in metrics.splitlines():
        if line.startswith(f"{name}{{{wanted}}} ") or (not labels and line.startswith(f"{name} ")):
            return float(line.rsplit(" ", 1)[1])
    return None


def test_welfare_commands_reach_the_reporting_metrics_across_a_relay_kill(platform, amqp_uri):
    platform.wait_until(lambda: platform.get("WELFARE_PORT", "/healthz"), what="welfare")
    platform.wait_until(lambda: platform.get("REPORTING_PORT", "/healthz"), what="reporting")
    with cluster(amqp_uri, timeout=60) as proxy:
        app = Rpc(proxy)
        platform.wait_until(lambda: app.rules(), what="RPC to welfare")
        beigang = app.register_institution("beigang", "北港敬老院", "public", 160, "1998-01-01")
        for _ in range(3):
            admit(app, beigang)
        platform.wait_until(lambda: caught_up(platform), what="projection to catch up")

        platform.kill("relay_welfare")                   # SIGKILL mid-stream
        app.register_institution("xilin", "西林敬老院", "public", 140, "1995-01-01")
        for passed in (True, True, True, True, False):
            carer = worker()
            worker_id = app.register_care_worker(beigang, carer["id_number"], carer["name"], "2006-01-01")
            app.record_training(worker_id, "养老护理员初级", "2007-04-20", passed)
        elder = person()
        supported = app.register_supported_person("three_no", "beigang", elder["id_number"],
                                                  elder["name"], elder["birth_date"], "2007-01-05")
        app.arrange_support(supported, "dispersed", "2007-02-01")
        factory = app.register_enterprise("xinzha", "新闸福利厂", "collective", 20, "1990-01-01")
        for _ in range(10):
            disabled = worker()
            app.hire_disabled_employee(factory, disabled["id_number"], disabled["name"], "2007-01-08")
        app.restructure(factory, "2007-06-29", "股份合作制")
        app.grant_rebate(factory, "2007-03", "25000.00", "2007-04-10")
        platform.start("relay_welfare")
        platform.wait_until(lambda: caught_up(platform),
                            what="projection to catch up after the relay restart")

    report = platform.get("REPORTING_PORT", "/report")["welfare"]
    beds = report["areas"]["beigang"]["metrics"]["beds_per_1000_aged_60_plus"]
    assert (beds["beds"], beds["met"]) == (160, True)
    assert report["areas"]["xilin"]["metrics"]["beds_per_1000_aged_60_plus"]["met"] is False
    metrics = platform.get("REPORTING_PORT", "/metrics")
    target = WELFARE_TARGETS["elderly_care_beds_per_1000_aged_60_plus"]["value"]
    assert sample(metrics, "welfare_elderly_care_beds_per_1000_aged_60_plus_target") == target
    assert sample(metrics, "welfare_elderly_care_beds_target_met", area="xilin") == 0
    assert sample(metrics, "welfare_elderly_care_residents", area="beigang") == 3
    assert sample(metrics, "welfare_care_worker_training_ratio", area="beigang") == 0.8
    assert sample(metrics, "welfare_care_worker_training_target_met", area="beigang") == 1
    assert sample(metrics, "welfare_special_support_ratio", area="beigang", category="three_no") == 1
    assert sample(metrics, "welfare_three_no_dispersed_without_medical_care", area="beigang") == 1
    assert sample(metrics, "welfare_enterprises_restructured_ratio", area="xinzha") == 1
    assert sample(metrics, "welfare_enterprise_tax_rebates_yuan", area="xinzha", year="2007") == 25000


def test_the_welfare_processes_serve_metrics_that_promtool_accepts(platform):
    import shutil
    import subprocess
    promtool = shutil.which("promtool")
    assert promtool, "promtool not found: install the Debian package prometheus"
    for port in ("WELFARE_PORT", "RELAY_WELFARE_PORT", "REPORTING_PORT"):
        text = platform.wait_until(lambda: platform.get(port, "/metrics"), what=f"{port} /metrics")
        checked = subprocess.run([promtool, "check", "metrics"], input=text, text=True, capture_output=True)
        assert checked.returncode == 0, f"{port}: {checked.stdout}{checked.stderr}"
    assert "welfare_elderly_care_beds" in platform.get("REPORTING_PORT", "/metrics")
