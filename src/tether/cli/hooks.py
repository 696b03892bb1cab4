"""`tether hooks`: the user's hooks as the workspace's config has them, and `tether hooks test` to
run them on a sample event before a run depends on them (autonomy/guard/hooks.py); it exits 1
where a hook denies, so a script can test a policy."""

from __future__ import annotations

import json
import shlex
from typing import Optional

import typer

from ..errors import TetherError
from ._shared import JsonOpt, PathOpt, app, e, emit, err, load_config, out, table, workspace


@app.command(name="hooks")
def hooks_(
    action: str = typer.Argument("list", help="list, or test: run the hooks of EVENT on a sample event."),
    event: Optional[str] = typer.Argument(None, help="test: before_tool, after_edit, before_checks or stop."),
    tool: Optional[str] = typer.Option(None, "--tool", help="test: the tool of the sample event (read, search, write, run, mcp:S:T)."),
    target: str = typer.Option("", "--target", help="test: what the tool acts on: a path, a command or a query."),
    path: Optional[str] = PathOpt,
    as_json: bool = JsonOpt,
):
    """The hooks in force (event, match, command, timeout); `test EVENT --tool T --target X` runs those that match, each verdict shown."""
    from ..autonomy.agent.start import default_level
    from ..autonomy.guard.hooks import Hooks

    root = workspace(path)
    config = load_config(root)
    hooks = Hooks.from_config(config, root)
    if action == "list":
        if as_json:
            emit(hooks.to_dict())
            return
        t = table("event", "match", "command", "timeout")
        for h in hooks.hooks:
            match = " ".join(f"{k}={v}" for k, v in h.to_dict()["match"].items()) or "every"
            t.add_row(e(h.event), e(match), e((f"{h.name}: " if h.name else "") + shlex.join(h.command)), f"{h.timeout:g}s")
        out.print(t) if hooks else err.print(f"no hooks: add {e('[[hooks]]')} to your own config (docs/hooks.md)")
        return
    if action != "test" or event is None:
        raise TetherError("say `tether hooks` or `tether hooks test EVENT --tool T --target X`")
    trial = hooks.trial(event, tool, target, default_level(config, root))
    if as_json:
        emit(trial.to_dict())
    else:
        for v in trial.verdicts:
            verdict = "[green]allow[/green]" if v.allowed else "[red]deny[/red]"
            out.print(f"{verdict}  {e(v.hook.rule)}: {e(v.reason)} [dim]({v.seconds:.2f}s)[/dim]")
        if not trial.verdicts:
            err.print(f"no hook matches {e(json.dumps({'event': event, 'tool': trial.tool, 'target': target}))}: the action is allowed")
    if not trial.allowed:
        raise typer.Exit(1)
