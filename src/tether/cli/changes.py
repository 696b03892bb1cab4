"""Changes and their history: apply, undo, redo, log (and the replay of a run, step by step)."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Optional

import typer

from ..errors import TetherError
from ._shared import STATUS_STYLE, JsonOpt, PathOpt, app, e, emit, err, out, plural, print_diff, print_text, usd, workspace


@app.command()
def apply(
    reply: str = typer.Argument("-", help="A file holding a model's reply, or - for stdin."),
    path: Optional[str] = PathOpt,
    message: str = typer.Option("apply", "--message", help="What the change is, for the log."),
    as_json: bool = JsonOpt,
):
    """Apply the edit blocks of a model's reply, all or none, as one undoable change."""
    from ..autonomy.history.change import apply_change

    try:
        text = sys.stdin.read() if reply == "-" else Path(reply).read_text(encoding="utf-8", errors="replace")
    except OSError as x:
        raise TetherError(f"cannot read {reply}: {x.strerror or x}") from None
    report, change = apply_change(workspace(path), text, message)
    if as_json:
        emit(report.to_dict())
    else:
        for b in report.blocks:
            status = f"[green]ok[/green] ({e(b.how)})" if b.ok else f"[red]failed[/red]: {e(b.error)}"
            err.print(f"block {b.block} {e(b.path)}: {status}")
            if b.hint:
                err.print(b.hint, markup=False, highlight=False)
        if report.diff:
            out.print(report.diff, markup=False, highlight=False, end="")
    if not report.applied:
        raise typer.Exit(1)
    if change is not None and not as_json:
        err.print(f"[dim]{len(report.changed)} files changed · `tether undo` reverts it[/dim]")


@app.command()
def undo(path: Optional[str] = PathOpt, as_json: bool = JsonOpt):
    """Put the workspace back as it was before the last applied change."""
    from ..autonomy.history.checkpoints import Checkpoints

    change = Checkpoints(workspace(path)).undo()
    emit(change.to_dict()) if as_json else out.print(f"undid “{change.message}”: {', '.join(change.files)}", markup=False)


@app.command()
def redo(path: Optional[str] = PathOpt, as_json: bool = JsonOpt):
    """Apply again the change that was last undone."""
    from ..autonomy.history.checkpoints import Checkpoints

    change = Checkpoints(workspace(path)).redo()
    emit(change.to_dict()) if as_json else out.print(f"redid “{change.message}”: {', '.join(change.files)}", markup=False)


@app.command()
def log(
    run: Optional[str] = typer.Argument(None, help="A run id (or its start), or last, to replay step by step."),
    path: Optional[str] = PathOpt,
    changes: bool = typer.Option(False, "--changes", help="List the undo history of applied changes instead of runs."),
    full: bool = typer.Option(False, "--full", help="Show prompts and outputs whole when replaying."),
    as_json: bool = JsonOpt,
):
    """Agent runs and chats in this workspace (newest last); with a RUN id, replay it step by step."""
    from ..autonomy.history import runlog
    from ..store import Store

    if changes:
        from ..autonomy.history.checkpoints import Checkpoints

        entries = Checkpoints(workspace(path)).log()
        if as_json:
            emit(entries)
            return
        for c in entries:
            state = "" if c["applied"] else " [dim](undone)[/dim]"
            out.print(
                f"{c['number']:>3}  {time.strftime('%Y-%m-%d %H:%M', time.localtime(c['time']))}  {e(c['message'])}{state}  "
                f"[dim]{e(', '.join(c['files']))}[/dim]"
            )
        if not entries:
            err.print("no changes yet")
        return
    store = Store()
    if run == "last":  # the last agent run (ask, do); chats are continued with `tether chat -c`
        latest = runlog.runs(store, str(workspace(path)), limit=1, chats=False)
        if not latest:
            raise TetherError("no runs in this workspace yet (`tether log` lists chats too)")
        run = latest[-1]["id"]
    if run is not None:
        found = runlog.replay(store, run)
        if found is None:
            raise TetherError(f"no single run matches {run!r}; `tether log` lists them")
        emit({"run": found[0], "steps": found[1]}) if as_json else replay(*found, full)
        return
    runs = runlog.runs(store, str(workspace(path)))
    if as_json:
        emit(runs)
        return
    for r in runs:
        out.print(
            f"[bold]{r['id']}[/bold]  {r['command']}{_level(r)}  [{STATUS_STYLE.get(r['status'], 'yellow')}]{r['status']}[/]"
            f"  {plural(r['steps'], 'step')} · {r['input_tokens'] + r['output_tokens']:,} tokens · {usd(r['cost_usd'])} · "
            f"{r['seconds'] or 0:.0f}s"
            f"\n    {e(r['title'])}" + (f"  [dim]→ {e(', '.join(r['changed']))}[/dim]" if r["changed"] else ""),
            markup=True,
            highlight=False,
        )
    if not runs:
        err.print("no runs in this workspace yet (`tether log --changes` lists applied changes)")


# -- replay: one renderer per kind of step the run log records (runlog.KINDS) ------------------


def _prompt(s: dict, head: str, full: bool) -> None:
    out.print(head)
    print_text(s.get("user", ""), full, 12)


def _reply(s: dict, head: str, full: bool) -> None:
    cached = f" ({s['cached_tokens']} cached)" if s.get("cached_tokens") else ""
    out.print(f"{head} {e(s.get('model'))} · {s.get('input_tokens')}→{s.get('output_tokens')} tokens{cached} · {usd(s.get('cost_usd'))}")
    print_text(s.get("text", ""), True, 0)


def _decision(s: dict, head: str, full: bool) -> None:
    if s.get("tool") == "review":  # a person's review: how many hunks taken, and those rejected or edited in full
        taken = s.get("taken") or []
        out.print(f"{head} review: {sum(1 for t in taken if t)} of {len(taken)} hunks taken")
        for label, hunks in (("rejected", s.get("rejected") or []), ("edited by the person", s.get("edited") or [])):
            for text in hunks:
                out.print(f"  {label}:")
                print_diff(text)
        return
    verdict = s.get("verdict", "")
    colour = {"allow": "green", "deny": "red"}.get(verdict, "yellow")
    out.print(
        f"{head} {e(s.get('tool'))} {e(repr(s.get('target', '')))}: [{colour}]{e(verdict)}[/] ({e(s.get('rule'))}) {e(s.get('reason', ''))}"
        + (f" · taken {s['taken']}" if "taken" in s else "")
    )


def _diff(s: dict, head: str, full: bool) -> None:
    out.print(f"{head} {'applied' if s.get('applied') else 'proposed' if s.get('applied') is None else 'not applied'}")
    print_diff(s["diff"]) if s.get("diff") else print_text(s.get("error", ""), True, 0)


def _verify(s: dict, head: str, full: bool) -> None:
    code = s.get("code")
    status = "[green]ok[/green]" if code == 0 else "[red]timed out[/red]" if code is None else f"[red]exit {code}[/red]"
    if s.get("refused"):  # a write hook refused what the command wrote, and it was put back
        status = "[red]what it wrote was refused by a hook[/red]"
    out.print(f"{head} $ {e(s['command'])} → {status} ({s.get('seconds')}s)")
    print_text(s.get("output", ""), full, 8, tail=True)


def _tool(s: dict, head: str, full: bool) -> None:
    out.print(f"{head} {e(s['name'])} {e(json.dumps(s.get('args')))} → {'ok' if s.get('ok') else 'failed'}")
    print_text(s.get("output", ""), full, 8)


def _start(s: dict, head: str, full: bool) -> None:
    limits = ", ".join(f"{k.removeprefix('max_')} ≤ {s[k]:g}" for k in ("max_steps", "max_seconds", "max_tokens", "max_usd") if s.get(k))
    checks = ", ".join(s["checks"]) if s.get("checks") is not None else "the project's"
    out.print(
        f"{head} {'resumed' if s.get('resumed') else 'started'} at level {e(s.get('level'))} · checks: {e(checks or 'none')}"
        + (f" · {e(limits)}" if limits else "")
    )


def _end(s: dict, head: str, full: bool) -> None:
    out.print(f"{head} [{STATUS_STYLE.get(s['status'], 'yellow')}]{s['status']}[/]: {e(s.get('reason', ''))}")


def _other(s: dict, head: str, full: bool) -> None:
    out.print(f"{head} {e(s.get('text') or json.dumps({k: v for k, v in s.items() if k not in ('n', 'ts', 'kind')}))}")


RENDER = {
    "prompt": _prompt,
    "reply": _reply,
    "decision": _decision,
    "diff": _diff,
    "verify": _verify,
    "tool": _tool,
    "end": _end,
    "start": _start,
    "note": _other,
}


def replay(run: dict, steps: list[dict], full: bool) -> None:
    out.print(f"[bold]run {run['id']}[/bold] · tether {run['command']}{_level(run)} -m {e(run['model'])} · {e(run['root'])}")
    out.print(f"[bold]request:[/bold] {e(run['instruction'])}", markup=True)
    for s in steps:
        head = f"[dim]#{s['n']} {time.strftime('%H:%M:%S', time.localtime(s['ts']))}[/dim] [bold]{s['kind']}[/bold]"
        RENDER.get(s["kind"], _other)(s, head, full)
    if run["status"] == "interrupted" and not (steps and steps[-1]["kind"] == "end"):  # killed: no end step was written
        out.print(f"[yellow]interrupted[/]: {e(run.get('reason') or '')}")


def _level(run) -> str:
    """The --level a `do` ran at; a chat or a question has none."""
    return f" --level {run['level']}" if run["command"] == "do" else ""
