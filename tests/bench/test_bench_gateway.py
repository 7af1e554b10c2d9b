"""Unit tier: the gateway phase's pure parts (bench/gateway.py): the open loop's job walks the
household cycle one command per slot, a refusal starts a new cycle, and the targets read the
phase's figures."""
from __future__ import annotations

import pytest

from bench import gateway, report
from bench.workload import Households
from shared.errors import Conflict


class FakeHttp:
    def __init__(self, refuse: str | None = None):
        self.calls, self.refuse = [], refuse

    def call(self, method, path, **kwargs):
        self.calls.append((method, path))
        if self.refuse and path.endswith(self.refuse):
            raise Conflict("case_id", "refused", code="dibao.case_state")
        return f"id-{len(self.calls)}"


def test_the_job_sends_the_cycle_one_command_per_slot():
    client, job, state = FakeHttp(), gateway.cycle_job(gateway.http_cycle, Households(0)), {}
    names = [job(client, state)["command"] for _ in range(4)]
    assert names == ["register_household", "apply", "verify", "register_household"]
    assert client.calls[:3] == [("POST", "/social-assistance/households"),
                                ("POST", "/social-assistance/households/id-1/apply"),
                                ("POST", "/social-assistance/cases/id-2/verify")]


def test_a_refused_command_starts_a_new_cycle():
    client, job, state = FakeHttp(refuse="/verify"), gateway.cycle_job(gateway.http_cycle, Households(0)), {}
    assert [job(client, state)["command"] for _ in range(2)] == ["register_household", "apply"]
    with pytest.raises(Conflict):
        job(client, state)
    assert job(client, state)["command"] == "register_household"


def test_the_targets_read_the_gateway_figures():
    level = {"commands_ps": 0.0, "command_ms": {"p50": 1.0, "p99": 2.0}}
    result = {"http": {**level, "commands_ps": 90.0}, "rpc": {**level, "commands_ps": 100.0},
              "http_at_rate": {"latency_ms": {"p99": 49.0}}, "rpc_at_rate": {"latency_ms": {"p99": 20.0}}}
    figures = {"gateway": {**result, **gateway.headline(result)}}
    ratio, p99 = (next(t for t in report.TARGETS if t.platform == key)
                  for key in ("gateway.http_commands_ps", "gateway.http_at_rate_ms.p99"))
    row = report.evaluate(ratio, figures)
    assert row.ratio == pytest.approx(0.9) and row.verdict == "met"
    assert report.evaluate(p99, figures).verdict == "met"
    figures["gateway"]["http_at_rate_ms"] = {"p99": 50.0}
    assert report.evaluate(p99, figures).verdict == "MISSED"
    figures["gateway"]["http_commands_ps"] = 79.0
    assert report.evaluate(ratio, figures).verdict == "MISSED"
