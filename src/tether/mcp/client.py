"""Other MCP servers' tools, for the agent: the client side of MCP, with the official SDK.

`Servers` starts the servers of the user's [mcp.servers] on first use (each held open by a task
of one event loop in a background thread), lists their tools as `mcp:NAME:TOOL` and calls one
with the server's time limit. Whatever goes wrong with a server — missing, hung, dead, answering
garbage or an error — is one failure text for that call, and the run goes on; a server that
stopped answering is closed, so it costs one step, not one per call. `close()` ends every server
process. What a server says is untrusted: the agent redacts and fences it, and the leash checks
every call as a tool of its own (autonomy/guard/leash.py)."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import shutil
import sys
import tempfile
import threading
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import Cancelled, TetherError, need_extra
from ..redaction import redact
from .servers import ServerSpec, configured, specs

if TYPE_CHECKING:
    from mcp import Client

__all__ = ["Servers", "ServersReport", "configured", "survey", "tools_for"]

TOOL_NAME = r"[A-Za-z0-9_.-]{1,64}"  # what the agent's TOOL line can name (mcp:NAME:TOOL)
MAX_TOOLS = 64  # per server: a server that lists thousands does not flood the prompt
GRACE = 10.0  # beyond a server's own timeout, for the SDK to give up and a process to be killed
TIED = Path(__file__).with_name("tied.py")  # starts a stdio server so that it dies with tether

for _name in ("mcp.client", "mcp.shared", "mcp.os"):  # the SDK logs a server's garbage with tracebacks: the call's text says it
    logging.getLogger(_name).addHandler(logging.NullHandler())
    logging.getLogger(_name).propagate = False


class _Connection:
    """One server: the task that holds its session open, its tools, and why it is down if it is."""

    def __init__(self, spec: ServerSpec, root: Path | None):
        self.spec, self.root = spec, root
        self.client: Client | None = None
        self.tools: list = []
        self.error: str | None = None
        self.errlog = tempfile.TemporaryFile(
            "w+", encoding="utf-8", errors="replace"
        )  # the server's stderr: its last line explains a failure
        self.ready = asyncio.Event()
        self.closing = asyncio.Event()
        self.task: asyncio.Task | None = None

    async def hold(self) -> None:
        from mcp import Client  # the SDK (tether[mcp]) is imported only where a server is configured

        try:
            async with AsyncExitStack() as stack:
                client = Client(await self._server(stack), read_timeout_seconds=self.spec.timeout)
                self.client = await stack.enter_async_context(client)
                self.tools = await self._list()
                self.ready.set()
                await self.closing.wait()
        except Exception as e:  # a server's failure is its own, never the run's
            self.fail(_described(e, self.spec, self.stderr()))
        finally:
            self.client = None
            self.ready.set()

    async def _server(self, stack: AsyncExitStack):
        s = self.spec
        if s.url:
            from mcp.client.streamable_http import streamable_http_client
            from mcp.shared._httpx_utils import create_mcp_http_client

            http = await stack.enter_async_context(create_mcp_http_client(headers=s.expanded(s.headers)))
            return streamable_http_client(s.url, http_client=http)
        from mcp import StdioServerParameters
        from mcp.client.stdio import get_default_environment, stdio_client

        command, args, env = s.command or "", list(s.args), s.expanded(s.env)
        if sys.platform != "win32":  # started through tied.py, it dies with tether, even under kill -9
            _findable(command, get_default_environment() | env, self.root)
            command, args = sys.executable, ["-I", "-S", str(TIED), str(os.getpid()), command, *args]
        params = StdioServerParameters(command=command, args=args, env=env, cwd=self.root)
        return stdio_client(params, errlog=self.errlog)

    async def _list(self) -> list:
        assert self.client is not None
        tools, cursor = [], None
        for _ in range(10):  # pages; a listing that never ends is cut
            page = await self.client.list_tools(cursor=cursor)
            tools += page.tools
            cursor = page.next_cursor
            if not cursor or len(tools) >= MAX_TOOLS:
                break
        return tools[:MAX_TOOLS]

    def fail(self, why: str) -> None:
        self.error = self.error or why
        self.closing.set()

    def stderr(self) -> str:
        try:
            self.errlog.seek(0)
            lines = [line.strip() for line in self.errlog.read()[-4000:].splitlines() if line.strip()]
        except (OSError, ValueError):
            return ""
        return lines[-1][:300] if lines else ""


class Servers:
    """The configured servers for one run (or one listing): started on first use, closed by `close()`.
    It is what autonomy/agent/tools.py's `ExternalTools` asks for: `listing()`, `call()`, `close()`."""

    def __init__(self, servers: list[ServerSpec], root: str | Path | None = None):
        self.specs, self.root = servers, Path(root) if root else None
        self._conns: dict[str, _Connection] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._closed = False

    def start(self) -> None:
        """Start every server (once); each either answers its tool listing within its timeout or is down with a reason."""
        with self._lock:
            if self._loop is not None or self._closed:
                return
            loop = self._loop = asyncio.new_event_loop()
            self._thread = threading.Thread(target=loop.run_forever, name="tether-mcp-client", daemon=True)
            self._thread.start()
            started = asyncio.run_coroutine_threadsafe(self._start_all(), loop)
            started.result(timeout=max((s.timeout for s in self.specs), default=0) + GRACE)

    async def _start_all(self) -> None:
        for spec in self.specs:
            conn = self._conns[spec.name] = _Connection(spec, self.root)
            conn.task = asyncio.ensure_future(conn.hold())
        await asyncio.gather(*(self._started(c) for c in self._conns.values()))

    async def _started(self, conn: _Connection) -> None:
        try:
            await asyncio.wait_for(conn.ready.wait(), conn.spec.timeout)
        except asyncio.TimeoutError:
            conn.fail(f"it did not answer within {conn.spec.timeout:g} s")
            if conn.task is not None:
                conn.task.cancel()  # its process is stopped in the background; close() waits for it

    def listing(self) -> list[tuple[str, str, dict]]:
        """(mcp:NAME:TOOL, description, input schema) of every tool of every server that started."""
        self.start()
        return [
            (f"mcp:{c.spec.name}:{t.name}", t.description or "", dict(t.input_schema or {}))
            for c in self._conns.values()
            if c.error is None
            for t in c.tools
            if re.fullmatch(TOOL_NAME, t.name)
        ]

    def down(self) -> list[tuple[str, str]]:
        """(name, why, redacted) of each server that is down: after `listing`, those that did not start."""
        return [(c.spec.name, redact(c.error)[0]) for c in self._conns.values() if c.error is not None]

    def call(self, name: str, args: dict, cancel: threading.Event | None = None) -> tuple[bool, str]:
        """(ok, text) of one call; every failure is a text that says what happened, and a Stop ends the wait."""
        self.start()
        _, server, tool = (name.split(":", 2) + ["", ""])[:3]
        conn = self._conns.get(server)
        if conn is None or self._loop is None:
            return False, f"there is no MCP server {server!r} (servers: {', '.join(self._conns) or 'none'})"
        if conn.error is not None or conn.client is None:
            return False, f"{name} failed: the server {server} is down ({conn.error or 'it closed'})"
        future = asyncio.run_coroutine_threadsafe(self._call(conn, tool, args), self._loop)
        waited, limit = 0.0, conn.spec.timeout + GRACE
        while waited < limit:
            if cancel is not None and cancel.is_set():
                future.cancel()
                raise Cancelled("stopped")
            try:
                return future.result(timeout=0.2)
            except TimeoutError:
                waited += 0.2
        future.cancel()
        self._loop.call_soon_threadsafe(conn.fail, f"a call did not answer within {conn.spec.timeout:g} s")
        return False, f"{name} did not answer within {conn.spec.timeout:g} s; the server {server} is closed for the rest of the run"

    async def _call(self, conn: _Connection, tool: str, args: dict) -> tuple[bool, str]:
        name = f"mcp:{conn.spec.name}:{tool}"
        try:
            assert conn.client is not None
            result = await conn.client.call_tool(tool, args, read_timeout_seconds=conn.spec.timeout)
        except Exception as e:
            why = _described(e, conn.spec, conn.stderr() if _closed(e) else "")
            if _timed_out(e) or _closed(e):
                conn.fail(why)
                why += f"; the server {conn.spec.name} is closed for the rest of the run"
            return False, f"{name} failed: {why}"
        return not result.is_error, _text(result)

    def report(self) -> "ServersReport":
        """Each server: how it is reached, whether it started (or why not), and its tools."""
        self.start()
        return ServersReport(
            [
                ServerReport(
                    c.spec.name,
                    c.spec.transport,
                    redact(c.spec.shown)[0],
                    c.error is None,
                    redact(c.error)[0] if c.error else None,
                    [(t.name, redact(_first_line(t.description))[0]) for t in c.tools] if c.error is None else [],
                )
                for c in self._conns.values()
            ]
        )

    def close(self) -> None:
        """End every server (a stdio server's process is stopped, then killed) and the loop; safe to call twice."""
        with self._lock:
            self._closed, loop, thread = True, self._loop, self._thread
            self._loop = None
        if loop is None or thread is None:
            return
        try:
            asyncio.run_coroutine_threadsafe(self._close_all(), loop).result(timeout=GRACE + 5)
        except (TimeoutError, RuntimeError):
            pass
        finally:
            loop.call_soon_threadsafe(loop.stop)
            thread.join(timeout=5)
            for conn in self._conns.values():
                conn.errlog.close()

    async def _close_all(self) -> None:
        for conn in self._conns.values():
            conn.closing.set()
        await asyncio.gather(*(c.task for c in self._conns.values() if c.task is not None), return_exceptions=True)


@dataclass
class ServerReport:
    name: str
    transport: str  # stdio or http
    target: str  # the command line or the URL
    started: bool
    error: str | None
    tools: list[tuple[str, str]] = field(default_factory=list)  # (name, first line of its description)

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "transport": self.transport,
            "target": self.target,
            "started": self.started,
            "error": self.error,
            "tools": [{"name": f"mcp:{self.name}:{n}", "description": d} for n, d in self.tools],
        }


@dataclass
class ServersReport:
    servers: list[ServerReport]

    def to_dict(self) -> dict:
        return {"servers": [s.to_dict() for s in self.servers]}


def tools_for(config, root: str | Path | None = None) -> Servers | None:
    """The configured servers' tools for a run in `root` (None where [mcp.servers] names none):
    the one place `tether do` and the web app's Start build them. Nothing starts until the run lists them."""
    found = specs(config)
    if not found:
        return None
    need_extra("mcp", "the servers of [mcp.servers]", "mcp")
    return Servers(found, root)


def survey(config, root: str | Path | None = None) -> ServersReport:
    """`tether mcp servers`: start each configured server, list its tools, close it."""
    found = specs(config)
    if found:
        need_extra("mcp", "the servers of [mcp.servers]", "mcp")
    servers = Servers(found, root)
    try:
        return servers.report()
    finally:
        servers.close()


def _findable(command: str, env: dict[str, str], cwd: Path | None) -> None:
    """FileNotFoundError where the server's program is not there, as starting it directly would raise
    (tied.py starts it, and would only say so on stderr)."""
    found = (cwd or Path.cwd()) / command if os.sep in command else shutil.which(command, path=env.get("PATH", os.defpath))
    if found is None or not Path(found).exists():
        raise FileNotFoundError(command)


def _text(result) -> str:
    """A tool result as text: its text blocks, what other blocks are, else its structured content."""
    parts = []
    for block in result.content:
        kind = getattr(block, "type", "")
        if kind == "text":
            parts.append(block.text)
        elif kind == "resource":
            parts.append(getattr(block.resource, "text", None) or f"[a binary resource {block.resource.uri}]")
        elif kind == "resource_link":
            parts.append(f"[a resource: {block.uri}]")
        else:
            parts.append(f"[{kind or 'content'} {getattr(block, 'mime_type', '')}, not shown]")
    if not parts and result.structured_content is not None:
        parts.append(json.dumps(result.structured_content, ensure_ascii=False, default=str))
    return "\n".join(parts) or "(the tool returned nothing)"


def _described(e: BaseException, spec: ServerSpec, stderr: str) -> str:
    """One line for what went wrong with a server (an exception group's first leaf; the server's last stderr line)."""
    while isinstance(e, BaseExceptionGroup) and e.exceptions:
        e = e.exceptions[0]
    if isinstance(e, FileNotFoundError):
        why = f"cannot start {spec.command!r}: no such program"
    elif isinstance(e, (OSError, ValueError)) and not _mcp_error(e):
        why = f"cannot start {spec.shown!r}: {e}"
    elif _closed(e):
        why = "the server closed the connection (it exited?)"
    elif _timed_out(e):
        why = f"it did not answer within {spec.timeout:g} s"
    elif spec.url and type(e).__module__.startswith("httpx"):
        why = f"cannot reach {spec.url}: {e}"
    elif _mcp_error(e) or isinstance(e, TetherError):
        why = str(e)
    else:
        why = f"{type(e).__name__}: {e}"[:300]
    return f"{why}; it said: {stderr}" if stderr else why


def _mcp_error(e: BaseException) -> bool:
    from mcp.shared.exceptions import MCPError

    return isinstance(e, MCPError)


def _closed(e: BaseException) -> bool:
    return _mcp_error(e) and "closed" in str(e).lower()


def _timed_out(e: BaseException) -> bool:
    return isinstance(e, TimeoutError) or _mcp_error(e) and "timed out" in str(e).lower()


def _first_line(text: str | None) -> str:
    line = (text or "").strip().splitlines()[0] if (text or "").strip() else ""
    return line[:200]
