"""Failover, retries, circuit breaking, budgets and the ledger, on scripted providers."""

import pytest

from tests.conftest import ledger_rows
from tether.errors import (
    AllAttemptsFailed,
    AuthError,
    BadRequest,
    BudgetExceeded,
    ConfigError,
    MissingKey,
    RateLimited,
    StreamInterrupted,
    TransientError,
    UnknownModel,
)
from tether.llm.router import Breaker
from tether.llm.types import Usage

ROUTE = {"routes": {"r": {"models": ["a/one", "b/two"]}}}


def test_a_reply_carries_model_usage_cost_and_latency(make_grid):
    grid = make_grid(
        {"models": {"a/one": {"input_per_mtok": 1.0, "output_per_mtok": 2.0}}},
        a=[{"text": "hi", "usage": {"input_tokens": 1000, "output_tokens": 500}}],
    )
    r = grid.complete("a/one", "hello")
    assert (r.text, r.model, r.provider) == ("hi", "a/one", "a")
    assert (r.usage.input_tokens, r.usage.output_tokens) == (1000, 500)
    assert r.cost_usd == pytest.approx(0.002)
    assert r.latency_ms > 0
    [row] = ledger_rows(grid)
    assert (row["model"], row["outcome"], row["input_tokens"], row["output_tokens"]) == ("a/one", "ok", 1000, 500)
    assert row["cost_usd"] == pytest.approx(0.002)


def test_cached_input_tokens_cost_the_catalogues_cached_price_and_the_full_price_when_the_user_set_only_an_input_price(make_grid):
    used = {"text": "hi", "usage": {"input_tokens": 1_000_000, "output_tokens": 0, "cached_tokens": 800_000}}
    grid = make_grid({"models": {"openai/gpt-4.1": {"input_per_mtok": 3.0}}}, openai=[used, used])
    assert grid.complete("openai/gpt-4o-mini", "q").cost_usd == pytest.approx(0.2 * 0.15 + 0.8 * 0.075)  # the catalogue's prices
    assert grid.complete("openai/gpt-4.1", "q").cost_usd == pytest.approx(3.0)  # the catalogue's cached price was for another input price
    assert [row["cost_usd"] for row in ledger_rows(grid)] == [pytest.approx(0.09), pytest.approx(3.0)]


def test_unknown_price_is_unknown_not_zero(make_grid):
    grid = make_grid(a=["hi"])
    r = grid.complete("a/mystery", "hello")
    assert r.cost_usd is None
    assert ledger_rows(grid)[0]["cost_usd"] is None


def test_transient_failure_fails_over_in_order_and_every_attempt_is_a_row(make_grid):
    grid = make_grid(ROUTE, a=[TransientError("a down"), TransientError("a down")], b=["from b"])
    r = grid.complete("r", "q")
    assert r.text == "from b" and r.route == "r" and r.attempts == 3
    rows = ledger_rows(grid)
    assert [(x["model"], x["outcome"]) for x in rows] == [("a/one", "error"), ("a/one", "error"), ("b/two", "ok")]
    assert len({x["call_id"] for x in rows}) == 1
    assert rows[0]["error_class"] == "TransientError"


def test_retry_after_is_honoured_and_backoff_used_otherwise(make_grid):
    grid = make_grid(
        {"routes": {"r": {"models": ["a/one"], "retries": 2}}}, a=[RateLimited("slow", retry_after=1.5), TransientError("x"), "ok"]
    )
    assert grid.complete("r", "q").text == "ok"
    assert grid.sleep[0] == 1.5
    assert 0.25 <= grid.sleep[1] <= 0.5  # second retry: base 0.25 * 2, jittered to half or more


def test_a_long_retry_after_fails_over_instead_of_waiting(make_grid):
    grid = make_grid(ROUTE, a=[RateLimited("slow", retry_after=60)], b=["b"])
    assert grid.complete("r", "q").text == "b"
    assert grid.sleep == []


def test_non_transient_errors_fail_over_without_retry(make_grid):
    grid = make_grid(ROUTE, a=[AuthError("bad key"), "never used"], b=["b"])
    assert grid.complete("r", "q").text == "b"
    assert len(grid._providers["a"].requests) == 1


def test_missing_key_on_the_first_model_falls_through_to_the_next(make_grid):
    grid = make_grid(ROUTE, a=[MissingKey("a: set A_KEY")], b=["b"])
    assert grid.complete("r", "q").text == "b"


def test_when_every_model_fails_the_error_names_each(make_grid):
    grid = make_grid(ROUTE, a=[BadRequest("a/one: HTTP 400: no")], b=[AuthError("b/two: HTTP 401: bad key")])
    with pytest.raises(AllAttemptsFailed) as caught:
        grid.complete("r", "q")
    assert "a/one: HTTP 400" in str(caught.value) and "b/two: HTTP 401" in str(caught.value)


def test_a_single_model_failure_is_reported_as_itself(make_grid):
    grid = make_grid(a=[BadRequest("a/x: HTTP 400: context too long")])
    with pytest.raises(BadRequest, match="context too long"):
        grid.complete("a/x", "q")


def test_unknown_model_route_and_option(make_grid):
    grid = make_grid(a=["x"])
    with pytest.raises(UnknownModel, match="unknown model or route 'gpt4'"):
        grid.complete("gpt4", "q")
    with pytest.raises(UnknownModel, match="unknown provider 'zz'"):
        grid.complete("zz/m", "q")
    with pytest.raises(BadRequest, match="unknown option 'temprature'"):
        grid.complete("a/x", "q", temprature=0.5)


def test_breaker_opens_after_repeated_failures_then_probes_half_open():
    now = [0.0]
    b = Breaker(threshold=3, cooldown=30, clock=lambda: now[0])
    for _ in range(3):
        assert b.allow()
        b.failure()
    assert b.state == "open" and not b.allow()
    now[0] = 31
    assert b.state == "half-open"
    assert b.allow() and not b.allow()  # one probe at a time
    b.failure()
    assert b.state == "open"
    now[0] = 62
    assert b.allow()
    b.success()
    assert b.state == "closed" and b.allow()


def test_open_circuit_skips_the_provider_and_records_the_skip(make_grid):
    grid = make_grid({"routes": {"r": {"models": ["a/one", "b/two"], "retries": 0}}}, a=[TransientError("down")] * 3, b=["b"] * 4)
    for _ in range(4):
        assert grid.complete("r", "q").text == "b"
    assert len(grid._providers["a"].requests) == 3  # the fourth call did not reach a
    assert ledger_rows(grid)[-2]["outcome"] == "skipped"


def test_stream_fails_over_before_the_first_token(make_grid):
    grid = make_grid(ROUTE, a=[{"text": "never", "fail_after": 0}] * 2, b=["hello there"])
    items = list(grid.stream("r", "q"))
    assert "".join(i for i in items if isinstance(i, str)) == "hello there"
    assert items[-1].model == "b/two"


def test_stream_broken_after_tokens_raises_and_never_duplicates_text(make_grid):
    grid = make_grid(ROUTE, a=[{"text": "one two three four", "fail_after": 2}], b=["should not appear"])
    seen = []
    with pytest.raises(StreamInterrupted, match="incomplete"):
        for item in grid.stream("r", "q"):
            seen.append(item)
    assert "".join(seen) == "one two "
    assert grid._providers["b"].requests == []
    assert ledger_rows(grid)[-1]["outcome"] == "interrupted"
    assert ledger_rows(grid)[-1]["output_tokens"] > 0


def test_a_stream_the_reader_abandons_is_recorded_as_cancelled(make_grid):
    grid = make_grid(a=["many words in this reply"])
    stream = grid.stream("a/x", "q")
    next(stream)
    stream.close()
    assert ledger_rows(grid)[-1]["outcome"] == "cancelled"


def test_attempts_cut_off_are_metered_and_the_error_says_what_the_call_cost(make_grid):
    def cut(n):
        error = TransientError(f"timed out after {n} tokens")
        error.usage = Usage(1000, n, cached_tokens=600)
        return error

    grid = make_grid({"routes": {"r": {"models": ["a/one", "b/two"], "retries": 0}}}, a=[cut(5)], b=[cut(7)])
    with pytest.raises(AllAttemptsFailed) as failed:
        grid.complete("r", "q")
    assert [(r["outcome"], r["input_tokens"], r["output_tokens"]) for r in ledger_rows(grid)] == [("error", 1000, 5), ("error", 1000, 7)]
    assert (failed.value.usage.input_tokens, failed.value.usage.output_tokens, failed.value.usage.cached_tokens) == (2000, 12, 1200)


def test_usd_budget_refuses_a_call_that_would_pass_it(make_grid):
    raw = {"budget": {"usd_per_day": 0.01}, "models": {"a/x": {"input_per_mtok": 10.0, "output_per_mtok": 10.0}}}
    grid = make_grid(raw, a=[{"text": "ok", "usage": {"input_tokens": 900, "output_tokens": 0}}, "never"])
    grid.complete("a/x", "q", max_tokens=10)  # $0.009 spent
    with pytest.raises(BudgetExceeded, match="would pass \\$0.01"):
        grid.complete("a/x", "q", max_tokens=200)
    assert len(grid._providers["a"].requests) == 1  # refused before sending


def test_usd_budget_refuses_a_model_with_unknown_price(make_grid):
    grid = make_grid({"budget": {"usd_per_month": 5}}, a=["never"])
    with pytest.raises(BudgetExceeded, match="price of a/x is unknown"):
        grid.complete("a/x", "q")


def test_a_budget_falls_over_to_a_cheaper_model_that_fits(make_grid):
    raw = {
        "routes": {"r": {"models": ["a/pricey", "b/free"], "budget": {"usd_per_day": 0.001}}},
        "models": {"a/pricey": {"input_per_mtok": 100, "output_per_mtok": 100}, "b/free": {"input_per_mtok": 0, "output_per_mtok": 0}},
    }
    grid = make_grid(raw, a=["never"], b=["free reply"])
    assert grid.complete("r", "q", max_tokens=100).text == "free reply"
    assert grid._providers["a"].requests == []


def test_route_token_budget_counts_only_that_route(make_grid):
    raw = {"routes": {"r": {"models": ["a/x"], "budget": {"tokens_per_day": 100}}}}
    grid = make_grid(raw, a=[{"text": "ok", "usage": {"input_tokens": 60, "output_tokens": 30}}, "direct"])
    grid.complete("r", "q", max_tokens=5)
    with pytest.raises(BudgetExceeded, match="route r budget: 90 tokens used or held today"):
        grid.complete("r", "q", max_tokens=50)
    assert grid.complete("a/x", "q", max_tokens=50).text == "direct"  # no route, no route budget


def test_ledger_never_holds_a_secret(make_grid, monkeypatch):
    monkeypatch.setenv("A_KEY", "sk-live-very-secret-value-123")
    raw = {"providers": {"a": {"kind": "scripted", "api_key_env": "A_KEY"}}}
    grid = make_grid(raw, a=[AuthError("a/x: HTTP 401: Incorrect API key provided: sk-live-very-secret-value-123")])
    with pytest.raises(AuthError):
        grid.complete("a/x", "q")
    dump = repr(ledger_rows(grid))
    assert "very-secret" not in dump and "[secret]" in dump


def test_tools_are_accepted_in_openai_and_bare_form(make_grid):
    grid = make_grid(a=[{"text": "", "tool_calls": [{"name": "f", "arguments": '{"x": 1}'}]}])
    r = grid.complete("a/x", "q", tools=[{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}])
    assert r.tool_calls[0].name == "f" and r.tool_calls[0].args == {"x": 1}
    assert grid._providers["a"].requests[0].tools[0].name == "f"


def test_a_routes_context_window_is_its_smallest_models(make_grid):
    grid = make_grid(
        {
            "routes": {"mixed": {"models": ["openai/gpt-4.1-mini", "local/smollm2-135m"]}},
            "providers": {"local": {"kind": "local", "options": {"n_ctx": 4096}}},
        }
    )
    assert grid.context_window("local/qwen2.5-coder-1.5b") == 4096  # what the local model is loaded with, not what it could hold
    assert grid.context_window("openai/gpt-4.1-mini") > 100_000
    assert grid.context_window("mixed") == 4096


def test_a_package_adds_a_provider_kind_through_an_entry_point(tmp_path, monkeypatch, make_grid):
    """A third party registers a provider without editing tether, as llm's plugins do."""
    (tmp_path / "echo_provider.py").write_text(
        "from tether.llm.providers import Provider\n"
        "from tether.llm.types import Response, Usage\n"
        "class Echo(Provider):\n"
        "    def complete(self, req):\n"
        "        return Response(text='echo: ' + req.messages[-1]['content'], model=f'{self.name}/{req.model}', provider=self.name,\n"
        "                        usage=Usage(1, 1))\n"
    )
    dist = tmp_path / "echo_provider-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: echo-provider\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[tether.providers]\necho = echo_provider:Echo\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    grid = make_grid({"providers": {"mine": {"kind": "echo"}}})
    assert grid.complete("mine/any", "hello").text == "echo: hello"
    with pytest.raises(ConfigError, match="kind must be one of"):
        make_grid({"providers": {"mine": {"kind": "nonesuch"}}})
