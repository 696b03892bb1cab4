"""The Ledger page's shaping (tether.web.ledger_view): axes with round ticks and a unit, bars in
proportion and within the chart, every day of the period on the x axis, outcomes told apart, and
budgets as what is used and what is left."""

import pytest

from tether import config
from tether.config import Budget
from tether.llm.keys import Key
from tether.web import ledger_view as view


def total(key, tokens=0, cost=None, attempts=1, unpriced=0):
    return {"key": key, "input_tokens": tokens, "output_tokens": 0, "cost_usd": cost, "attempts": attempts, "unpriced": unpriced}


def test_the_switch_takes_day_model_or_key_and_nothing_else():
    assert [view.grouping(b) for b in ("day", "model", "key", None, "provider", "day; DROP")] == [
        "day",
        "model",
        "key",
        "day",
        "day",
        "day",
    ]


@pytest.mark.parametrize("top", [1, 3, 7, 401, 999, 1000, 0.0123, 0.31, 12_345_678])
def test_the_y_axis_is_round_ticks_from_zero_to_at_or_above_the_tallest_bar(top):
    axis_top, ticks = view.scale(top)
    steps = {round(b - a, 9) for a, b in zip(ticks, ticks[1:], strict=False)}
    assert ticks[0] == 0 and ticks[-1] == axis_top >= top and 3 <= len(ticks) <= 6 and len(steps) == 1
    assert axis_top < top * 2.5  # the tallest bar is not a sliver of the chart


def test_a_day_chart_has_every_day_of_the_period_and_bars_in_proportion_within_it():
    shape = view.chart([total("2024-06-02", 400, attempts=2), total("2024-06-04", 100)], "day", "2024-06-01", "2024-06-05")
    assert shape["unit"] == "tokens" and shape["height"] <= 220 and shape["width"] <= 720
    assert [b["label"] for b in shape["bars"]] == ["06-01", "06-02", "06-03", "06-04", "06-05"]
    heights = [b["height"] for b in shape["bars"]]
    assert heights[0] == heights[2] == heights[4] == 0 and heights[1] == pytest.approx(4 * heights[3], abs=0.2)
    for b in shape["bars"]:
        assert shape["top"] <= b["y"] and b["y"] + b["height"] == pytest.approx(shape["base"])  # standing on the axis, under its top
        assert shape["left"] <= b["x"] and b["x"] + b["width"] <= shape["right"]
    assert [t["label"] for t in shape["ticks"]] == ["0", "100", "200", "300", "400"]
    assert shape["bars"][1]["title"] == "2024-06-02: 400 tokens (2 calls)"


def test_usd_is_the_unit_when_any_call_has_a_price_and_the_unpriced_calls_are_said():
    shape = view.chart([total("a/x", 9000, cost=0.02), total("b/y", 100, cost=None, unpriced=3)], "model", "2024-06-01", "2024-06-05")
    assert shape["unit"] == "USD" and [t["label"] for t in shape["ticks"]][:2] == ["$0", "$0.005"]
    assert [b["name"] for b in shape["bars"]] == ["a/x", "b/y"] and shape["bars"][1]["height"] == 0
    assert shape["note"] == "3 calls of a model with no price not in USD"


def test_models_and_keys_go_from_the_largest_and_past_thirty_the_rest_are_one_bar():
    shape = view.chart([total(f"p/m{n:02}", 10 + n) for n in range(40)] + [total(None, 5)], "key", "2024-06-01", "2024-06-05")
    names = [b["name"] for b in shape["bars"]]
    assert len(names) == 30 and names[0] == "p/m39" and names[-1] == "12 others"
    assert all(len(b["label"]) <= 8 for b in shape["bars"])  # labels shortened to their slot, never overlapping
    assert "(direct)" not in names  # the smallest (a call with no gateway key) is in the others
    assert view.chart([total(None, 5)], "key", "2024-06-01", "2024-06-05")["bars"][0]["name"] == "(direct)"


def test_a_tiny_spend_still_shows_and_an_empty_ledger_draws_axes_only():
    shape = view.chart([total("big", 1_000_000), total("tiny", 1)], "model", "0000", "2024-06-05")
    assert shape["bars"][1]["height"] == 1.0
    empty = view.chart([], "day", "2024-06-01", "2024-06-03")
    assert [b["height"] for b in empty["bars"]] == [0, 0, 0] and [t["label"] for t in empty["ticks"]] == ["0", "1"]


def test_outcomes_are_ok_stopped_failed_or_refused():
    kinds = [view.outcome_kind(o) for o in ("ok", "cancelled", "interrupted", "error", "skipped", "refused")]
    assert kinds == ["ok", "stopped", "stopped", "failed", "failed", "refused"]


def test_a_budget_bar_says_what_is_used_and_left_and_is_as_long_as_its_share():
    bar = view.budget_bar({"scope": "overall", "period": "today", "unit": "tokens", "limit": 1000, "used": 401})
    assert bar["text"] == "401 of 1,000 tokens used · 599 left" and bar["state"] == "ok"
    assert bar["filled"] == pytest.approx(bar["length"] * 0.401, abs=0.1)
    usd = view.budget_bar({"scope": "key team", "period": "this month", "unit": "USD", "limit": 5.0, "used": 4.5123})
    assert usd["text"] == "$4.5123 of $5.00 used · $0.4877 left" and usd["state"] == "near"
    over = view.budget_bar({"scope": "overall", "period": "today", "unit": "USD", "limit": 1.0, "used": 1.5})
    assert over["text"] == "$1.50 of $1.00 used · over by $0.50" and over["state"] == "over" and over["filled"] == over["length"]
    none_allowed = view.budget_bar({"scope": "overall", "period": "today", "unit": "tokens", "limit": 0, "used": 0})
    assert none_allowed["state"] == "full" and none_allowed["filled"] == none_allowed["length"]


def test_the_budgets_are_the_overall_each_routes_and_each_keys_that_set_a_limit():
    cfg = config.from_dict(
        {
            "budget": {"usd_per_day": 2.0},
            "routes": {
                "cheap": {"models": ["openai/gpt-5-mini"], "budget": {"tokens_per_month": 500}},
                "free": {"models": ["openai/gpt-5-mini"]},
            },
        }
    )
    keys = [Key(1, "team", "tk-", 0.0, Budget(tokens_per_day=9)), Key(2, "open", "tk-", 0.0)]
    assert [(scope, column, value) for _, scope, column, value in view.limits(cfg, keys)] == [
        ("overall", None, None),
        ("route cheap", "route", "cheap"),
        ("key team", "key", "team"),
    ]
