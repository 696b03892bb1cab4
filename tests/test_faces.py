"""Faces hold no logic: `tether do`, the web app's Start button and the MCP `do` tool build their
run through the one core function (`autonomy.agent.start.prepare`), with the options the person
gave, and return the same result."""

import asyncio
import json
import subprocess

import httpx
import pytest
from mcp import Client
from typer.testing import CliRunner

from tests.conftest import user_config
from tether.autonomy.agent import start
from tether.cli import app
from tether.llm.router import Grid
from tether.mcp import create_server
from tether.serving import Server
from tether.web import create_app

BROKEN = "def add(a, b):\n    return a - b\n"
FIX = "calc.py\n```python\n<<<<<<< SEARCH\n    return a - b\n=======\n    return a + b\n>>>>>>> REPLACE\n```\n"


@pytest.fixture
def work(isolated):
    root = isolated / "work"
    root.mkdir()
    (root / "calc.py").write_text(BROKEN)
    subprocess.run(["git", "init", "-q"], cwd=root, check=True)
    user_config(
        f'[providers.s]\nkind = "scripted"\noptions = {{ replies = [{json.dumps(FIX)}, "DONE"] }}\n'
        '[routes.default]\nmodels = ["s/m"]\n[verify]\nsandbox = "off"\n'
    )
    return root


@pytest.fixture
def prepared(monkeypatch):
    """Every run the faces prepare, as (options, the plan it made)."""
    calls = []
    real = start.prepare

    def recording(options, grid, **kwargs):
        run = real(options, grid, **kwargs)
        calls.append((options, run.to_dict()))
        return run

    monkeypatch.setattr(start, "prepare", recording)
    return calls


def asked(options) -> dict:
    return {k: v for k, v in options.to_dict().items() if k in ("instruction", "level", "model", "checks", "max_steps", "paths")}


def test_tether_do_builds_its_run_through_the_one_start_function(work, prepared):
    done = CliRunner().invoke(
        app,
        [
            "do",
            "make add add",
            "-C",
            str(work),
            "-m",
            "s/m",
            "--level",
            "auto",
            "--verify",
            "true",
            "--max-steps",
            "3",
            "--allow",
            "calc.py",
            "--json",
        ],
    )
    assert done.exit_code == 0, done.output
    result = json.loads(done.stdout)
    assert result["status"] == "done" and result["changed"] == ["calc.py"]
    [(options, plan)] = prepared
    assert asked(options) == {
        "instruction": "make add add",
        "level": "auto",
        "model": "s/m",
        "checks": ["true"],
        "max_steps": 3,
        "paths": ["calc.py"],
    }
    assert (plan["level"], plan["checks"], plan["limits"]["steps"]) == ("auto", ["true"], 3)
    refused = CliRunner().invoke(app, ["do", "x", "-C", str(work), "--max-usd", "0", "--json"])
    assert str(refused.exception) == "max usd must be a number > 0 (got 0.0)" and len(prepared) == 1  # RunOptions' words, no run


def test_the_web_apps_start_button_builds_its_run_through_the_same_function(work, prepared):
    door = create_app(Grid.from_config(None, start=work), work, "127.0.0.1", 0)
    server = Server(door, "127.0.0.1", 0)
    door.port = server.server_address[1]
    server.start()
    try:
        c = httpx.Client(base_url=server.origin, follow_redirects=False)
        c.get(f"/?token={door.token}")
        csrf = c.get("/runs").text.split('name="csrf" content="')[1].split('"')[0]
        started = c.post(
            "/runs",
            data={
                "instruction": "make add add",
                "level": "auto",
                "model": "default",
                "model_other": "s/m",
                "verify": "true\n",
                "max_steps": "3",
                "csrf": csrf,
            },
        )
        assert started.status_code == 303 and started.headers["location"] == "/runs/r1"
        with c.stream("GET", "/runs/r1/events") as events:
            end = next(json.loads(line[6:]) for line in events.iter_lines() if line.startswith("data: ") and '"kind": "end"' in line)
        assert end["status"] == "done" and end["changed"] == ["calc.py"]  # the result's to_dict, as `tether do --json` prints it
        assert (
            c.post("/runs/r1/level", json={"level": "reckless"}, headers={"x-csrf-token": csrf}).status_code == 400
        )  # the slider, on the run
        bad = c.post("/runs", data={"instruction": "x", "max_steps": "0", "csrf": csrf})
        assert bad.status_code == 400 and bad.json()["error"] == "max steps must be a whole number > 0 (got 0)"  # RunOptions' words
    finally:
        server.shutdown()
    [(options, plan)] = prepared
    assert asked(options) == {
        "instruction": "make add add",
        "level": "auto",
        "model": "s/m",
        "checks": ["true"],
        "max_steps": 3,
        "paths": [],
    }
    assert (plan["level"], plan["checks"], plan["limits"]["steps"]) == ("auto", ["true"], 3)


def test_the_mcp_do_tool_builds_its_run_through_the_same_function(work, prepared):
    grid = Grid.from_config(None, start=work)
    server, tools = create_server(grid, work, write=True)

    async def go():
        async with Client(server) as client:
            done = await client.call_tool("do", {"instruction": "make add add", "level": "auto", "model": "s/m"})
            return json.loads(done.content[0].text)

    try:
        result = asyncio.run(go())
    finally:
        tools.close()
    assert result["status"] == "done" and result["changed"] == ["calc.py"]  # the result's to_dict, as `tether do --json` prints it
    assert (work / "calc.py").read_text() == BROKEN.replace("a - b", "a + b")
    [(options, plan)] = prepared
    assert asked(options) == {
        "instruction": "make add add",
        "level": "auto",
        "model": "s/m",
        "checks": None,
        "max_steps": None,
        "paths": [],
    }
    assert plan["level"] == "auto"
