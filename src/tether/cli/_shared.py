"""What every command module shares: the Typer app, the consoles, the common options, and the
few helpers that turn results into terminal text. No logic a second face would need lives here."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Column, Table

if TYPE_CHECKING:
    from ..llm import GridLike


app = typer.Typer(
    no_args_is_help=True,
    suggest_commands=False,
    context_settings={"help_option_names": ["-h", "--help"]},
    rich_markup_mode=None,
    help="Partial-autonomy AI for a codebase, on a leash you control.",
)
out = Console(highlight=False, width=None if sys.stdout.isatty() else 200)  # a pipe gets whole lines
err = Console(stderr=True, highlight=False, soft_wrap=True)
state: dict = {"config": None, "noted": set()}

JsonOpt = typer.Option(False, "--json", help="Machine-readable output (its shape: docs/json.md).")
ModelOpt = typer.Option("default", "--model", "-m", help="A route name or provider/model.")
PathOpt = typer.Option(None, "-C", "--path", help="The workspace (default: the project holding this folder: its tether.toml or .git).")
STATUS_STYLE = {"done": "green", "answered": "green", "proposed": "cyan", "running": "blue"}


def load_config(root: Path | None = None, note: bool = True):
    """The layered config of the workspace (user < its tether.toml < --config). The keys of an
    untrusted project's config that do not apply are named once a process, on stderr."""
    from ..config import load

    config = load(state["config"], start=root)
    line = config.ignored_note() if note else None
    if line and line not in state["noted"]:
        state["noted"].add(line)
        err.print(f"[yellow]note:[/yellow] {e(line)}")
    return config


def grid(root: Path | None = None) -> GridLike:
    """The grid of the workspace's layered config (never the current folder's when -C names another)."""
    from ..llm.router import Grid

    return Grid(load_config(root))


def workspace(path: str | None) -> Path:
    """-C as given, else the project holding the current folder."""
    from ..config import project_root, workspace as folder

    return project_root() if path is None else folder(path)


def emit(data) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")


def table(*headers: str) -> Table:
    """Names are never cut short; other columns shrink or wrap on a narrow terminal."""
    return Table(Column(headers[0], no_wrap=True), *headers[1:])


def e(value) -> str:
    """Text from files, models, configs or errors, shown as it is: `[id]` is a path, not markup."""
    return escape(str(value))


def plural(n: int, word: str) -> str:
    """`1 step`, `2 steps`."""
    return f"{n:,} {word}{'' if n == 1 else 's'}"


def usd(value) -> str:
    return "unknown" if value is None else f"${value:.6f}" if value < 0.01 else f"${value:.4f}"


def print_diff(diff: str, console: Console = out) -> None:
    for line in diff.rstrip("\n").splitlines():
        style = (
            "green"
            if line.startswith("+")
            else "red"
            if line.startswith("-")
            else "cyan"
            if line.startswith("@@")
            else "bold"
            if line.startswith(("diff ", "index "))
            else None
        )
        console.print(line, style=style, markup=False, highlight=False)


def print_text(text: str, full: bool, lines: int, tail: bool = False) -> None:
    rows = (text or "").rstrip().splitlines()
    if not full and len(rows) > lines:
        cut = f"… {len(rows) - lines} more lines (--full shows them)"
        rows = ([cut] + rows[-lines:]) if tail else (rows[:lines] + [cut])
    for row in rows:
        out.print("    " + row, markup=False, highlight=False)


def waiting(what: str):
    """A status line on a terminal while a model loads or reads a long prompt (silent elsewhere)."""
    import contextlib

    return err.status(what) if sys.stderr.isatty() else contextlib.nullcontext()
