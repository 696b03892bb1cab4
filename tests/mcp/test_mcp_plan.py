"""MCP's `plan` tool: the plan for a task as `tether plan --json` has it, made read-only on a
read-only server (nothing in the workspace written), its text the file a person then edits."""

import json

from tests.conftest import make_tree
from tests.mcp.test_client import fake, pids, work  # noqa: F401
from tests.mcp.test_mcp import call, ok
from tether.autonomy.agent import planrun
from tether.autonomy.agent.plan import Plan, Step, parse
from tether.autonomy.agent.start import RunOptions
from tether.mcp.client import Servers


def edit(path: str, name: str) -> str:
    return f"{path}\n```python\n<<<<<<< SEARCH\n{name} = 1\n=======\n{name} = 2\n>>>>>>> REPLACE\n```\n"


REPLY = json.dumps({"steps": [{"title": "Make add add", "files": ["calc.py"], "check": "python -m pytest -q"}]})


def test_plan_returns_the_steps_and_their_text_and_writes_nothing(make_grid, tmp_path):
    work = make_tree(tmp_path / "work", {"calc.py": "def add(a, b):\n    return a - b\n"})
    before = {p: p.read_bytes() for p in work.rglob("*") if p.is_file()}
    grid = make_grid({"routes": {"default": {"models": ["s/m"]}}}, s=[REPLY])

    async def steps(c):
        listed = {t.name: t for t in (await c.list_tools()).tools}
        return listed["plan"].annotations.read_only_hint, await ok(c, "plan", {"task": "make add add"})

    read_only, found = call(grid, work, steps)
    assert read_only and found["steps"][0]["title"] == "Make add add" and found["steps"][0]["check"] == "python -m pytest -q"
    assert parse(found["text"]).steps[0].files == ["calc.py"]
    assert {p: p.read_bytes() for p in work.rglob("*") if p.is_file()} == before


def test_a_reply_with_no_plan_is_a_tool_error_not_a_crash(make_grid, tmp_path):
    work = make_tree(tmp_path / "work", {"calc.py": "x = 1\n"})
    grid = make_grid({"routes": {"default": {"models": ["s/m"]}}}, s=["no plan here"])
    result = call(grid, work, lambda c: c.call_tool("plan", {"task": "do it"}))
    assert result.is_error and "wrote no plan steps" in result.content[0].text


def test_each_step_of_a_plan_gets_the_mcp_servers_tools_and_no_server_outlives_it(make_grid, work, pids):  # noqa: F811
    make_tree(work, {"a.py": "A = 1\n", "b.py": "B = 1\n"})
    grid = make_grid({"routes": {"default": {"models": ["s/m"]}}, "verify": {"sandbox": "off"}}, s=[edit("a.py", "A"), edit("b.py", "B")])
    plan = Plan("make A and B two", [Step("Make A two", ["a.py"]), Step("Make B two", ["b.py"])])
    options = RunOptions(plan.task, work, level="auto", checks=(), edit_format="search-replace")
    result = planrun.prepare(plan, None, options, grid, tools=lambda: Servers([fake("evil", "hostile")], work)).run()
    assert result.status == "done" and result.changed == ["a.py", "b.py"]
    prompts = [r.messages[0]["content"] for r in grid.provider("s").requests]
    assert len(prompts) == 2 and all("mcp:evil:count" in p for p in prompts)  # every step's model may call them (on the leash)
