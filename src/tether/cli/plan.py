"""Plan, then do: `tether plan "task"` writes a plan a person edits; `tether do --plan FILE` (in
agent.py) carries it out step by step through what this module prepares."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Optional

import typer

from ..errors import TetherError
from ..workspaces import remember
from ._shared import JsonOpt, ModelOpt, PathOpt, app, e, emit, err, grid, out, usd, waiting, workspace

STATE_STYLE = {"done": "green", "failed": "red", "skipped": "dim", "todo": "yellow"}


@app.command(name="plan")
def plan(
    task: str = typer.Argument(..., help="What the plan is for, in plain words."),
    output: Optional[Path] = typer.Option(None, "-o", "--output", help="The plan file (default: .tether/plan.md in the workspace)."),
    edit: bool = typer.Option(False, "--edit", help="Open $EDITOR on the plan, then ask whether to carry it out now (a terminal only)."),
    path: Optional[str] = PathOpt,
    model: str = ModelOpt,
    as_json: bool = JsonOpt,
):
    """Plan a change without making it: numbered steps, each with its files and its check, written to a file you edit
    and then carry out with `tether do --plan FILE`."""
    from ..autonomy.agent.plan import load, make_plan, plan_path
    from .terminal import Ticking

    if edit and (as_json or not (sys.stdin.isatty() and sys.stdout.isatty())):
        raise TetherError("--edit opens $EDITOR and asks a question: it needs a terminal (and no --json)")
    root = workspace(path)
    remember(root)  # `tether ui`'s switcher lists it
    file = plan_path(root, output)
    with waiting(f"{model}: reading the code and the task…") as line:

        def shown(kind: str, **data) -> None:
            if line is not None:
                line.update(Ticking(kind, {**data, "doing": data.get("doing") or "planning"}))

        made = make_plan(grid(root), root, task, model, on_event=shown)
    replaced = file.exists()
    made.save(file)
    if as_json:
        emit({**made.to_dict(), "file": str(file)})
        return
    show_steps(made)
    r = made.response
    where = os.path.relpath(file) if file.is_relative_to(Path.cwd()) else str(file)
    err.print(
        f"[dim]wrote {e(where)}{' (the plan that was there is replaced)' if replaced else ''} · "
        f"{e(r.model) if r else ''} · {usd(r.cost_usd if r else None)} · run {made.run}[/dim]"
    )
    if not edit:
        err.print(f"[dim]edit it, then: tether do --plan {e(where)}[/dim]")
        return
    subprocess.call([*os.environ.get("EDITOR", "vi").split(), str(file)])
    edited = load(file)
    show_steps(edited)
    if typer.confirm("Carry it out now?", default=False, err=True):
        from click import get_current_context

        do = typer.main.get_command(app).commands["do"]  # type: ignore[attr-defined]
        get_current_context().invoke(do, plan_file=file, path=str(root))  # as `tether do --plan FILE`, every other option its default
    else:
        err.print(f"[dim]later: tether do --plan {e(where)}[/dim]")


def planned(file: Path, root: Path, instruction: str | None, fields: dict, grid_, person, on_event, as_json: bool):
    """`tether do --plan FILE`'s run: the plan in the file on the options of `tether do` (its task
    as the instruction where none is given), its steps shown first on a terminal."""
    from ..autonomy.agent import planrun, start
    from ..autonomy.agent.plan import load, plan_path

    file = plan_path(root, file)
    found = load(file)
    options = start.RunOptions(instruction or found.task or found.steps[0].title, root, **fields)
    from ..mcp.client import tools_for

    tools = lambda: tools_for(grid_.config, root)  # noqa: E731 - the MCP servers of your config, each step's own
    run = planrun.prepare(found, file, options, grid_, person=person, on_event=on_event, tools=tools)
    if not as_json:
        left = len(found.left())
        err.print(f"[dim]plan {e(file)}: {left} of {len(found.steps)} step{'' if len(found.steps) == 1 else 's'} to carry out[/dim]")
        show_steps(found)
    return run


def show_steps(result) -> None:
    """Each step of a plan (or of a plan's result) and where it stands."""
    steps = getattr(result, "plan", result).steps
    for n, s in enumerate(steps, start=1):
        check = f" · check: {e(s.check)}" if s.check else " · review"
        files = f" · {e(', '.join(s.files))}" if s.files else ""
        why = f" — {e(s.reason)}" if s.status == "failed" and s.reason else ""
        out.print(f"{n}. [{STATE_STYLE.get(s.status, 'yellow')}]{s.status}[/] {e(s.title)}[dim]{files}{check}[/dim]{why}", highlight=False)
    if len(getattr(result, "results", [])) > 1:
        err.print("[dim]each step is its own change: `tether undo` takes back the last, `tether undo` again the one before[/dim]")
