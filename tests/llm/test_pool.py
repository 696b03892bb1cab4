"""A pool of OpenAI-compatible servers as one provider: least outstanding requests, a dead member
skipped after it fails, probed again after its cooldown, and the grid's failover above it all."""

import socket
import threading

from tests.conftest import ledger_rows
from tests.upstream import Upstream
from tether.config import ProviderConfig
from tether.llm.providers.pool import PoolProvider
from tether.llm.types import Request


def dead_url() -> str:
    with socket.socket() as s:  # a port nothing listens on: connections are refused
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}/v1"


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def test_the_member_with_fewest_requests_in_flight_is_chosen():
    pool = PoolProvider(
        ProviderConfig("p", "pool", options={"members": ["http://127.0.0.1:1/v1", "http://127.0.0.1:2/v1", "http://127.0.0.1:3/v1"]})
    )
    pool.members[0].in_flight, pool.members[1].in_flight, pool.members[2].in_flight = 2, 0, 1
    assert pool._order()[0] is pool.members[1]
    pool.members[1].down_until = 1e18  # cooling down: last, whatever its load
    assert pool._order()[0] is pool.members[2] and pool._order()[-1] is pool.members[1]


def test_a_dead_member_is_skipped_then_probed_after_its_cooldown(make_grid):
    clock = Clock()
    with Upstream() as up:
        pool = PoolProvider(
            ProviderConfig("gpus", "pool", timeout=2, options={"members": [dead_url(), up.url + "/v1"], "cooldown": 30}), clock=clock
        )
        grid = make_grid(
            {"providers": {"gpus": {"kind": "pool", "options": {"members": ["http://x/v1"]}}}},
        )
        grid._providers["gpus"] = pool
        replies = [grid.complete("gpus/ok-model", "hello").text for _ in range(4)]
        assert replies == ["ok: hello"] * 4 and len(up.requests) == 4
        assert pool.members[0].down_until > clock.now and pool.members[1].served == 4
        assert [r["provider"] for r in ledger_rows(grid)] == ["gpus"] * 4  # one row per call: the pool's failover is inside it
        clock.now += 31  # the cooldown is over: the next call probes the dead member once, fails over, and it stays out
        assert grid.complete("gpus/ok-model", "again").text == "ok: again" and pool.members[0].down_until > clock.now


def test_concurrent_calls_spread_over_the_members():
    with Upstream() as a, Upstream() as b:
        pool = PoolProvider(ProviderConfig("p", "pool", timeout=5, options={"members": [a.url + "/v1", b.url + "/v1"]}))
        threads = [
            threading.Thread(target=pool.complete, args=(Request(model="ok-x", messages=[{"role": "user", "content": "hi"}]),))
            for _ in range(20)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(a.requests) + len(b.requests) == 20 and min(len(a.requests), len(b.requests)) >= 5
        assert all(m.in_flight == 0 for m in pool.members)
