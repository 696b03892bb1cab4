"""`tether mcp`: tether's tools for other agents (Claude Code, Cursor, another tether); `tether mcp
servers`: the other MCP servers whose tools tether's agent may call ([mcp.servers] of your config)."""

from __future__ import annotations

import os
import secrets
import sys
from typing import Optional

import typer

from ..errors import TetherError, need_extra
from ._shared import JsonOpt, PathOpt, app, e, emit, err, grid, load_config, out, workspace


@app.command(name="mcp")
def mcp_(
    action: Optional[str] = typer.Argument(None, help="servers: start the servers of [mcp.servers], list their tools, stop them."),
    path: Optional[str] = PathOpt,
    http: bool = typer.Option(False, "--http", help="Streamable HTTP on --host/--port with a bearer token, instead of stdio."),
    host: str = typer.Option("127.0.0.1", "--host"),
    port: int = typer.Option(8767, "--port", help="0: any free port."),
    write: bool = typer.Option(
        False,
        "--write",
        help="Let clients apply proposals, undo and run the agent at auto or agent (through the leash; default: read-only).",
    ),
    describe: bool = typer.Option(False, "--describe", help="Print the tools' descriptions and their hash, and exit."),
    as_json: bool = JsonOpt,
):
    """Serve the workspace to MCP clients: digest, map, search, read, ask, do, propose_edit, apply_proposal, undo, runs, ledger."""
    if action is not None:
        if action != "servers":
            raise TetherError(f"unknown action {action!r}: say `tether mcp` to serve, or `tether mcp servers` to list your MCP servers")
        return _servers(path, as_json)
    need_extra("mcp", "the MCP server", "mcp")
    from ..mcp import Bearer, create_server, describe as described, settings

    if describe:
        d = described()
        if as_json:
            emit(d)
        else:
            for name, text in d["tools"].items():
                out.print(f"{name}: {text}", markup=False)
            out.print(f"sha256 {d['sha256']}", markup=False)
        return
    root = workspace(path)
    g = grid(root)
    allowed, cap = settings(g.config, root)
    server, tools = create_server(g, root, write=write or allowed, max_tokens=cap)
    try:
        if not http:
            server.run("stdio")
            return
        from ..serving import Server

        if host not in ("127.0.0.1", "localhost", "::1"):
            err.print(f"[yellow]warning:[/yellow] serving on {e(host)}, reachable beyond this machine")
        token = os.environ.get("TETHER_MCP_TOKEN") or secrets.token_urlsafe(24)
        try:
            web = Server(Bearer(server.streamable_http_app(host=host), token), host, port, lifespan="on")
        except (OSError, OverflowError) as x:
            raise TetherError(f"cannot listen on {host}:{port}: {getattr(x, 'strerror', None) or x}") from None
        url = f"{web.origin}/mcp"
        if as_json:
            emit({"url": url, "token": token, "workspace": str(root), "write": write or allowed})
        else:
            out.print(
                f"tether mcp for {root}\nurl   {url}\ntoken {token}\n(send it as `Authorization: Bearer TOKEN`; Ctrl-C stops the server)",
                markup=False,
            )
        sys.stdout.flush()
        web.serve_until_interrupted()
    finally:
        tools.close()


def _servers(path: str | None, as_json: bool) -> None:
    from ..mcp.client import survey

    root = workspace(path)
    report = survey(load_config(root), root)
    if as_json:
        emit(report.to_dict())
    elif not report.servers:
        out.print("no MCP servers: add [mcp.servers.NAME] to your config (see docs/mcp.md)", markup=False)
    for s in report.servers if not as_json else ():
        state = "[green]started[/green]" if s.started else f"[red]failed[/red]: {e(s.error or '')}"
        out.print(f"[bold]{e(s.name)}[/bold] · {s.transport}: {e(s.target)} · {state}", highlight=False)
        for tool in s.tools:
            about = tool[1] if len(tool[1]) <= 100 else tool[1][:99] + "…"
            out.print(f"  mcp:{e(s.name)}:{e(tool[0])}  [dim]{e(about)}[/dim]", highlight=False)
    if any(not s.started for s in report.servers):  # a script (or CI) learns a server is broken
        raise typer.Exit(1)
