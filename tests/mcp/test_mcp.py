"""`tether mcp`: every tool through the SDK's client (in memory), escape attempts, paging, the
write switch, and real client processes over stdio and over HTTP with a bearer token."""

import asyncio
import json
import os
import subprocess
import sys

import httpx
import jsonschema
import pytest
from mcp import Client, StdioServerParameters

from tests.conftest import make_tree
from tether.context import tokens
from tether.mcp import DESCRIPTIONS, create_server, describe, settings
from tether.shapes import TOOLS

BROKEN = "def add(a, b):\n    return a - b\n"
FIX = "calc.py\n```python\n<<<<<<< SEARCH\n    return a - b\n=======\n    return a + b\n>>>>>>> REPLACE\n```\n"
SECRET = "the-secret-outside-the-workspace"


@pytest.fixture
def work(tmp_path):
    root = make_tree(
        tmp_path / "work",
        {"calc.py": BROKEN, "docs/guide.md": "# Guide\n\nAdd numbers with `add`.\n", ".git/config": f"[remote]\n  token = {SECRET}\n"},
    )
    make_tree(tmp_path / "work-evil", {"secret.txt": SECRET})  # a sibling whose name starts like the workspace's
    (tmp_path / "outside.txt").write_text(SECRET)
    (root / "gitlink.cfg").symlink_to(root / ".git" / "config")
    (root / "outlink").symlink_to(tmp_path / "outside.txt")
    (root / "prefix").symlink_to(tmp_path / "work-evil" / "secret.txt")
    return root


def call(grid, root, steps, write=False, max_tokens=20_000):
    """Run `steps(client)` against a server in memory; returns what it returns."""
    server, tools = create_server(grid, root, write=write, max_tokens=max_tokens)

    async def go():
        async with Client(server) as client:
            return await steps(client)

    try:
        return asyncio.run(go())
    finally:
        tools.close()


def data(result):
    assert not result.is_error, result.content[0].text
    return json.loads(result.content[0].text)


async def ok(client, name, args):
    """A tool's result, checked against its documented shape."""
    found = data(await client.call_tool(name, args))
    jsonschema.validate(found, TOOLS[name])
    return found


def test_the_tools_are_listed_with_fixed_descriptions_whose_hash_the_cli_prints(make_grid, work):
    listed = call(make_grid(), work, lambda c: c.list_tools())
    assert {t.name: t.description for t in listed.tools} == DESCRIPTIONS
    writes = {t.name for t in listed.tools if not t.annotations.read_only_hint}
    assert writes == {"do", "resume", "apply_proposal", "undo"}
    done = subprocess.run([sys.executable, "-m", "tether", "mcp", "--describe", "--json"], capture_output=True, text=True, timeout=60)
    assert json.loads(done.stdout)["sha256"] == describe()["sha256"]


@pytest.mark.parametrize(
    "path",
    [
        "../outside.txt",
        "/etc/passwd",
        ".git/config",
        "gitlink.cfg",
        "outlink",
        "prefix",
        "../work-evil/secret.txt",
        "docs/../../outside.txt",
        ".GIT/config",
    ],
)
def test_read_never_leaves_the_workspace_or_enters_git(make_grid, work, path):
    result = call(make_grid(), work, lambda c: c.call_tool("read", {"path": path}))
    assert result.is_error and SECRET not in result.content[0].text and "passwd" not in result.content[0].text.split(":")[-1]


def test_read_search_map_and_digest_answer_from_the_workspace(make_grid, work):
    async def steps(c):
        return [
            await ok(c, name, args)
            for name, args in (
                ("read", {"path": "calc.py", "start": 2, "end": 2}),
                ("search", {"query": "add numbers", "k": 3}),
                ("map", {"max_tokens": 256}),
                ("digest", {}),
            )
        ]

    read, found, symbols, digest = call(make_grid(), work, steps)
    assert read == {"path": "calc.py", "start": 2, "end": 2, "lines": 2, "text": "    return a - b"}
    assert {h["path"] for h in found["results"]} >= {"calc.py"} and found["query"] == "add numbers"
    assert "add" in symbols["text"]
    assert digest["pages"] == 1 and "return a - b" in digest["text"] and SECRET not in digest["text"]


def test_digest_comes_in_pages_each_under_the_cap(make_grid, work):
    for n in range(8):
        make_tree(work, {f"pkg/mod{n}.py": "".join(f"def f{n}_{i}(x):\n    return x * {i}  # {'word ' * 8}\n" for i in range(60))})

    async def steps(c):
        first = await ok(c, "digest", {"page": 1})
        pages = [first] + [await ok(c, "digest", {"page": p}) for p in range(2, first["pages"] + 1)]
        past = await c.call_tool("digest", {"page": first["pages"] + 1})
        return pages, past

    pages, past = call(make_grid(), work, steps, max_tokens=2000)
    assert len(pages) > 2 and all(tokens.count(p["text"]) <= 2000 for p in pages)
    whole = "".join(p["text"] for p in pages)
    assert all(f"def f{n}_59(x)" in whole for n in range(8))
    assert past.is_error and "does not exist" in past.content[0].text


def test_a_proposal_writes_nothing_and_a_read_only_server_will_not_apply_it(make_grid, work):
    async def steps(c):
        proposed = await ok(c, "propose_edit", {"edits": FIX})
        return proposed, await c.call_tool("apply_proposal", {"proposal": proposed["proposal"]}), await c.call_tool("undo", {})

    proposed, applied, undone = call(make_grid(), work, steps)
    assert proposed["applied"] and "+    return a + b" in proposed["diff"] and proposed["changed"] == ["calc.py"]
    assert (work / "calc.py").read_text() == BROKEN
    assert applied.is_error and "read-only" in applied.content[0].text and undone.is_error


def test_do_on_a_read_only_server_suggests_a_diff_and_will_not_apply(make_grid, work):
    """The agent through MCP: at suggest (the default) the change comes back as a diff and nothing
    is written; auto needs a server that may write; approve needs a person, whom MCP has not."""
    heard = []

    async def steps(c):
        async def progress(done, total, message):
            assert not heard or done > heard[-1][0]  # progress only ever increases
            heard.append((done, message))

        suggested = data(await c.call_tool("do", {"instruction": "make add add", "model": "s/m"}, progress_callback=progress))
        return (
            suggested,
            await c.call_tool("do", {"instruction": "make add add", "level": "auto", "model": "s/m"}),
            await c.call_tool("do", {"instruction": "make add add", "level": "approve", "model": "s/m"}),
        )

    suggested, auto, approve = call(make_grid({"routes": {"default": {"models": ["s/m"]}}}, s=[FIX]), work, steps)
    jsonschema.validate(suggested, TOOLS["do"])
    assert (
        suggested["status"] == "proposed" and "+    return a + b" in suggested["answer"] and suggested["changed"] == []
    )  # the diff, unapplied
    assert (work / "calc.py").read_text() == BROKEN
    assert heard and any("reading the workspace" in m for _, m in heard)
    assert auto.is_error and "read-only" in auto.content[0].text
    assert approve.is_error and "approve needs a person" in approve.content[0].text


def test_resume_goes_on_with_a_run_its_budget_stopped_and_refuses_a_finished_one(make_grid, work):
    read = 'TOOL read_file {"path": "calc.py"}'
    grid = make_grid({"routes": {"default": {"models": ["s/m"]}}, "leash": {"budget": {"steps": 1}}}, s=[read, FIX])

    async def steps(c):
        stopped = await ok(c, "do", {"instruction": "make add add", "level": "auto", "model": "s/m"})
        stopped["file"] = (work / "calc.py").read_text()
        used_up = await c.call_tool("resume", {})
        resumed = await ok(c, "resume", {"run": stopped["run"], "max_steps": 3})
        return stopped, used_up, resumed, await c.call_tool("resume", {})

    stopped, used_up, resumed, again = call(grid, work, steps, write=True)
    assert stopped["status"] == "budget" and stopped["file"] == BROKEN
    assert used_up.is_error and "raise its max steps" in used_up.content[0].text
    assert resumed["run"] == stopped["run"] and resumed["status"] == "done" and "return a + b" in (work / "calc.py").read_text()
    assert again.is_error and "nothing to resume" in again.content[0].text


def test_with_writing_on_a_proposal_applies_once_as_an_undoable_change(make_grid, work):
    async def steps(c):
        proposal = (await ok(c, "propose_edit", {"edits": FIX}))["proposal"]
        applied = await ok(c, "apply_proposal", {"proposal": proposal})
        fixed = (work / "calc.py").read_text()
        again = await c.call_tool("apply_proposal", {"proposal": proposal})
        undone = await ok(c, "undo", {})
        return applied, fixed, again, undone

    applied, fixed, again, undone = call(make_grid(), work, steps, write=True)
    assert applied["changed"] == ["calc.py"] and "return a + b" in fixed
    assert again.is_error and "no proposal" in again.content[0].text
    assert undone["files"] == ["calc.py"] and (work / "calc.py").read_text() == BROKEN


def test_a_proposal_whose_file_changed_since_is_refused(make_grid, work):
    async def steps(c):
        proposal = (await ok(c, "propose_edit", {"edits": FIX}))["proposal"]
        (work / "calc.py").write_text(BROKEN + "\n\ndef sub(a, b):\n    return a - b\n")  # a person edits meanwhile
        return await c.call_tool("apply_proposal", {"proposal": proposal})

    result = call(make_grid(), work, steps, write=True)
    assert result.is_error and "changed since" in result.content[0].text
    assert "def sub" in (work / "calc.py").read_text() and "a + b" not in (work / "calc.py").read_text()


def test_the_leash_of_the_config_governs_what_a_client_may_apply(make_grid, work):
    grid = make_grid({"leash": {"paths": ["docs/**"]}})

    async def steps(c):
        proposal = (await ok(c, "propose_edit", {"edits": FIX}))["proposal"]
        return await c.call_tool("apply_proposal", {"proposal": proposal})

    result = call(grid, work, steps, write=True)
    assert result.is_error and "leash" in result.content[0].text and (work / "calc.py").read_text() == BROKEN


def test_edits_into_git_or_through_a_symlink_are_refused_at_proposal(make_grid, work):
    hostile = "gitlink.cfg\n```\n<<<<<<< SEARCH\n[remote]\n=======\n[core]\n  hooksPath = /tmp\n>>>>>>> REPLACE\n```\n"
    result = call(make_grid(), work, lambda c: c.call_tool("propose_edit", {"edits": hostile}))
    proposed = data(result)
    assert proposed["proposal"] is None and not proposed["applied"] and "symlink" in json.dumps(proposed["blocks"])


def test_malformed_calls_are_errors_and_the_server_keeps_serving(make_grid, work):
    async def steps(c):
        bad = [
            await c.call_tool("read", {"path": 5}),
            await c.call_tool("read", {}),
            await c.call_tool("nope", {}),
            await c.call_tool("search", {"query": "x", "k": "many"}),
            await c.call_tool("ledger", {"by": "colour"}),
            await c.call_tool("apply_proposal", {"proposal": "0000"}),
        ]
        return bad, await c.call_tool("read", {"path": "calc.py"})

    bad, good = call(make_grid(), work, steps, write=True)
    assert all(r.is_error for r in bad) and data(good)["lines"] == 2


def test_ask_answers_with_checked_citations_and_runs_and_ledger_show_it(make_grid, work):
    reply = json.dumps({"claims": [{"text": "`add` returns a - b", "snippets": ["S1"]}]})
    grid = make_grid({"routes": {"default": {"models": ["s/m"]}}}, s=[reply])

    async def steps(c):
        return [await ok(c, n, a) for n, a in (("ask", {"question": "What does add return?"}), ("runs", {}), ("ledger", {"by": "model"}))]

    answer, runs, ledger = call(grid, work, steps)
    assert answer["claims"][0]["verified"] and answer["claims"][0]["citations"][0]["path"] == "calc.py"
    assert runs["runs"][0]["command"] == "ask"
    assert ledger["totals"][0]["key"] == "s/m"


def test_only_a_config_outside_the_workspace_can_turn_writing_on(work, tmp_path):
    from tether import config

    (work / "tether.toml").write_text("[mcp]\nwrite = true\n")
    assert settings(config.load(start=work), work) == (False, 20_000)
    (work / "tether.toml").unlink()
    user = tmp_path / "config" / "tether" / "config.toml"
    user.parent.mkdir(parents=True)
    user.write_text("[mcp]\nwrite = true\nmax_tokens = 5000\n")
    assert settings(config.load(start=work), work) == (True, 5000)
    user.write_text("[mcp]\nwrite = 'yes'\n")
    with pytest.raises(Exception, match=r"\[mcp\] write must be true or false"):
        settings(config.load(start=work), work)


@pytest.mark.slow
def test_a_real_client_process_over_stdio(work):
    params = StdioServerParameters(command=sys.executable, args=["-m", "tether", "mcp", "-C", str(work)], env=dict(os.environ))

    async def go():
        async with Client(params) as c:
            names = {t.name for t in (await c.list_tools()).tools}
            return names, await ok(c, "read", {"path": "calc.py"}), await c.call_tool("read", {"path": "gitlink.cfg"})

    names, read, refused = asyncio.run(go())
    assert names == set(DESCRIPTIONS) and read["text"] == BROKEN.rstrip("\n") and refused.is_error


@pytest.mark.slow
def test_a_real_client_over_http_needs_the_token(work):
    import httpx2
    from mcp.client.streamable_http import streamable_http_client

    proc = subprocess.Popen(
        [sys.executable, "-m", "tether", "mcp", "--http", "--port", "0", "--json", "-C", str(work)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        printed = "".join(iter(proc.stdout.readline, "}\n")) + "}"
        started = json.loads(printed)
        url, token = started["url"], started["token"]
        assert url.startswith("http://127.0.0.1:") and not started["write"]
        ping = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}
        assert httpx.post(url, json=ping).status_code == 401
        assert httpx.post(url, json=ping, headers={"Authorization": "Bearer wrong"}).status_code == 401

        async def go():
            async with httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}) as http:
                async with Client(streamable_http_client(url, http_client=http)) as c:
                    return await ok(c, "read", {"path": "calc.py", "end": 1})

        assert asyncio.run(go())["text"] == "def add(a, b):"
    finally:
        proc.terminate()
        proc.wait(10)


def test_a_whole_file_proposal_applies_as_it_was_proposed(make_grid, work):
    whole = "calc.py\n```python\ndef add(a, b):\n    return a + b\n```\n"

    async def steps(c):
        proposal = (await ok(c, "propose_edit", {"edits": whole}))["proposal"]
        return await ok(c, "apply_proposal", {"proposal": proposal})

    assert call(make_grid(), work, steps, write=True)["changed"] == ["calc.py"] and "a + b" in (work / "calc.py").read_text()


@pytest.mark.slow
def test_ask_reports_progress_before_its_first_token_and_a_cancelled_call_stops_its_model(work, monkeypatch):
    """With the real embedded model: the client hears the prompt being read (progress of total)
    before any token is written; cancelling the call while it is read stops the model there,
    records the question as stopped, and leaves the server serving. The cancel is made to land
    while the prompt is read by holding the worker at the first slice until it comes (events, not timing)."""
    from tether.llm.providers.local import unload_all
    from tether.llm.router import Grid
    from tether.mcp.server import Tools

    unload_all()  # a cold model: the whole prompt is read
    (work / "calc.py").write_text("".join(f"def add{i}(a, b):\n    return a + b + {i}\n\n\n" for i in range(60)))
    asked = Tools.ask

    def held(self, question, model, on_event=None, cancel=None):
        def hold(kind, **data):
            on_event(kind, **data)
            if kind == "reading" and data["read"] < data["total"]:
                assert cancel.wait(120), "the client's cancel never reached the call"

        return asked(self, question, model, on_event=hold, cancel=cancel)

    monkeypatch.setattr(Tools, "ask", held)
    grid, heard, numbers = Grid.from_config(), [], []

    async def steps(c):
        reading = asyncio.Event()

        async def progress(done, total, message):
            assert not numbers or done > numbers[-1]  # progress only ever increases
            numbers.append(done)
            heard.append(message)
            if message.startswith("reading"):
                reading.set()

        call = asyncio.create_task(
            c.call_tool("ask", {"question": "What does add7 return?", "model": "local/smollm2-135m"}, progress_callback=progress)
        )
        await reading.wait()
        call.cancel()
        with pytest.raises(asyncio.CancelledError):
            await call
        return await ok(c, "runs", {}), await ok(c, "read", {"path": "calc.py", "end": 1})

    runs, read = call(grid, work, steps)
    assert heard and heard[-1].startswith("reading the prompt") and not any(m.startswith("writing") for m in heard)
    assert runs["runs"][-1]["command"] == "ask" and runs["runs"][-1]["status"] == "stopped"
    assert read["text"] == "def add0(a, b):"
