"""`tether ui`: the verification GUI, served on this machine."""

from __future__ import annotations

import os
import sys
from typing import Optional

import typer

from ..errors import TetherError, need_extra
from ._shared import JsonOpt, PathOpt, app, e, emit, err, grid, out, workspace


@app.command()
def ui(
    path: Optional[str] = PathOpt,
    host: str = typer.Option("127.0.0.1", "--host"),
    port: int = typer.Option(8766, "--port", help="0: any free port."),
    no_browser: bool = typer.Option(False, "--no-browser", help="Print the URL only."),
    link: bool = typer.Option(False, "--link", help="Print a fresh sign-in URL for the tether ui already serving this workspace."),
    as_json: bool = JsonOpt,
):
    """Review, steer and undo in a local web app: runs live, hunk review, timeline, ask, context, ledger."""
    need_extra("web", "the web app", "starlette", "jinja2", "uvicorn")
    from ..serving import Server
    from ..web import create_app
    from ..web.links import announce, fresh_link

    root = workspace(path)
    if link:
        url = fresh_link(root)
        if as_json:
            emit({"url": url, "workspace": str(root)})
        else:
            out.print(f"open {url}\n(the token works once)", markup=False)
        return
    if host not in ("127.0.0.1", "localhost", "::1"):
        err.print(f"[yellow]warning:[/yellow] serving on {e(host)}, reachable beyond this machine")
    from ..workspaces import remember

    remember(root)  # the header's switcher lists the workspaces a ui, a do or an ask was started in
    door = create_app(grid(root), root, host, port, open_grid=grid)  # a switch builds its grid as this start does
    try:
        server = Server(door, host, port)
    except (OSError, OverflowError) as x:
        raise TetherError(f"cannot listen on {host}:{port}: {getattr(x, 'strerror', None) or x}") from None
    door.port = server.server_address[1]
    url = f"{server.origin}/?token={door.token}"
    if as_json:
        emit({"url": url, "workspace": str(root)})
    else:
        out.print(f"tether ui for {e(root)}\nopen {url}\n(the token works once; Ctrl-C stops the server)", markup=False)
    sys.stdout.flush()
    if not no_browser and not as_json and (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY") or sys.platform == "darwin"):
        import webbrowser

        webbrowser.open(url)
    note = announce(root, server.origin, door.admin)  # `tether ui --link` asks this server for a new URL
    try:
        server.serve_until_interrupted()
    finally:
        note.unlink(missing_ok=True)
