"""tether's tools for other agents, over the Model Context Protocol.

Each tool is a thin call into the same core as the command line and returns the same JSON shape.
The server is read-only unless the person who starts it turns writing on; then edits still go
through the leash, the checkpoints and the undo history. Every path is confined to the
workspace as a real path, every reply is kept under a token cap (clients cut long tool output),
and the tool descriptions are fixed text whose hash a client can pin."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

from mcp.server import MCPServer
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from mcp_types import ToolAnnotations
from pydantic import Field

from .. import __version__
from ..context import tokens
from ..errors import ConfigError, TetherError
from ..layering import DEFAULTS, KEYS

if TYPE_CHECKING:
    from ..context.index import Index
    from ..llm import GridLike

RUN_LEVELS = ("ask", "suggest", "auto", "agent")  # approve needs a person to review each change: MCP has none

__all__ = ["Bearer", "DESCRIPTIONS", "describe", "create_server", "settings"]

READ_ONLY = ToolAnnotations(read_only_hint=True, destructive_hint=False, open_world_hint=False)
WRITES = ToolAnnotations(read_only_hint=False, destructive_hint=False, idempotent_hint=False, open_world_hint=False)

DESCRIPTIONS = {
    "digest": "The repository as one Markdown document (a tree with token counts, then every text file), "
    "one page at a time: call with page=1, then 2, … up to the `pages` the reply states. "
    "include/exclude take gitignore-style globs.",
    "map": "The repository's most important symbols (classes, functions, signatures), ranked by how the code "
    "uses them, fitted to max_tokens; focus names files, folders or identifiers to rank toward.",
    "search": "Search the code by words, a question or an identifier (BM25 and embeddings, fused). "
    "Returns the k best chunks with path, lines and a snippet; index.not_embedded counts chunks found by words only.",
    "read": "Lines start..end (1-based, at most 400) of one file of the workspace, given by its path relative to the workspace root.",
    "ask": "Answer a question about the code with a model; every claim cites path:lines and each citation "
    "is checked against those lines (verified true or false). Slow on a local model.",
    "do": "Let tether's agent do a task in the workspace, on the leash of the user's config. level: suggest (the default) "
    "returns the change as a diff in `answer` and writes nothing; ask answers in `answer`; auto and agent apply the change and "
    "run the checks as one undoable change (`undo`), only on a server started with `tether mcp --write` or [mcp] write = true "
    "in the user's config; approve is refused (it needs a person). Returns the run as `tether do --json` prints it (status, "
    "reason, answer, changed, diff, checks, usage, cost_usd). Sends progress while it runs; cancelling the call stops the run "
    "(changes applied before it stay, undoable). Slow on a local model.",
    "plan": "Plan a task without doing it: a model reads the repository (nothing is written) and returns numbered steps, "
    "each a small change with the files it touches and its check (a command, or null: review), and the plan as markdown in "
    "`text`. Save `text` to a file, edit it, and carry it out with `tether do --plan FILE`. Slow on a local model.",
    "resume": "Go on with a `do` run that stopped (Stop, a cancelled call, its budget, failing checks) or whose process was "
    "killed: its conversation, leash and spending carry on, at its own level (as `do`: approve is refused; auto and agent "
    "need writes). run: its id from `runs`, empty for the workspace's last. max_steps: steps in all, a used-up limit raised. "
    "Returns the run as `do` does.",
    "propose_edit": "Check an edit without writing it: SEARCH/REPLACE blocks, a unified diff or whole files, "
    "each under its file's path. Returns a proposal id and the diff it would make.",
    "apply_proposal": "Apply a proposal made by propose_edit, as one undoable change, if this server may "
    "write, the leash allows it and the files have not changed since the proposal.",
    "undo": "Undo the last applied change in this workspace (only files still as the change left them).",
    "runs": "The agent runs and chats recorded in this workspace, newest last: status, steps, tokens, cost.",
    "ledger": "What the model calls cost: tokens, USD and latency, grouped by day, model or provider.",
}


def settings(config, root: Path) -> tuple[bool, int]:
    """(write, max_tokens) from [mcp] of the config. `write` is one of the user's own keys
    (layering.USER_ONLY): a repository someone else wrote cannot grant itself writes, trusted or not."""
    spec: Any = config.extra.get("mcp", {})
    where = f"{config.where('mcp')}: [mcp]"
    if not isinstance(spec, dict) or set(spec) - set(KEYS["mcp"]):
        raise ConfigError(f"{where} takes {', '.join(KEYS['mcp'])}")
    defaults: Any = DEFAULTS["mcp"]
    write, cap = spec.get("write", defaults["write"]), spec.get("max_tokens", defaults["max_tokens"])
    if not isinstance(write, bool):
        raise ConfigError(f"{where} write must be true or false")
    if isinstance(cap, bool) or not isinstance(cap, int) or cap < 1000:
        raise ConfigError(f"{where} max_tokens must be a whole number >= 1000 (got {cap!r})")
    return write, cap


def describe() -> dict:
    """The tools' fixed descriptions and one hash of them all, so a client can pin them."""
    text = json.dumps(DESCRIPTIONS, sort_keys=True)
    return {"tools": DESCRIPTIONS, "sha256": hashlib.sha256(text.encode()).hexdigest()}


class Tools:
    """The tool functions over one workspace. One worker thread does all the work: the index
    and the stores keep one thread each, and a local model answers one question at a time."""

    def __init__(self, grid: GridLike, root: Path, write: bool, max_tokens: int):
        from ..autonomy.history.drafts import Drafts

        self.grid, self.root, self.write, self.max_tokens = grid, root, write, max_tokens
        self.drafts = Drafts(root)
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tether-mcp")
        self._index: Index | None = None

    async def run(self, fn, *args, **kwargs):
        def fresh():  # the config as its files say now: `tether trust`, its revoke or an edit holds from the next call on
            self.grid.refresh()
            return fn(*args, **kwargs)

        try:
            return await asyncio.wrap_future(self._worker.submit(fresh))
        except asyncio.CancelledError:  # the client cancelled the call (notifications/cancelled): its model call stops too
            if isinstance(kwargs.get("cancel"), threading.Event):
                kwargs["cancel"].set()
            raise
        except TetherError as e:
            raise ToolError(str(e)) from None
        except (OSError, ValueError) as e:
            raise ToolError(f"{type(e).__name__}: {e}") from None

    def cap(self, text: str) -> str:
        """Never more than the server's token cap in one reply: the end is cut, and says so."""
        if tokens.count(text) <= self.max_tokens:
            return text
        kept, used = [], 0
        for line in text.splitlines(keepends=True):
            used += tokens.count(line)
            if used > self.max_tokens - 40:
                break
            kept.append(line)
        return "".join(kept) + f"\n… cut at the server's cap of {self.max_tokens} tokens; ask for less (a page, fewer lines, a smaller k)\n"

    # -- the tools (each runs on the worker) ---------------------------------------------------

    def digest(self, page: int, include: list[str], exclude: list[str]) -> dict:
        from ..context import digest

        return digest(self.root, include=include, exclude=exclude).page(page, self.max_tokens).to_dict()

    def map(self, focus: list[str], max_tokens: int) -> dict:
        from ..context.repomap import repo_map

        return repo_map(self.root, max_tokens=max(64, min(max_tokens, self.max_tokens - 200)), focus=focus).to_dict()

    def search(self, query: str, k: int) -> dict:
        if self._index is None:
            from ..context.index import Index

            self._index = Index(self.root)
        # a call never waits on embedding: `tether search --embed-seconds -1` does it once
        return self._index.find(query, k=max(1, min(k, 50)), embed_seconds=0).fitted(self.max_tokens).to_dict()

    def read(self, path: str, start: int, end: int | None) -> dict:
        from ..autonomy.agent.tools import read_lines

        found = read_lines(self.root, path, start, end)
        found["text"] = self.cap(found["text"])
        return found

    def ask(self, question: str, model: str, on_event=None, cancel: threading.Event | None = None) -> dict:
        from ..autonomy.answers.ask import answer

        return answer(self.grid, self.root, question, model, on_event=on_event, cancel=cancel).to_dict()

    def plan(self, task: str, model: str, on_event=None, cancel: threading.Event | None = None) -> dict:
        from ..autonomy.agent.plan import make_plan

        return make_plan(self.grid, self.root, task, model, on_event=on_event, cancel=cancel).to_dict()

    def do(
        self, instruction: str, level: str, model: str, max_seconds: float | None, on_event=None, cancel: threading.Event | None = None
    ) -> dict:
        """A run the same as `tether do`'s (start.prepare), with no person to ask: at auto and agent
        what the leash would ask about is refused. Cancelling the call stops the run."""
        from ..autonomy.agent import start

        if level not in RUN_LEVELS:
            raise TetherError(f"level must be one of {', '.join(RUN_LEVELS)} (approve needs a person at a prompt)")
        if level in ("auto", "agent"):
            self._writable(f"apply changes at level {level}")
        run = start.prepare(
            start.RunOptions(instruction, self.root, level=level, model=model, max_seconds=max_seconds), self.grid, on_event=on_event
        )
        return self._going(run, cancel)

    def resume(self, run_id: str, max_steps: int | None, on_event=None, cancel: threading.Event | None = None) -> dict:
        """`tether do --continue` (or `--resume RUN`): at the run's own level, under the same rules as `do`."""
        from ..autonomy.agent import start

        run = start.resume(self.grid, self.root, run_id or None, {"max_steps": max_steps}, on_event=on_event)
        if run.level not in RUN_LEVELS:
            raise TetherError(
                f"run {run_id or '(the last)'} is at level {run.level}, which needs a person: resume it with `tether do --continue`"
            )
        if run.level in ("auto", "agent"):
            self._writable(f"apply changes at level {run.level}")
        return self._going(run, cancel)

    def _going(self, run, cancel: threading.Event | None) -> dict:
        """Run it; cancelling the call stops the run."""
        done = cancel or threading.Event()

        def stop_when_cancelled() -> None:
            done.wait()
            run.stop()

        threading.Thread(target=stop_when_cancelled, daemon=True).start()
        try:
            return run.run().to_dict()
        finally:
            done.set()  # the watcher ends; a stop after the run is nothing

    def propose_edit(self, edits: str) -> dict:
        return self.drafts.propose(edits).to_dict()

    def apply_proposal(self, proposal: str) -> dict:
        self._writable("apply a proposal")
        return self.drafts.apply(proposal, self.grid.config, f"mcp: proposal {proposal}").to_dict()

    def undo(self) -> dict:
        from ..autonomy.history.checkpoints import Checkpoints

        self._writable("undo")
        return Checkpoints(self.root).undo().to_dict()

    def runs(self, limit: int) -> list[dict]:
        from ..autonomy.history import runlog

        found = runlog.runs(self.grid.store, str(self.root), limit=max(1, min(limit, 200)))
        return [dict(r, instruction=r["instruction"][:500]) for r in found]

    def ledger(self, by: str, since: str) -> dict:
        return self.grid.ledger.summary(by=by, since=since)

    def _writable(self, what: str) -> None:
        if not self.write:
            raise TetherError(
                f"this server is read-only: it may not {what} (start it with `tether mcp --write`, "
                "or set [mcp] write = true in your user config)"
            )

    def close(self) -> None:
        self._worker.submit(self._close).result()
        self._worker.shutdown()

    def _close(self) -> None:
        if self._index is not None:
            self._index.close()


def create_server(grid: GridLike, root: Path, *, write: bool = False, max_tokens: int = 20_000) -> tuple[MCPServer, Tools]:
    """The MCP server over one workspace, and its tools (close them when the server ends)."""
    t = Tools(grid, root, write, max_tokens)
    server = MCPServer(
        "tether",
        version=__version__,
        log_level="WARNING",
        instructions="tether: context, cited answers and leashed edits for the repository at " + str(root),
    )
    for fn in _functions(t):
        writes = fn.__name__ in ("do", "resume", "apply_proposal", "undo")
        server.add_tool(fn, name=fn.__name__, description=DESCRIPTIONS[fn.__name__], annotations=WRITES if writes else READ_ONLY)
    return server, t


def _functions(t: Tools) -> tuple:
    """The tools as the SDK reads them: each one's signature is its input schema."""

    async def digest(page: int = 1, include: list[str] | None = None, exclude: list[str] | None = None) -> dict:
        return await t.run(t.digest, page, include or [], exclude or [])

    async def map(focus: list[str] | None = None, max_tokens: int = 2048) -> dict:  # noqa: A001 - the tool's name
        return await t.run(t.map, focus or [], max_tokens)

    async def search(query: str, k: int = 10) -> dict:
        return await t.run(t.search, query, k)

    async def read(path: str, start: int = 1, end: int | None = None) -> dict:
        return await t.run(t.read, path, start, end)

    async def ask(question: str, ctx: Context, model: str = "default") -> dict:
        return await t.run(t.ask, question, model, on_event=Progress(ctx), cancel=threading.Event())

    async def plan(task: str, ctx: Context, model: str = "default") -> dict:
        return await t.run(t.plan, task, model, on_event=Progress(ctx), cancel=threading.Event())

    async def do(
        instruction: Annotated[str, Field(description="What the agent should do, as a person would ask it.")],
        ctx: Context,
        level: Annotated[
            str, Field(description="ask, suggest (the default: a diff, nothing written), auto or agent (need writes).")
        ] = "suggest",
        model: Annotated[str, Field(description='A route name or "provider/model"; default: the default route.')] = "default",
        max_seconds: Annotated[float | None, Field(description="The run's time limit; default: the leash's.")] = None,
    ) -> dict:
        return await t.run(t.do, instruction, level, model, max_seconds, on_event=Steps(ctx), cancel=threading.Event())

    async def resume(
        ctx: Context,
        run: Annotated[str, Field(description="The run to go on with (from `runs`); empty: the workspace's last `do`.")] = "",
        max_steps: Annotated[int | None, Field(description="Steps in all, the run's earlier ones included; default: its own.")] = None,
    ) -> dict:
        return await t.run(t.resume, run, max_steps, on_event=Steps(ctx), cancel=threading.Event())

    async def propose_edit(edits: str) -> dict:
        return await t.run(t.propose_edit, edits)

    async def apply_proposal(proposal: str) -> dict:
        return await t.run(t.apply_proposal, proposal)

    async def undo() -> dict:
        return await t.run(t.undo)

    async def runs(limit: int = 20) -> dict:
        return {"runs": await t.run(t.runs, limit)}

    async def ledger(by: str = "day", since: str = "month") -> dict:
        return await t.run(t.ledger, by, since)

    return (digest, map, search, read, ask, plan, do, resume, propose_edit, apply_proposal, undo, runs, ledger)


class Progress:
    """A model call's progress (autonomy.progress events, on the worker thread) as the client's
    progress notifications, always increasing as the protocol asks: tokens of the prompt read (of
    its total), then those plus the tokens written. A client that sent no progress token gets none;
    one that is gone costs the call nothing."""

    def __init__(self, ctx: Context):
        self.ctx, self.loop = ctx, asyncio.get_running_loop()
        self.last, self.read = -1, 0

    def __call__(self, kind: str, **data) -> None:
        if kind == "reading":
            self.read = data["total"]
            note = (data["read"], data["total"], f"reading the prompt: {data['read']} of {data['total']} tokens")
        elif kind == "writing":
            note = (self.read + data["written"], None, f"writing: {data['written']} tokens")
        elif kind == "status":
            note = (0, None, data.get("doing") or "working")
        else:
            return
        if note[0] > self.last:
            self.last = note[0]
            asyncio.run_coroutine_threadsafe(self.ctx.report_progress(*note), self.loop)


class Steps(Progress):
    """An agent run's events as progress notifications: one more for each thing the run says it
    is doing (its model calls' own progress included), so the count always increases."""

    SAID = {
        "status": lambda d: d.get("doing"),
        "reading": lambda d: f"reading the prompt: {d.get('read')} of {d.get('total')} tokens",
        "writing": lambda d: f"writing: {d.get('written')} tokens",
        "tool": lambda d: f"{d.get('name')} {d.get('target')}",
        "verify": lambda d: f"checked {d.get('command')}: {'ok' if d.get('ok') else 'failing'}",
        "note": lambda d: d.get("text"),
    }

    def __call__(self, kind: str, **data) -> None:
        said = self.SAID[kind](data) if kind in self.SAID else None  # only the one message this event needs
        if said:
            self.last += 1
            asyncio.run_coroutine_threadsafe(self.ctx.report_progress(self.last, None, said), self.loop)


class Bearer:
    """The HTTP transport's door: every request carries `Authorization: Bearer TOKEN` or gets 401."""

    def __init__(self, app, token: str):
        self.app, self._token = app, f"Bearer {token}".encode()

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http":
            given = dict(scope["headers"]).get(b"authorization", b"")
            if not hmac.compare_digest(given, self._token):
                await send(
                    {
                        "type": "http.response.start",
                        "status": 401,
                        "headers": [(b"content-type", b"application/json"), (b"www-authenticate", b"Bearer")],
                    }
                )
                await send({"type": "http.response.body", "body": b'{"error": "a bearer token is required"}'})
                return
        await self.app(scope, receive, send)
