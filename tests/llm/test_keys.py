"""Virtual keys at the gateway: stored hashed and shown once; each key's routes, budget and rate
limit hold; a revoked key stops at once; /health for load balancers, /metrics for Prometheus."""

import json
import subprocess
import sys

import httpx
import openai
import pytest

from tests.conftest import ledger_rows
from tether.config import Budget
from tether.llm.gateway import GatewayServer
from tether.llm.keys import Keys

TOKEN = "admin-token-123"


@pytest.fixture
def gateway(make_grid, upstream):
    grid = make_grid(
        {
            "providers": {"up": {"kind": "openai", "base_url": upstream.url + "/v1", "timeout": 2}},
            "routes": {"r": {"models": ["up/ok-a"]}, "other": {"models": ["up/ok-b"]}},
            "models": {
                "up/ok-a": {"input_per_mtok": 1.0, "output_per_mtok": 1.0},
                "up/ok-b": {"input_per_mtok": 1.0, "output_per_mtok": 1.0},
            },
        }
    )
    server = GatewayServer(grid, TOKEN, port=0)
    server.start()
    yield server
    server.shutdown()
    server.server_close()


def ask(gateway, key: str, model: str = "r") -> httpx.Response:
    return httpx.post(
        gateway.url + "/chat/completions",
        headers={"authorization": f"Bearer {key}"},
        timeout=30,
        json={"model": model, "messages": [{"role": "user", "content": "hi"}], "max_tokens": 20},
    )


def test_a_key_is_shown_once_and_stored_only_as_a_hash(isolated):
    made = subprocess.run(
        [sys.executable, "-m", "tether", "keys", "create", "alice", "--tokens-per-day", "500", "--rpm", "10", "--route", "r", "--json"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    key = json.loads(made.stdout)
    assert key["key"].startswith("tk-") and key["budget"] == {"tokens_per_day": 500} and key["routes"] == ["r"]
    listed = json.loads(subprocess.run([sys.executable, "-m", "tether", "keys", "list", "--json"], capture_output=True, text=True).stdout)
    assert [k["name"] for k in listed] == ["alice"] and "key" not in listed[0]
    database = (isolated / "data" / "tether" / "tether.db").read_bytes() + b"".join(
        p.read_bytes() for p in (isolated / "data" / "tether").glob("tether.db-*")
    )
    assert key["key"].encode() not in database and key["key"][3:20].encode() not in database
    again = subprocess.run([sys.executable, "-m", "tether", "keys", "create", "alice"], capture_output=True, text=True)
    assert again.returncode == 1 and "exists already" in again.stderr


def test_each_key_keeps_to_its_routes_budget_and_rate(gateway):
    keys = Keys(gateway.grid.ledger.store)
    _, narrow = keys.create("narrow", routes=("r",))
    _, thrifty = keys.create("thrifty", Budget(tokens_per_day=30))
    _, hasty = keys.create("hasty", rpm=2)
    assert ask(gateway, narrow).status_code == 200
    refused = ask(gateway, narrow, "other")
    assert refused.status_code == 403 and refused.json()["error"]["type"] == "model_not_allowed"
    assert ask(gateway, thrifty).status_code == 200  # ~22 tokens held of 30, 15 spent: the next ~22 do not fit
    over = ask(gateway, thrifty)
    assert (
        over.status_code == 429 and over.json()["error"]["type"] == "budget_exceeded" and "key thrifty" in over.json()["error"]["message"]
    )
    assert [ask(gateway, hasty).status_code for _ in range(3)] == [200, 200, 429]
    rows = ledger_rows(gateway.grid)
    assert sorted({r["key"] for r in rows if r["outcome"] == "ok"}) == ["hasty", "narrow", "thrifty"]
    client = openai.OpenAI(base_url=gateway.url, api_key=narrow, max_retries=0)
    assert [m.id for m in client.models.list()] == ["r"]


def test_a_revoked_key_stops_at_its_next_request(gateway):
    keys = Keys(gateway.grid.ledger.store)
    _, secret = keys.create("bob")
    assert ask(gateway, secret).status_code == 200
    keys.revoke("bob")
    assert ask(gateway, secret).status_code == 401 and ask(gateway, "tk-made-up").status_code == 401


def test_health_needs_no_token_and_metrics_need_the_admin_token(gateway):
    assert httpx.get(gateway.url.replace("/v1", "") + "/health").json() == {"status": "ok"}
    _, secret = Keys(gateway.grid.ledger.store).create("carol")
    ask(gateway, secret)
    base = gateway.url.replace("/v1", "")
    assert httpx.get(base + "/metrics", headers={"authorization": f"Bearer {secret}"}).status_code == 403
    text = httpx.get(base + "/metrics", headers={"authorization": f"Bearer {TOKEN}"}).text
    assert 'tether_gateway_requests_total{status="200"} 1' in text and "tether_gateway_request_seconds_count" in text
