"""The OpenAI and Anthropic wire formats against a real HTTP server on 127.0.0.1, faults included."""

import threading

import pytest

from tests.conftest import ledger_rows
from tests.upstream import FAULTS
from tether.errors import AllAttemptsFailed, MalformedResponse, ProviderTimeout, RateLimited, StreamInterrupted, TransientError


def http_config(upstream, retries=1, **routes):
    return {
        "providers": {
            "up": {"kind": "openai", "base_url": upstream.url + "/v1", "api_key_env": "UP_KEY", "timeout": 0.5},
            "backup": {"kind": "openai", "base_url": upstream.url + "/v1", "timeout": 0.5},
            "claude": {"kind": "anthropic", "base_url": upstream.url, "api_key_env": "CLAUDE_KEY", "timeout": 0.5},
        },
        "routes": {name: {"models": models, "retries": retries} for name, models in routes.items()},
    }


@pytest.fixture
def keys(monkeypatch):
    monkeypatch.setenv("UP_KEY", "k-up")
    monkeypatch.setenv("CLAUDE_KEY", "k-claude")


def test_openai_complete_sends_key_and_reads_usage(make_grid, upstream, keys):
    grid = make_grid(http_config(upstream))
    r = grid.complete("up/ok-model", [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hello"}], max_tokens=20)
    assert r.text == "ok: hello"
    assert (r.usage.input_tokens, r.usage.output_tokens) == (10, 5)
    sent = upstream.requests[-1]
    assert sent["headers"]["authorization"] == "Bearer k-up"
    assert sent["body"]["max_tokens"] == 20


def test_openai_stream_yields_chunks_then_a_response(make_grid, upstream, keys):
    grid = make_grid(http_config(upstream))
    items = list(grid.stream("up/ok-model", "one two three"))
    assert "".join(i for i in items if isinstance(i, str)) == "ok: one two three"
    final = items[-1]
    assert final.text == "ok: one two three" and final.usage.output_tokens == 5 and final.ttft_ms is not None
    assert upstream.requests[-1]["body"]["stream_options"] == {"include_usage": True}


def test_streamed_tool_call_arguments_are_assembled_whole(make_grid, upstream, keys):
    grid = make_grid(http_config(upstream))
    tool = {"name": "get_weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}
    final = list(grid.stream("up/tools", "weather?", tools=[tool]))[-1]
    assert [(c.id, c.name, c.args) for c in final.tool_calls] == [("call_1", "get_weather", {"city": "Paris"})]
    assert upstream.requests[-1]["body"]["tools"][0]["function"]["name"] == "get_weather"


def test_schema_becomes_a_json_schema_response_format(make_grid, upstream, keys):
    grid = make_grid(http_config(upstream))
    schema = {"type": "object", "properties": {"label": {"enum": ["pos", "neg"]}}}
    grid.complete("up/ok-model", "classify", schema=schema)
    assert upstream.requests[-1]["body"]["response_format"] == {"type": "json_schema", "json_schema": {"name": "reply", "schema": schema}}


@pytest.mark.parametrize(
    "fault, error",
    [
        ("fault-500", TransientError),
        ("fault-429", RateLimited),
        ("fault-reset", TransientError),
        ("fault-hang", ProviderTimeout),
        ("fault-malformed", MalformedResponse),
        ("fault-cut", TransientError),
    ],
)
def test_each_fault_maps_to_a_clear_error(make_grid, upstream, keys, fault, error):
    grid = make_grid(http_config(upstream))
    with pytest.raises(error) as caught:
        grid.complete(f"up/{fault}", "q", deadline=5)
    assert "\n" not in str(caught.value) and f"up/{fault}" in str(caught.value)


@pytest.mark.parametrize("fault", FAULTS)
@pytest.mark.parametrize("streaming", [False, True])
def test_every_fault_is_answered_through_the_fallback(make_grid, upstream, keys, fault, streaming):
    grid = make_grid(http_config(upstream, r=[f"up/{fault}", "backup/ok-fallback"]))
    if streaming and fault == "fault-cut":
        return  # text was delivered before the cut: see test_a_stream_cut_after_text_ends_with_a_clear_error
    if streaming:
        items = list(grid.stream("r", "hi"))
        text, final = "".join(i for i in items if isinstance(i, str)), items[-1]
    else:
        final = grid.complete("r", "hi")
        text = final.text
    assert text == "ok: hi" and final.model == "backup/ok-fallback"
    rows = ledger_rows(grid)
    assert [r["outcome"] for r in rows] == ["error", "error", "ok"]  # one retry, then the fallback
    assert all(r["model"] == f"up/{fault}" for r in rows[:2])


def test_a_stream_cut_after_text_ends_with_a_clear_error(make_grid, upstream, keys):
    grid = make_grid(http_config(upstream, r=["up/fault-cut", "backup/ok-fallback"]))
    seen = []
    with pytest.raises(StreamInterrupted, match="incomplete"):
        for item in grid.stream("r", "one two three"):
            seen.append(item)
    assert seen == ["ok:"]  # what came before the cut, once, and nothing from the fallback
    assert [r["outcome"] for r in ledger_rows(grid)] == ["interrupted"]


def test_eight_threads_under_chaos_lose_no_ledger_rows(make_grid, upstream, keys):
    grid = make_grid(http_config(upstream, retries=0, r=["up/fault-chaos", "backup/ok-fallback"]))
    answers, failures = [], []

    def worker(n):
        for i in range(6):
            try:
                answers.append(grid.complete("r", f"t{n}-{i}").text)
            except Exception as e:  # noqa: BLE001 - any failure fails the test below
                failures.append(e)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert failures == []
    assert sorted(answers) == sorted(f"ok: t{n}-{i}" for n in range(8) for i in range(6))
    rows = ledger_rows(grid)
    calls = {r["call_id"] for r in rows}
    assert len(calls) == 48 and sum(r["outcome"] == "ok" for r in rows) == 48
    # every call's attempts are numbered 1..n with no gap: no row was lost
    for call in calls:
        numbers = sorted(r["attempt"] for r in rows if r["call_id"] == call)
        assert numbers == list(range(1, len(numbers) + 1))


def test_anthropic_complete_converts_messages_and_reads_usage(make_grid, upstream, keys):
    grid = make_grid(http_config(upstream))
    r = grid.complete("claude/ok-c", [{"role": "system", "content": "sys"}, {"role": "user", "content": "hello"}])
    assert r.text == "ok: hello" and (r.usage.input_tokens, r.usage.output_tokens) == (12, 6)
    sent = upstream.requests[-1]
    assert sent["headers"]["x-api-key"] == "k-claude" and sent["headers"]["anthropic-version"]
    assert sent["body"]["system"] == "sys" and sent["body"]["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": "hello"}]}
    ]


@pytest.mark.parametrize(
    "model, stream, cached",
    [
        ("up/cached", False, (10, 8)),
        ("up/cached", True, (10, 8)),
        ("claude/cached", False, (132, 100)),
        ("claude/cached", True, (132, 100)),
    ],
)
def test_prompt_tokens_read_from_the_providers_cache_are_counted_metered_and_billed_at_the_cached_price(
    make_grid, upstream, keys, model, stream, cached
):
    grid = make_grid({**http_config(upstream), "models": {model: {"input_per_mtok": 1.0, "output_per_mtok": 2.0, "cached_per_mtok": 0.1}}})
    r = list(grid.stream(model, "hello"))[-1] if stream else grid.complete(model, "hello")
    u = r.usage
    assert (u.input_tokens, u.cached_tokens) == cached  # Anthropic's prompt: uncached 12 + read 100 + written 20
    assert r.cost_usd == pytest.approx(((u.input_tokens - u.cached_tokens) * 1.0 + u.cached_tokens * 0.1 + u.output_tokens * 2.0) / 1e6)
    row = ledger_rows(grid)[-1]
    assert row["cached_tokens"] == cached[1] and row["cost_usd"] == pytest.approx(r.cost_usd)


def test_anthropic_stream_and_tool_use(make_grid, upstream, keys):
    grid = make_grid(http_config(upstream))
    items = list(grid.stream("claude/ok-c", "a b"))
    assert "".join(i for i in items if isinstance(i, str)) == "ok: a b" and items[-1].usage.output_tokens == 6
    final = list(grid.stream("claude/tools", "weather", tools=[{"name": "get_weather"}]))[-1]
    assert [(c.name, c.args) for c in final.tool_calls] == [("get_weather", {"city": "Paris"})]


def test_anthropic_tool_results_round_trip_as_user_turns(make_grid, upstream, keys):
    grid = make_grid(http_config(upstream))
    messages = [
        {"role": "user", "content": "weather in Paris?"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [{"id": "t1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}}],
        },
        {"role": "tool", "tool_call_id": "t1", "content": "sunny"},
    ]
    grid.complete("claude/ok-c", messages)
    turns = upstream.requests[-1]["body"]["messages"]
    assert turns[1] == {
        "role": "assistant",
        "content": [{"type": "tool_use", "id": "t1", "name": "get_weather", "input": {"city": "Paris"}}],
    }
    assert turns[2] == {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": "sunny"}]}


def test_anthropic_schema_is_a_forced_tool_whose_input_is_the_reply(make_grid, upstream, keys):
    grid = make_grid(http_config(upstream))
    grid.complete("claude/ok-c", "classify", schema={"type": "object"})
    body = upstream.requests[-1]["body"]
    assert body["tool_choice"] == {"type": "tool", "name": "reply"}


def test_missing_key_is_one_line_naming_the_variable(make_grid, upstream):
    grid = make_grid(http_config(upstream))
    with pytest.raises(Exception) as caught:
        grid.complete("up/ok-model", "q")
    assert "UP_KEY is not set" in str(caught.value)


def test_route_of_dead_models_reports_all_of_them(make_grid, upstream, keys):
    grid = make_grid(http_config(upstream, r=["up/fault-500", "backup/fault-malformed"]))
    with pytest.raises(AllAttemptsFailed, match="up/fault-500.*backup/fault-malformed"):
        grid.complete("r", "q")


def test_stop_lands_while_a_hosted_call_is_in_flight(upstream):
    """A server that holds the request (fault-hang), and a person who presses Stop once it has
    the request: the call ends with Cancelled while the wire is silent, streamed or not."""
    from tether import config
    from tether.errors import Cancelled
    from tether.llm.router import Grid
    from tether.store import Store

    raw = {"providers": {"up": {"kind": "openai", "base_url": upstream.url + "/v1", "timeout": 60}}}
    grid = Grid(config.from_dict(raw), Store())
    for stream in (False, True):
        stop, seen = threading.Event(), len(upstream.requests)

        def press_stop_once_the_server_has_it(seen=seen, stop=stop):
            while len(upstream.requests) == seen:
                threading.Event().wait(0.01)
            stop.set()

        presser = threading.Thread(target=press_stop_once_the_server_has_it)
        presser.start()
        with pytest.raises(Cancelled, match="stopped while waiting for the reply"):
            list(grid.stream("up/fault-hang", "hi", cancel=stop)) if stream else grid.complete("up/fault-hang", "hi", cancel=stop)
        presser.join()
    assert [r["outcome"] for r in ledger_rows(grid)] == ["cancelled", "cancelled"]
    grid.close()
