"""`tether db up|down|status`: the PostgreSQL cluster a team ledger can live in."""

from __future__ import annotations

import typer

from ..errors import TetherError
from ._shared import JsonOpt, app, emit, out


@app.command(name="db")
def db_(
    action: str = typer.Argument("status", help="up (create and start), down (stop) or status."),
    port: int = typer.Option(5432, "--port", help="The Unix socket's port number (no TCP port is opened)."),
    as_json: bool = JsonOpt,
):
    """A PostgreSQL cluster of tether's own on a Unix socket; put its URL under [ledger] url."""
    from ..llm.pgcluster import Cluster

    cluster = Cluster(port=port)
    if action == "up":
        cluster.up()
    elif action == "down":
        cluster.down()
    elif action != "status":
        raise TetherError("say `tether db up`, `tether db down` or `tether db status`")
    running = cluster.running()
    if as_json:
        emit({"running": running, "url": cluster.url, "folder": str(cluster.folder)})
    else:
        out.print(
            f"{'running' if running else 'stopped'} · {cluster.folder}" + (f'\n[ledger]\nurl = "{cluster.url}"' if running else ""),
            markup=False,
        )
