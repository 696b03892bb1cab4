"""MCP's `plan` tool: the plan for a task as `tether plan --json` has it, made read-only on a
read-only server (nothing in the workspace written), its text the file a person then edits."""

import json

from tests.conftest import make_tree
from tests.mcp.test_mcp import call, ok
from tether.autonomy.agent.plan import parse

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
