"""Budgets that cannot be passed: a budgeted call is sent upstream with exactly the output cap it
was held at (the caller's max_tokens, else the default cap), so calls without max_tokens, however
many at once, through the gateway, the grid or the command line, never spend past the budget.
The upstream's `long` model writes as much as it is allowed (4,096 tokens without a cap)."""

import json
import os
import subprocess
import sys
import uuid
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from tests.conftest import ledger_rows, user_config
from tests.security.test_gateway_hardening import gateway  # noqa: F401 - the fixture: a gateway in front of the upstream
from tether.config import Budget
from tether.errors import BadRequest, BudgetExceeded
from tether.llm.call import DEFAULT_OUTPUT_CAP
from tether.llm.keys import Keys

BUDGET = 1000  # room for three calls held at 2 + 256 tokens (each spends 10 + 256), never for four
CALLS = 8


def spent(grid) -> int:
    return sum(r["input_tokens"] + r["output_tokens"] for r in ledger_rows(grid))


def caps_sent(upstream, marker: str) -> list:
    """The max_tokens of every request the upstream got for this test (its messages carry `marker`)."""
    return [r["body"].get("max_tokens") for r in upstream.requests if marker in json.dumps(r["body"].get("messages"))]


@pytest.fixture
def marker():
    return uuid.uuid4().hex[:8]


def test_concurrent_gateway_calls_without_max_tokens_never_pass_a_keys_budget(gateway, upstream, marker):
    _, secret = Keys(gateway.grid.ledger.store).create("small", Budget(tokens_per_day=BUDGET))

    def call(n: int) -> int:
        body = {"model": "up/long", "messages": [{"role": "user", "content": marker}], "stream": n % 2 == 0}
        r = httpx.post(gateway.url + "/chat/completions", json=body, headers={"authorization": f"Bearer {secret}"}, timeout=60)
        return r.status_code

    with ThreadPoolExecutor(CALLS) as pool:
        statuses = list(pool.map(call, range(CALLS)))
    assert sorted(statuses) == [200] * 3 + [429] * (CALLS - 3)
    assert spent(gateway.grid) <= BUDGET
    assert caps_sent(upstream, marker) == [DEFAULT_OUTPUT_CAP] * 3


@pytest.fixture
def budgeted(make_grid, upstream):
    return make_grid({"providers": {"up": {"kind": "openai", "base_url": upstream.url + "/v1"}}, "budget": {"tokens_per_day": BUDGET}})


def test_concurrent_grid_calls_and_streams_without_max_tokens_never_pass_the_budget(budgeted, upstream, marker):
    def call(n: int) -> int | None:
        try:
            if n % 2:
                return budgeted.complete("up/long", marker).usage.output_tokens
            return list(budgeted.stream("up/long", marker))[-1].usage.output_tokens
        except BudgetExceeded:
            return None

    with ThreadPoolExecutor(CALLS) as pool:
        written = list(pool.map(call, range(CALLS)))
    assert sorted(w for w in written if w is not None) == [DEFAULT_OUTPUT_CAP] * 3 and written.count(None) == CALLS - 3
    assert spent(budgeted) <= BUDGET
    assert caps_sent(upstream, marker) == [DEFAULT_OUTPUT_CAP] * 3


@pytest.mark.parametrize(
    "opts",
    [{"max_tokens": 0}, {"max_tokens": -1}, {"max_tokens": "lots"}, {"extra": {"max_completion_tokens": 100_000}}, {"extra": {"n": 50}}],
)
def test_a_budgeted_call_cannot_ask_for_an_unheld_reply_size(budgeted, upstream, marker, opts):
    with pytest.raises(BadRequest, match="max_tokens"):
        budgeted.complete("up/long", marker, **opts)
    assert caps_sent(upstream, marker) == [] and spent(budgeted) == 0


def test_tether_chat_without_max_tokens_is_sent_the_cap_it_holds(isolated, upstream, marker):
    from tether.cli.llm import CHAT_MAX_TOKENS

    user_config(f'[providers.up]\nkind = "openai"\nbase_url = "{upstream.url}/v1"\n[budget]\ntokens_per_day = {3 * CHAT_MAX_TOKENS}\n')
    run = [sys.executable, "-m", "tether.cli", "chat", "-m", "up/long"]
    streamed = subprocess.run([*run, marker], capture_output=True, text=True, env=os.environ, timeout=120)
    answered = subprocess.run([*run, "--json", marker], capture_output=True, text=True, env=os.environ, timeout=120)
    assert streamed.returncode == 0 and answered.returncode == 0, streamed.stderr + answered.stderr
    assert streamed.stdout.split() == ["w"] * CHAT_MAX_TOKENS  # chat's own default cap, held and sent
    assert json.loads(answered.stdout)["usage"]["output_tokens"] == CHAT_MAX_TOKENS
    assert caps_sent(upstream, marker) == [CHAT_MAX_TOKENS] * 2


BULK = "x" * 48_000  # 12,000 tokens at four characters a token: six times a 2,000-token day


def test_a_gateway_call_whose_tool_description_passes_the_keys_budget_is_refused_before_it_is_sent(gateway, upstream, marker):
    _, secret = Keys(gateway.grid.ledger.store).create("small", Budget(tokens_per_day=2000))
    body = {
        "model": "up/ok-1",
        "messages": [{"role": "user", "content": marker}],
        "max_tokens": 10,
        "tools": [{"type": "function", "function": {"name": "lookup", "description": BULK, "parameters": {"type": "object"}}}],
    }
    post = lambda b: httpx.post(gateway.url + "/chat/completions", json=b, headers={"authorization": f"Bearer {secret}"}, timeout=60)
    refused = post(body)
    assert refused.status_code == 429 and "budget" in refused.text
    assert caps_sent(upstream, marker) == [] and spent(gateway.grid) == 0
    assert post({**body, "tools": []}).status_code == 200  # the same call without the tool fits


@pytest.mark.parametrize(
    "messages, opts",
    [
        ([{"role": "user", "content": "{marker}"}], {"tools": [{"name": "lookup", "description": BULK}]}),
        (
            [{"role": "user", "content": "{marker}"}],
            {"tools": [{"name": "lookup", "parameters": {"type": "object", "properties": {"q": {"description": BULK}}}}]},
        ),
        ([{"role": "user", "content": "{marker}"}], {"schema": {"type": "object", "description": BULK}}),
        (
            [
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": "{marker}"},
                        {"type": "image_url", "image_url": {"url": "data:image/png;base64," + BULK}},
                    ],
                }
            ],
            {},
        ),
        (
            [
                {"role": "user", "content": "{marker}"},
                {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "lookup", "arguments": '{"q": "' + BULK + '"}'}}],
                },
                {"role": "tool", "tool_call_id": "c1", "content": "ok"},
            ],
            {},
        ),
    ],
    ids=["tool description", "tool parameters", "response schema", "image part", "tool call arguments"],
)
def test_a_grid_call_is_held_at_its_whole_request_so_a_large_part_anywhere_is_refused_before_it_is_sent(
    budgeted, upstream, marker, messages, opts
):
    messages = json.loads(json.dumps(messages).replace("{marker}", marker))
    with pytest.raises(BudgetExceeded):
        budgeted.complete("up/ok-1", messages, max_tokens=10, **opts)
    assert caps_sent(upstream, marker) == [] and spent(budgeted) == 0


def test_each_message_is_held_with_its_framing_so_many_empty_messages_are_not_free(budgeted, upstream, marker):
    messages = [{"role": "user", "content": marker}] + [{"role": "user", "content": ""}] * 300
    with pytest.raises(BudgetExceeded):
        budgeted.complete("up/ok-1", messages, max_tokens=10)
    assert caps_sent(upstream, marker) == []
