"""The benchmark's payment-run phase, run for real on a small caseload: the child process the
bench starts (`python -m bench payments CASES START`) stores the cases, pays the month and the
year-end extra month, pays nobody twice on the second run, shows progress and projects the time
for bigger caseloads. No timed assertions: the figures are checked for meaning, not speed."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.e2e.platform import ROOT

pytestmark = pytest.mark.integration


def test_the_payment_phase_pays_each_case_once_and_shows_progress(fresh_schemas):
    done = subprocess.run([sys.executable, "-m", "bench", "payments", "30", "3000000"], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(next(line for line in done.stdout.splitlines() if line.startswith("RESULT "))[7:])
    assert result["cases"] == 30
    assert (result["monthly"]["paid"], result["year_end"]["paid"], result["again"]["paid"]) == (30, 30, 0)
    assert result["again"]["already_paid"] == 30
    assert result["later"]["paid"] == 30 and result["later_eps"] > 0
    assert result["eps"] > 0 and set(result["projected_seconds"]) == {"100000", "1000000"}
    assert result["projected_seconds"]["1000000"] == pytest.approx(10 * result["projected_seconds"]["100000"])
    assert "payment run 2007-07: 30/30" in done.stderr and "year-end extra 2007: 30/30" in done.stderr
    assert "payment run 2007-12: 30/30" in done.stderr
