"""Budgets that hold: a call's worst case is held against the budget atomically before it is
sent, so processes sharing a ledger cannot together pass a limit; a dead process's hold expires."""

import subprocess
import sys
import time

import pytest

from tether.errors import BudgetExceeded
from tether.llm.router import Grid
from tether.store import Store

CALLER = """
import sys
from tether.errors import BudgetExceeded
from tether.llm.router import Grid
grid = Grid.from_config(sys.argv[1])
done = refused = 0
for _ in range(int(sys.argv[2])):
    try:
        grid.complete("default", "hi", max_tokens=400)
        done += 1
    except BudgetExceeded:
        refused += 1
grid.close()
print(done, refused)
"""


def config(tmp_path, calls: int, limit: int):
    reply = '{ text = "ok", delay = 0.05, usage = { input_tokens = 1, output_tokens = 400 } }'
    path = tmp_path / "tether.toml"
    path.write_text(
        f'[providers.s]\nkind = "scripted"\noptions = {{ replies = [{", ".join([reply] * calls)}] }}\n'
        f'[routes.default]\nmodels = ["s/m"]\n[budget]\ntokens_per_day = {limit}\n'
    )
    return path


@pytest.mark.slow
def test_processes_sharing_a_ledger_never_pass_the_budget_together(tmp_path):
    path = config(tmp_path, calls=6, limit=4000)  # room for nine calls of ~401 tokens, asked for 36
    procs = [subprocess.Popen([sys.executable, "-c", CALLER, str(path), "6"], stdout=subprocess.PIPE, text=True) for _ in range(6)]
    results = [tuple(map(int, p.communicate(timeout=120)[0].split())) for p in procs]
    assert all(p.returncode == 0 for p in procs)
    spent = Store().query("SELECT COALESCE(SUM(input_tokens + output_tokens), 0) AS t, COUNT(*) AS n FROM ledger WHERE outcome = 'ok'")[0]
    assert spent["t"] <= 4000 and spent["n"] == sum(d for d, _ in results)
    assert sum(d for d, _ in results) >= 8 and sum(r for _, r in results) >= 26  # the budget was used, then held
    assert Store().query("SELECT COUNT(*) FROM reservations")[0][0] == 0  # every hold was settled


def test_a_hold_counts_until_it_is_settled_or_its_process_is_gone(tmp_path):
    grid = Grid.from_config(config(tmp_path, calls=3, limit=1000))
    budget = grid.config.budget
    held = grid.ledger.reserve([(budget, "overall", None, None)], None, 800, "s/m", None, lease=3600)  # a process that died mid-call
    with pytest.raises(BudgetExceeded, match="800 tokens used or held today"):
        grid.complete("default", "hi", max_tokens=400)
    grid.store.write("UPDATE reservations SET expires = ? WHERE id = ?", (time.time() - 1, held))  # its lease ran out
    assert grid.complete("default", "hi", max_tokens=400).text == "ok"
    grid.ledger.flush()
    rows = grid.store.query("SELECT id FROM reservations")
    assert [r[0] for r in rows] == [held]  # the call's own hold is settled with its row; the dead one stays till cleaned
    grid.close()
