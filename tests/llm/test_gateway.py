"""The gateway as any OpenAI client sees it: the official SDK against a real server on 127.0.0.1."""

import httpx
import openai
import pytest

from tests.conftest import ledger_rows
from tether.llm.gateway import GatewayServer

TOKEN = "test-token-123"


@pytest.fixture
def gateway(make_grid, upstream):
    raw = {
        "providers": {"up": {"kind": "openai", "base_url": upstream.url + "/v1", "timeout": 0.5}},
        "routes": {"r": {"models": ["up/fault-500", "up/ok-backup"], "retries": 0}},
    }
    grid = make_grid(raw)
    server = GatewayServer(grid, TOKEN, port=0)
    server.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def client(gateway):
    return openai.OpenAI(base_url=gateway.url, api_key=TOKEN, max_retries=0)


def test_binds_loopback_and_refuses_requests_without_the_token(gateway):
    assert gateway.server_address[0] == "127.0.0.1"
    for headers in ({}, {"authorization": "Bearer wrong"}):
        r = httpx.get(gateway.url + "/models", headers=headers)
        assert r.status_code == 401 and r.json()["error"]["type"] == "invalid_api_key"


def test_models_lists_routes(client):
    ids = [m.id for m in client.models.list()]
    assert "r" in ids and "default" in ids


def test_completion_fails_over_and_is_metered(client, gateway):
    r = client.chat.completions.create(model="r", messages=[{"role": "user", "content": "hello"}])
    assert r.choices[0].message.content == "ok: hello"
    assert r.usage.total_tokens == 15
    rows = ledger_rows(gateway.grid)
    assert [(x["model"], x["outcome"], x["route"]) for x in rows] == [("up/fault-500", "error", "r"), ("up/ok-backup", "ok", "r")]


def test_prompt_tokens_the_upstream_cache_served_reach_the_client(client):
    r = client.chat.completions.create(model="up/cached", messages=[{"role": "user", "content": "hello"}])
    assert (r.usage.prompt_tokens, r.usage.prompt_tokens_details.cached_tokens) == (10, 8)


def test_streaming_through_the_sdk(client):
    stream = client.chat.completions.create(
        model="r", messages=[{"role": "user", "content": "a b c"}], stream=True, stream_options={"include_usage": True}
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "ok: a b c"
    assert chunks[-1].usage.completion_tokens == 5


def test_streamed_tool_calls_reach_the_client(client):
    stream = client.chat.completions.create(
        model="up/tools",
        messages=[{"role": "user", "content": "w"}],
        stream=True,
        tools=[{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}],
    )
    calls = [tc for c in stream if c.choices for tc in (c.choices[0].delta.tool_calls or [])]
    assert calls[0].function.name == "get_weather" and calls[0].function.arguments == '{"city": "Paris"}'


def test_errors_come_back_in_openai_shape(client, gateway):
    with pytest.raises(openai.NotFoundError, match="unknown model or route 'nope'"):
        client.chat.completions.create(model="nope", messages=[{"role": "user", "content": "x"}])
    r = httpx.post(gateway.url + "/chat/completions", content=b"{not json", headers={"authorization": f"Bearer {TOKEN}"})
    assert r.status_code == 400 and "not JSON" in r.json()["error"]["message"]
    with pytest.raises(openai.APIStatusError) as caught:
        client.chat.completions.create(model="up/fault-500", messages=[{"role": "user", "content": "x"}])
    assert caught.value.status_code == 502 and "HTTP 500" in str(caught.value)
