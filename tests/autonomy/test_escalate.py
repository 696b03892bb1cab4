"""Escalation: a run its model cannot finish goes on with the bigger model its route names — the
grid as a utility — from where the workspace stands, once per model, inside the same leash."""

import pytest

from tests.autonomy.test_agent import BROKEN, PYTEST, TEST, WRONG
from tests.conftest import ledger_rows, make_tree
from tether.autonomy.agent.loop import Agent
from tether.autonomy.guard.leash import Leash, RunBudget
from tether.autonomy.guard.verify import VerifySettings
from tether.autonomy.history import runlog
from tether.autonomy.history.checkpoints import Checkpoints


def edit(old: str, new: str) -> str:
    return f"calc.py\n```python\n<<<<<<< SEARCH\n    return {old}\n=======\n    return {new}\n>>>>>>> REPLACE\n```\n"


FLOOR = edit("a * b", "a // b")  # after WRONG (a * b): no gain on the checks either
BIG_FIX = edit("a // b", "a + b")  # the fix, from where the small model left the file


@pytest.fixture
def work(tmp_path):
    return make_tree(tmp_path / "work", {"calc.py": BROKEN, "test_calc.py": TEST})


def run(grid, work, **opts):
    a = Agent(
        grid,
        work,
        Leash(work, "agent", **opts),
        verify=VerifySettings((PYTEST,), timeout=60),
        edit_format="search-replace",
        stop_when_green=True,
    )
    return a, a.run("make add add")


def test_a_stuck_run_goes_on_with_the_model_its_route_escalates_to(make_grid, work):
    grid = make_grid({"routes": {"default": {"models": ["small/m"], "escalate": "big/m"}}}, small=[WRONG, FLOOR], big=[BIG_FIX])
    _, result = run(grid, work)
    assert result.status == "done" and "return a + b" in (work / "calc.py").read_text()
    assert "after default could not finish" in result.reason
    [asked] = grid.provider("big").requests
    opening = asked.messages[1]["content"]
    assert "return a // b" in opening and "assert 0 == 5" in opening  # the file as the small model left it, and how it fails
    assert [r["provider"] for r in ledger_rows(grid)] == ["small", "small", "big"]
    notes = [s["text"] for s in runlog.replay(grid.store, result.id)[1] if s["kind"] == "note"]
    assert any("default could not finish" in n and "big/m goes on from here" in n for n in notes)
    assert len(Checkpoints(work).log()) == 1  # still one run, one change to undo


def test_escalation_follows_a_chain_once_per_model(make_grid, work):
    grid = make_grid(
        {"routes": {"default": {"models": ["small/m"], "escalate": "bigger"}, "bigger": {"models": ["big/m"], "escalate": "default"}}},
        small=[WRONG, FLOOR],
        big=[edit("a // b", "a - b - 1"), edit("a - b - 1", "a - b - 2")],
    )
    _, result = run(grid, work)
    assert result.status == "stuck" and "on bigger, after default could not finish" in result.reason
    assert len(grid.provider("small").requests) == 2 and len(grid.provider("big").requests) == 2


def test_a_run_out_of_budget_is_not_escalated(make_grid, work):
    grid = make_grid({"routes": {"default": {"models": ["small/m"], "escalate": "big/m"}}}, small=[WRONG, FLOOR], big=[BIG_FIX])
    _, result = run(grid, work, budget=RunBudget(steps=1))
    assert result.status == "budget" and grid.provider("big").requests == []


def test_a_usd_limit_needs_the_escalation_priced_before_any_call(make_grid, work):
    grid = make_grid(
        {
            "routes": {"default": {"models": ["small/m"], "escalate": "big/m"}},
            "models": {"small/m": {"input_per_mtok": 0, "output_per_mtok": 0}},
        },
        small=[edit("a - b", "a + b")],
        big=[],
    )
    _, result = run(grid, work, budget=RunBudget(usd=1.0))
    assert result.status == "budget" and "big/m has no known price" in result.reason
    assert grid.provider("small").requests == []


@pytest.mark.parametrize(
    "target, complaint",
    [
        ("default", "must name another route"),
        ("nowhere", "neither a route"),
        ("ghost/m", "neither a route"),
        (3, "must name another route"),
    ],
)
def test_a_wrong_escalation_is_one_clear_config_error(target, complaint):
    from tether import config
    from tether.errors import ConfigError

    with pytest.raises(ConfigError, match=complaint):
        config.from_dict({"providers": {"s": {"kind": "scripted"}}, "routes": {"default": {"models": ["s/m"], "escalate": target}}})


SECRET = "def secret():\n    return 0\n"
SECRET_TEST = (
    "import hashlib\n\nfrom calc import secret\n\n\ndef test_secret():\n"
    '    assert hashlib.sha256(str(secret()).encode()).hexdigest()[:16] == "%s"\n'
)


@pytest.mark.slow
def test_the_embedded_model_stuck_hands_over_to_a_hosted_one_over_http(tmp_path, upstream):
    """For real: smollm2 on this machine cannot guess a value the test knows only by its hash, so
    it gets stuck; the run goes on over HTTP with the model the route escalates to, which is
    priced, and the run's cost and the ledger say what the hand-over cost."""
    import hashlib

    from tether import config
    from tether.autonomy.guard.untrusted import Fence
    from tether.llm.providers.local import unload_all
    from tether.llm.router import Grid
    from tether.store import Store

    unload_all()
    value = "4817-kestrel"
    repo = make_tree(tmp_path / "repo", {"calc.py": SECRET, "test_calc.py": SECRET_TEST % hashlib.sha256(value.encode()).hexdigest()[:16]})
    grid = Grid(
        config.from_dict(
            {
                "providers": {"up": {"kind": "openai", "base_url": upstream.url + "/v1", "timeout": 5}},
                "routes": {"default": {"models": ["local/smollm2-135m"], "escalate": "up/says"}},
                "models": {"up/says": {"input_per_mtok": 3.0, "output_per_mtok": 15.0}},
            }
        ),
        Store(tmp_path / "data" / "tether.db"),
    )
    upstream.says[:] = [f'calc.py\n```python\ndef secret():\n    return "{value}"\n```\n']
    before = len(upstream.requests)
    a = Agent(
        grid,
        repo,
        Leash(repo, "agent", paths=("calc.py",)),
        verify=VerifySettings((PYTEST,), timeout=60),
        edit_format="whole",
        stop_when_green=True,
    )
    a.fence = Fence("7e57f3ce")
    try:
        result = a.run("Make the test in test_calc.py pass.")
    finally:
        grid.close()
    assert result.status == "done", result.reason
    assert value in (repo / "calc.py").read_text() and "after default could not finish" in result.reason
    [asked] = upstream.requests[before:]
    assert "hexdigest" in asked["body"]["messages"][1]["content"]  # the hosted model saw the task and its failing check
    rows = ledger_rows(grid)
    assert {r["provider"] for r in rows[:-1]} == {"local"} and rows[-1]["model"] == "up/says" and rows[-1]["cost_usd"] > 0
    assert result.cost_usd == pytest.approx(rows[-1]["cost_usd"])
