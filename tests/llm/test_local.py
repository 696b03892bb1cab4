"""The embedded model, for real: smollm2-135m through the Grid (fetched by `make test`)."""

import json
import os
import threading

import pytest

from tests.conftest import ledger_rows
from tether.errors import BadRequest, Cancelled, ModelNotAvailable, ProviderTimeout
from tether.llm.providers import local
from tether.llm.router import Grid
from tether.store import Store

pytestmark = pytest.mark.slow
MODEL = "local/smollm2-135m"


@pytest.fixture
def grid(isolated):
    grid = Grid.from_config(store=Store())
    yield grid
    grid.close()


def test_complete_answers_offline_and_is_metered_at_zero_cost(grid):
    r = grid.complete(MODEL, "What is the capital of France? Answer in one word.", max_tokens=16, temperature=0)
    assert "Paris" in r.text
    assert r.usage.input_tokens > 10 and r.usage.output_tokens > 0 and not r.usage.estimated
    assert r.cost_usd == 0.0
    [row] = ledger_rows(grid)
    assert (row["provider"], row["outcome"], row["input_tokens"]) == ("local", "ok", r.usage.input_tokens)
    assert 0 < r.ttft_ms <= r.latency_ms and row["ttft_ms"] == r.ttft_ms  # the prompt's reading time, which the agent plans by


def test_stream_chunks_add_up_to_the_reply(grid):
    items = list(grid.stream(MODEL, "Count from 1 to 5.", max_tokens=24, temperature=0))
    chunks, final = items[:-1], items[-1]
    assert len(chunks) > 3 and "".join(chunks) == final.text
    assert final.ttft_ms is not None and final.ttft_ms <= final.latency_ms


def test_schema_constrains_the_reply_to_valid_json(grid):
    schema = {"type": "object", "properties": {"sentiment": {"enum": ["positive", "negative"]}}, "required": ["sentiment"]}
    r = grid.complete(MODEL, "Review: 'A wonderful, moving film.' Give its sentiment.", schema=schema, max_tokens=32, temperature=0)
    assert json.loads(r.text)["sentiment"] in ("positive", "negative")


def test_a_grammar_constrains_the_reply_to_one_whole_file(grid):
    from tether.autonomy.edits import whole

    r = grid.complete(
        MODEL,
        "Tell me about Paris, then write a Python function that adds two numbers.",
        grammar=whole.grammar("calc.py"),
        max_tokens=200,
        temperature=0,
    )
    assert r.text.startswith("calc.py\n```") and r.text.rstrip("\n").endswith("\n```") and r.finish_reason == "stop"
    [edit] = whole.parse(r.text)
    assert edit.path == "calc.py" and edit.replace.strip()


def test_a_grammar_constrains_the_reply_to_search_replace_blocks(grid):
    from tether.autonomy.edits import search_replace

    ask = search_replace.PROMPT + "\ncalc.py:\n```python\ndef add(a, b):\n    return a - b\n```\nExplain, then make add add."
    r = grid.complete("local/qwen2.5-coder-1.5b", ask, grammar=search_replace.grammar("calc.py"), max_tokens=200, temperature=0)
    assert r.text.startswith("calc.py\n```") and r.finish_reason == "stop"
    edits = search_replace.parse(r.text)
    assert edits and {e.path for e in edits} == {"calc.py"}


def test_the_grammar_is_asked_about_the_token_drawn_and_the_reply_is_the_one_it_allows(grid):
    """llama-cpp-python checked every token of the vocabulary against the grammar at each step (a
    constrained reply came at ~60 % of the free speed); tether asks it only about the token drawn,
    as llama.cpp's own sampler does, and a greedy reply is the same token for token."""
    from tether.autonomy.edits import whole

    ask = dict(grammar=whole.grammar("calc.py"), max_tokens=60, temperature=0)
    prompt = "Tell me about Paris, then write a Python function that adds two numbers."
    grid.complete(MODEL, prompt, **{**ask, "max_tokens": 1})  # from here on each call starts from the same cached prompt
    ours = grid.complete(MODEL, prompt, **ask)
    llm = next(llm for (name, _), (llm, _) in local._loaded.items() if name == MODEL.split("/")[1])
    refused = llm._sampler.refused
    assert 1 <= refused < ours.usage.output_tokens / 4  # the model wanted prose first: refused, then written under the grammar
    del llm._init_sampler  # llama-cpp-python's own chain: the grammar on every token
    try:
        theirs = grid.complete(MODEL, prompt, **ask)
    finally:
        local._grammar_last(llm)
    assert ours.text == theirs.text and ours.text.startswith("calc.py\n```")


def test_a_grammar_that_does_not_parse_is_one_clear_error_not_a_crash(grid):
    with pytest.raises(BadRequest, match="grammar does not parse"):
        grid.complete(MODEL, "hi", grammar='root ::= "unclosed', max_tokens=4)


def test_tools_give_a_tool_call_with_valid_arguments(grid):
    tool = {
        "name": "get_weather",
        "description": "Weather for a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    }
    r = grid.complete(MODEL, "What is the weather in Paris?", tools=[tool], tool_choice="required", max_tokens=48, temperature=0)
    assert [c.name for c in r.tool_calls] == ["get_weather"]
    assert isinstance(r.tool_calls[0].args["city"], str)


def test_follow_up_turn_reuses_the_cached_prefix(grid):
    history = [{"role": "system", "content": "You are terse. " * 40}, {"role": "user", "content": "Say hi."}]
    first = grid.complete(MODEL, history, max_tokens=8, temperature=0)
    [llm] = [model for (name, _), (model, _) in local._loaded.items() if name == "smollm2-135m"]
    history += [{"role": "assistant", "content": first.text}, {"role": "user", "content": "Again."}]
    evaluated = []
    original = llm.eval
    llm.eval = lambda tokens: (evaluated.append(len(tokens)), original(tokens))[1]
    try:
        second = grid.complete(MODEL, history, max_tokens=1, temperature=0)
    finally:
        llm.eval = original
    # only the new turn is read, not the 200-token system prompt again
    assert 0 < evaluated[0] < first.usage.input_tokens
    # and the usage says so: of its prompt, exactly what the model did not evaluate came from the cache
    assert second.usage.input_tokens > first.usage.input_tokens
    assert second.usage.input_tokens - second.usage.cached_tokens == evaluated[0]
    assert ledger_rows(grid)[-1]["cached_tokens"] == second.usage.cached_tokens > 200


def test_timeout_stops_generation(grid):
    with pytest.raises(ProviderTimeout, match="timeout"):
        grid.complete(MODEL, "Write a long story about a dragon.", max_tokens=400, timeout=0.05, temperature=0.8)


def test_a_reply_stopped_part_way_is_metered_with_the_prompt_it_read(grid):
    stop = threading.Event()
    stop.set()  # seen at the first chunk: the prompt is read, at most a token written
    with pytest.raises(Cancelled) as stopped:
        grid.complete(MODEL, "Write a long story about a dragon.", max_tokens=400, cancel=stop)
    usage = stopped.value.usage
    assert usage.input_tokens > 10 and usage.output_tokens <= 1
    [row] = ledger_rows(grid)
    assert (row["outcome"], row["input_tokens"], row["output_tokens"]) == ("cancelled", usage.input_tokens, usage.output_tokens)


def test_unknown_local_model_is_one_line(grid):
    with pytest.raises(ModelNotAvailable, match="no local model 'llama-70b'"):
        grid.complete("local/llama-70b", "hi")


def test_weights_load_plain_unless_extra_buffers_are_asked_for_whatever_loaded_before(isolated):
    """Repacked weights read prompts slower on AVX2 and crash where AMX is advertised but not granted,
    so they are opt-in — per provider, also after a plain load in the same process."""
    from tether.config import ProviderConfig

    def loaded(**options):
        llm, _ = local.LocalProvider(ProviderConfig("local", "local", options=options))._model("smollm2-135m")
        return llm.model_params.use_extra_bufts

    try:
        assert loaded(n_ctx=1024) is False
        assert loaded(n_ctx=1536, extra_buffers=True) is True  # loaded only, never decoded: no AMX crash
        assert loaded(n_ctx=1280) is False
    finally:  # no later test meets these loads
        for n_ctx in (1024, 1536, 1280):
            local._loaded.pop(("smollm2-135m", n_ctx), None)


def test_the_kv_cache_outlives_the_process_and_a_file_it_cannot_read_is_ignored(isolated):
    """A second run that opens with the same prefix reads it from the cache the first one saved."""
    from tether.config import ProviderConfig
    from tether.llm.types import Request

    provider = local.LocalProvider(ProviderConfig("local", "local", options={"n_ctx": 1792}))
    system = {"role": "system", "content": "You are terse. " * 40}

    def ask(question: str):
        return provider.complete(
            Request("smollm2-135m", [system, {"role": "user", "content": question}], max_tokens=4, temperature=0, seed=0)
        )

    def exit_process():  # what unload_all does at exit, for this model alone
        llm, _ = local._loaded.pop(("smollm2-135m", 1792))
        local._persist(llm)
        llm.close()

    try:
        first = ask("Say hi.")
        assert first.usage.cached_tokens == 0  # a fresh load holds nothing
        exit_process()
        [saved] = (isolated / "data" / "tether" / "prompt-cache").glob("smollm2-135m-*-1792-*.kv")
        assert saved.stat().st_mode & 0o777 == 0o600
        second = ask("Say bye.")
        assert second.usage.cached_tokens > 200  # the system prompt, from the file
        exit_process()
        saved.write_bytes(b"not a llama.cpp state")
        third = ask("Say hi.")
        assert third.usage.cached_tokens == 0 and third.text == first.text  # ignored: a fresh start, the same reply
    finally:
        local._loaded.pop(("smollm2-135m", 1792), None)


def test_saving_the_cache_never_writes_through_a_link_left_at_its_temporary_name(isolated):
    from tether.config import ProviderConfig
    from tether.llm.types import Request

    provider = local.LocalProvider(ProviderConfig("local", "local", options={"n_ctx": 1600}))
    provider.complete(Request("smollm2-135m", [{"role": "user", "content": "Say hi."}], max_tokens=2, temperature=0))
    llm, _ = local._loaded.pop(("smollm2-135m", 1600))
    victim = isolated / "victim.txt"
    victim.write_text("precious")
    llm.tether_state.parent.mkdir(parents=True, exist_ok=True)
    (llm.tether_state.parent / f".{llm.tether_state.name}.{os.getpid()}").symlink_to(victim)
    local._persist(llm)
    llm.close()
    assert victim.read_text() == "precious" and llm.tether_state.is_file() and not llm.tether_state.is_symlink()


def test_prompt_cache_false_keeps_nothing_on_disk(isolated):
    from tether.config import ProviderConfig
    from tether.llm.types import Request

    provider = local.LocalProvider(ProviderConfig("local", "local", options={"n_ctx": 1664, "prompt_cache": False}))
    provider.complete(Request("smollm2-135m", [{"role": "user", "content": "Say hi."}], max_tokens=2, temperature=0))
    llm, _ = local._loaded.pop(("smollm2-135m", 1664))
    local._persist(llm)
    llm.close()
    assert not (isolated / "data" / "tether" / "prompt-cache").exists()


def long_prompt(tag: str) -> str:
    return f"{tag}\n" + "\n".join(f"def f{i}(x):\n    return x * {i} + {i * 7}" for i in range(120)) + "\nWhat does f3 return for 2?"


def test_reading_a_prompt_reports_how_far_it_has_read_before_the_first_token(grid):
    seen, first_text = [], []
    for item in grid.stream(
        MODEL,
        long_prompt("progress"),
        max_tokens=4,
        temperature=0,
        progress=lambda kind, **d: kind == "reading" and seen.append((kind, d["read"], d["total"])),
    ):
        if isinstance(item, str) and not first_text:
            first_text.append(len(seen))
    assert len(seen) > 3 and first_text and first_text[0] == len(seen)  # every report came before the first token
    assert all(kind == "reading" for kind, _, _ in seen)
    reads = [read for _, read, _ in seen]
    assert reads == sorted(reads) and reads[-1] == seen[-1][2] > 1000


def test_stop_lands_while_the_prompt_is_being_read(grid):
    stop = threading.Event()
    seen = []

    def progress(kind, **data):
        if kind == "reading":
            seen.append(data["read"])
            stop.set()  # the person presses Stop as soon as the model starts reading

    with pytest.raises(Cancelled, match="while reading the prompt") as caught:
        grid.complete(MODEL, long_prompt("stop"), max_tokens=4, cancel=stop, progress=progress)
    assert len(seen) == 1 and caught.value.usage.output_tokens == 0
    [row] = ledger_rows(grid)
    assert row["outcome"] == "cancelled"
    r = grid.complete(MODEL, long_prompt("stop"), max_tokens=4, temperature=0)  # the part read is not read again
    assert r.usage.cached_tokens >= seen[0] - 1


def test_a_call_waiting_for_the_model_says_so_and_stops_while_it_waits(grid):
    """Two callers, one model: the second says it waits (another call holds the model) and a Stop
    lands there, without waiting for the first to finish. The first is played by holding the
    model's lock, so the phase is fixed by events, not timing."""
    grid.complete(MODEL, "hi", max_tokens=1)  # loaded
    [(_, lock)] = [v for k, v in local._loaded.items() if k[0] == "smollm2-135m"]
    stop, heard = threading.Event(), []

    def progress(kind, **data):
        heard.append(kind)
        if kind == "waiting":
            stop.set()

    with lock:
        with pytest.raises(Cancelled, match="while waiting for the model"):
            grid.complete(MODEL, "hello", max_tokens=4, cancel=stop, progress=progress)
    assert heard == ["waiting"]
    assert grid.complete(MODEL, "hello", max_tokens=2).usage.output_tokens > 0  # the lock was never left taken


def test_a_model_left_idle_is_freed_and_loads_again_on_the_next_call(grid):
    """A long-lived server gives a local model's memory back once it sits unused (unload_idle, run
    by a daemon thread every idle/4 s; here called with a clock, so nothing waits)."""
    import time

    local.unload_all()
    assert grid.complete(MODEL, "Say hi.", max_tokens=4, temperature=0).text
    assert [key[0] for key in local._loaded] == ["smollm2-135m"]
    assert local.unload_idle(60.0) == []  # used a moment ago: kept
    (_, lock) = next(iter(local._loaded.values()))
    with lock:  # a call holds it: never freed under it
        assert local.unload_idle(60.0, now=time.monotonic() + 61) == []
    assert local.unload_idle(60.0, now=time.monotonic() + 61) == ["smollm2-135m"]
    assert local._loaded == {}
    assert grid.complete(MODEL, "Say hi.", max_tokens=4, temperature=0).text  # loaded again
