"""The team load and fault run of benchmarks/team.py, small: two gateway processes on one
PostgreSQL ledger, eight clients, a budget that runs out half-way, one gateway killed with SIGKILL
a third of the way in and PostgreSQL restarted at two thirds. Faults are triggered by request
count, not by time, so the run checks the same things on a slow machine as on a fast one."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_no_row_lost_or_doubled_and_no_overspend_under_kill_and_restart():
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "team.py"), "--gateways", "2", "--clients", "8", "--requests", "240", "--check"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    result = json.loads(done.stdout[done.stdout.index("{") :])
    assert done.returncode == 0, (result, done.stderr[-2000:])
    assert result["lost_rows"] == 0 and result["doubled"] == 0 and result["spent"] <= result["budget"]
    assert result["answered"] > 0 and result["refused_budget"] > 0  # the budget ran out during the run, and held
    assert any("SIGKILL" in e for e in result["events"]) and any("restarted" in e for e in result["events"])
