"""The command line: a thin face over the floors below, one small module per group of commands.
Every command takes --json (printing the result's `to_dict()`); every error is one line on
stderr (JSON under --json) and a non-zero exit, never a traceback."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Optional

import typer

from ..errors import TetherError
from . import agent, changes, configs, context, db, hooks, llm, mcp, memory, plan, ui, wiki  # the order of `tether -h`
from ._shared import app, e, err, state

COMMANDS = (
    llm,
    context,
    changes,
    agent,
    plan,
    hooks,
    memory,
    wiki,
    ui,
    mcp,
    db,
    configs,
)  # each module registers its commands on `app` when imported

__all__ = ["COMMANDS", "app", "main"]


def _version(value: bool) -> None:
    if value:
        from .. import __version__

        sys.stdout.write(f"tether {__version__}\n")
        raise typer.Exit()


@app.callback()
def _main(
    config: Optional[Path] = typer.Option(
        None, "--config", help="A config file layered over yours and the project's (trusted: you named it)."
    ),
    version: bool = typer.Option(False, "--version", is_eager=True, callback=_version, help="Print the version and exit."),
):
    state["config"] = config


def _json() -> bool:
    return "--json" in sys.argv[1:]


def _fail(message: str, kind: str, code: int) -> None:
    """One line on stderr; JSON under --json, so a program reading the output reads its errors too."""
    if _json():
        sys.stderr.write(json.dumps({"error": message, "kind": kind, "exit": code}) + "\n")
    else:
        err.print(f"[red]error:[/red] {e(message)}", soft_wrap=True)
    sys.exit(code)


def _terminated(signum, frame) -> None:
    """SIGTERM (`timeout`, a closed terminal, a supervisor) ends a command as Ctrl-C does: the run
    is recorded as interrupted and the workspace put back at its last checkpoint, never left "running"."""
    raise KeyboardInterrupt


def main() -> None:
    import signal

    if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        signal.signal(signal.SIGTERM, _terminated)
    try:
        code = app(standalone_mode=False)  # click hands back the code of a typer.Exit here
        if isinstance(code, int) and code:
            sys.exit(code)
    except TetherError as x:
        _fail(str(x), type(x).__name__, x.exit_code)
    except KeyboardInterrupt:
        err.print("[dim]stopped (Ctrl-C)[/dim]")
        sys.exit(130)
    except Exception as x:  # click's usage errors and aborts
        import click

        if isinstance(x, click.exceptions.Exit):
            sys.exit(x.exit_code)
        if isinstance(x, click.ClickException):
            if not _json():
                x.show()
                sys.exit(x.exit_code)
            _fail(x.format_message(), type(x).__name__, x.exit_code)
        if isinstance(x, click.exceptions.Abort):
            sys.exit(130)
        raise
