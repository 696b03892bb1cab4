"""A call a budget or a rate limit refuses before sending is a ledger row of its own ('refused',
no tokens), told apart from failures; and what a budget has used is read the way it is enforced."""

import pytest

from tests.conftest import ledger_rows
from tether.errors import BudgetExceeded, KeyLimit
from tether.llm.keys import Key

USED = {"text": "ok", "usage": {"input_tokens": 300, "output_tokens": 100}}
BUDGET = {"routes": {"r": {"models": ["a/m"]}}, "budget": {"tokens_per_day": 1000}}


def test_a_budget_refusal_is_a_refused_row_not_a_failure(make_grid):
    grid = make_grid(BUDGET, a=[USED, USED])
    grid.complete("r", "hi", max_tokens=100)
    with pytest.raises(BudgetExceeded):
        grid.complete("r", "hi " * 300, max_tokens=600)  # 400 used + its worst case passes 1,000
    rows = ledger_rows(grid)
    assert [(r["outcome"], r["input_tokens"] + r["output_tokens"], r["error_class"]) for r in rows] == [
        ("ok", 400, None),
        ("refused", 0, "BudgetExceeded"),
    ]
    [total] = grid.ledger.totals("model")
    assert (total["ok"], total["failed"], total["stopped"], total["refused"], total["attempts"]) == (1, 0, 0, 1, 2)


def test_budget_use_is_what_the_budget_enforces_holds_included(make_grid):
    grid = make_grid({**BUDGET, "budget": {"tokens_per_day": 1000, "tokens_per_month": 5000}}, a=[USED])
    limits = [(grid.config.budget, "overall", None, None)]
    grid.complete("r", "hi", max_tokens=100)
    assert [(u["scope"], u["period"], u["unit"], u["limit"], u["used"]) for u in grid.ledger.budget_use(limits)] == [
        ("overall", "today", "tokens", 1000, 400),
        ("overall", "this month", "tokens", 5000, 400),
    ]
    grid.ledger.reserve(limits, None, 500, "a/m", "r", lease=60)  # a call in flight holds its worst case
    assert [u["used"] for u in grid.ledger.budget_use(limits)] == [900, 900]
    with pytest.raises(BudgetExceeded, match="900 tokens used or held today"):  # the very number the page shows
        grid.ledger.reserve(limits, None, 200, "a/m", "r", lease=60)


def test_refused_calls_do_not_count_against_a_keys_rate_limit(make_grid):
    grid = make_grid({"routes": {"r": {"models": ["a/m"]}}}, a=[USED] * 3)
    key = Key(id=1, name="team", prefix="tk-", created=0.0, budget=grid.config.budget.__class__(tokens_per_day=700), rpm=2)
    grid.complete("r", "hi", max_tokens=100, key=key)
    for _ in range(2):  # refused by its budget twice; a third call is refused by the budget again, not by the rate limit
        with pytest.raises(BudgetExceeded) as refused:
            grid.complete("r", "hi", max_tokens=400, key=key)
        assert not isinstance(refused.value, KeyLimit)
    assert [r["outcome"] for r in ledger_rows(grid)] == ["ok", "refused", "refused"]
    assert {r["key"] for r in ledger_rows(grid)} == {"team"}


def test_a_failover_does_not_slip_past_a_keys_rate_limit(make_grid):
    grid = make_grid({"routes": {"r": {"models": ["a/m", "b/m"]}}}, a=[USED] * 3, b=[USED] * 3)
    key = Key(id=1, name="team", prefix="tk-", created=0.0, budget=grid.config.budget.__class__(), rpm=1)
    grid.complete("r", "hi", max_tokens=100, key=key)
    with pytest.raises(KeyLimit):  # the second model of the route is the same call, over the same limit
        grid.complete("r", "hi", max_tokens=100, key=key)
    assert [r["outcome"] for r in ledger_rows(grid)] == ["ok", "refused", "refused"]
