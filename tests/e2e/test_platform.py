"""End-to-end tier: the processes of `make run`, driven through their public interfaces."""
from __future__ import annotations

import pytest

from shared.rpc import cluster
from tests.e2e.platform import Platform
from tests.support import member


def register_and_approve(rpc, count: int, area: str, registration: str) -> list[str]:
    cases = []
    for i in range(count):
        hh = rpc.social_assistance.register_household(area, registration,
                                                      [member(income="0"), member(income="100")])
        case = rpc.social_assistance.apply(hh, "officer-li")
        rpc.social_assistance.verify(case, "officer-li", "100")
        rpc.social_assistance.approve(case, "officer-wang", "2007-01")
        cases.append(case)
    return cases


def caught_up(platform: Platform) -> bool:
    head = platform.get("SOCIAL_ASSISTANCE_PORT", "/healthz")["head"]
    return platform.metric("PROJECTION_PORT", "projection_position", source="social_assistance") == head


def test_commands_flow_to_the_read_model_and_reporting_even_across_a_relay_kill(platform, amqp_uri):
    platform.wait_until(lambda: platform.get("SOCIAL_ASSISTANCE_PORT", "/healthz"), what="social_assistance")
    platform.wait_until(lambda: platform.get("REPORTING_PORT", "/healthz"), what="reporting")
    with cluster(amqp_uri, timeout=60) as rpc:
        platform.wait_until(lambda: rpc.social_assistance.standard("beigang", "urban", "2007-01"),
                            what="RPC to social_assistance")
        register_and_approve(rpc, 5, "beigang", "urban")
        platform.wait_until(lambda: caught_up(platform), what="projection to catch up")
        first = platform.get("REPORTING_PORT", "/report")

        platform.kill("relay_social_assistance")      # SIGKILL mid-stream
        register_and_approve(rpc, 4, "xilin", "rural")
        rpc.social_assistance.run_payments("2007-01")
        platform.start("relay_social_assistance")
        platform.wait_until(lambda: caught_up(platform), what="projection to catch up after the relay restart")

    # The killed relay's standby took over meanwhile; the restarted one stands by and shows the
    # recorded lag too (once it answers): exactly one of the two publishes.
    platform.wait_until(lambda: platform.metric("RELAY_SOCIAL_ASSISTANCE_PORT", "relay_lag_events") == 0,
                        what="the restarted relay to show no lag")
    assert sorted(platform.metric(port, "relay_active") for port in
                  ("RELAY_SOCIAL_ASSISTANCE_PORT", "RELAY_SOCIAL_ASSISTANCE_PORT_2")) == [0.0, 1.0]
    report = platform.get("REPORTING_PORT", "/report")
    assert district(first)["active_cases"]["value"] == 5
    assert district(report)["active_cases"]["value"] == 9
    assert district(report)["persons_covered"]["by_scheme"] == {"urban": 10, "rural": 8}
    # 5 urban households (300 - 50) * 2 + 4 rural households (200 - 50) * 2
    assert district(report)["payments_yuan"]["value"] == "3700.00"
    metrics = platform.get("REPORTING_PORT", "/metrics")
    assert "dibao_coverage_ratio" in metrics


def district(report: dict) -> dict:
    return report["social_assistance"]["district"]["metrics"]


def test_every_process_serves_metrics_that_promtool_accepts(platform):
    import shutil
    import subprocess
    promtool = shutil.which("promtool")
    assert promtool, "promtool not found: install the Debian package prometheus"
    for port in platform.ports:  # every process of make run
        text = platform.wait_until(lambda: platform.get(port, "/metrics"), what=f"{port} /metrics")
        checked = subprocess.run([promtool, "check", "metrics"], input=text, text=True, capture_output=True)
        assert checked.returncode == 0, f"{port}: {checked.stdout}{checked.stderr}"
    assert "entrypoint_calls_total" in platform.get("SOCIAL_ASSISTANCE_PORT", "/metrics")
    assert "relay_lag_events" in platform.get("RELAY_SOCIAL_ASSISTANCE_PORT", "/metrics")
    assert "projection_lag_events" in platform.get("PROJECTION_PORT", "/metrics")
