"""Partial autonomy: ask and do."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Optional

import typer

from ..errors import TetherError
from ..workspaces import remember
from ._shared import STATUS_STYLE, JsonOpt, ModelOpt, PathOpt, app, e, emit, err, grid, out, plural, print_diff, usd, waiting, workspace
from .plan import planned, show_steps


@app.command()
def ask(
    question: str = typer.Argument(..., help="A question about the code."),
    path: Optional[str] = PathOpt,
    model: str = ModelOpt,
    context_tokens: Optional[int] = typer.Option(
        None, "--context-tokens", min=1, help="How much of the repository to show the model (tokens of snippets; default 1000)."
    ),
    as_json: bool = JsonOpt,
):
    """Answer a question from the code; every claim cites path:lines, and the citations are checked."""
    from ..autonomy.answers.ask import answer as answer_question
    from .terminal import Ticking

    written = 0
    root = workspace(path)
    remember(root)  # `tether ui`'s switcher lists it
    with waiting(f"{model}: reading the code and the question…") as line:  # seconds on a local model

        def shown(kind: str, **data) -> None:  # the model loading, how far it has read, what it writes
            if line is not None:
                line.update(Ticking(kind, {**data, "doing": data.get("doing") or f"{written} claim{'' if written == 1 else 's'} written"}))

        def claimed(text: str) -> None:
            nonlocal written
            written += 1
            if line is not None:
                line.update(f"{model}: claim {written} written: {e(text[:80])}")

        answer = answer_question(grid(root), root, question, model, on_claim=claimed, budget=context_tokens, on_event=shown)
    if as_json:
        emit(answer.to_dict())
        return
    r = answer.response
    assert r is not None  # an answer the model gave has its response
    marks = {"verified": "[green]verified[/green]", "unchecked": "[yellow]unchecked[/yellow]", "unverified": "[red]unverified[/red]"}
    for c in answer.claims:  # each claim beside the lines it cites, so a person checks it at a glance
        why = f" [dim]({e('; '.join(c.problems))})[/dim]" if c.problems else ""
        out.print(f"- {marks[c.state]} {e(c.text)} [dim]{e(' '.join(f'[{x}]' for x in c.citations))}[/dim]{why}", highlight=False)
        for line in c.shown[:6]:
            out.print(f"      {line}", style="dim", markup=False, highlight=False)
    unchecked = sum(c.state == "unchecked" for c in answer.claims)
    err.print(
        f"[dim]{answer.verified} of {len(answer.claims)} claims verified against the cited lines"
        f"{f' ({unchecked} name no code to check)' if unchecked else ''} · {e(r.model)} · "
        f"{r.usage.input_tokens}→{r.usage.output_tokens} tokens · {usd(r.cost_usd)} · run {answer.run_id}[/dim]"
    )


@app.command(name="do")
def do(
    instruction: Optional[str] = typer.Argument(None, help="What to change, in plain words (not with --continue or --resume)."),
    level: Optional[str] = typer.Option(
        None, "--level", "-l", help="ask, suggest, approve, auto or agent (default: [leash] level, else approve)."
    ),
    go_on: bool = typer.Option(
        False, "--continue", help="Go on with the workspace's last run (stopped, failed or killed): its conversation, leash and spending."
    ),
    resume_run: Optional[str] = typer.Option(None, "--resume", metavar="RUN", help="Go on with run RUN (`tether log` lists them)."),
    plan_file: Optional[str] = typer.Option(
        None, "--plan", metavar="FILE", help="Carry out the plan in FILE (`tether plan` writes one) step by step; the task is optional."
    ),
    path: Optional[str] = PathOpt,
    model: str = ModelOpt,
    verify: list[str] = typer.Option(
        [], "--verify", help="A check to run after each change (repeatable; default: [verify] commands, else pytest if there are tests)."
    ),
    allow: list[str] = typer.Option([], "--allow", help="Only these paths (globs) may be written (repeatable; default: [leash] paths)."),
    edit_format: Optional[str] = typer.Option(
        None, "--edit-format", help="whole or search-replace (default: what the model's catalogue entry says)."
    ),
    until_green: bool = typer.Option(False, "--until-green", help="Stop as soon as a change makes every check pass."),
    max_steps: Optional[int] = typer.Option(None, "--max-steps", min=1, help="Model turns at most."),
    max_seconds: Optional[float] = typer.Option(None, "--max-seconds", min=1, help="Wall time at most."),
    max_tokens: Optional[int] = typer.Option(None, "--max-tokens", min=1, help="Tokens at most, in and out."),
    max_usd: Optional[float] = typer.Option(None, "--max-usd", help="USD at most."),
    candidates: int = typer.Option(
        1,
        "--candidates",
        help="At level agent: changes sampled for a turn whose change gained nothing on the checks; the best is kept. Above 1, a "
        "repeated failed change is sampled afresh N-1 times instead of ending the run.",
    ),
    escalate: Optional[str] = typer.Option(
        None,
        "--escalate",
        help="A model or route that goes on where the model is stuck or stops with checks failing (default: the route's `escalate`).",
    ),
    as_json: bool = JsonOpt,
):
    """Let the agent change the code, as far as the level and the leash allow; the run is one undoable change."""
    from ..autonomy.agent import start
    from ..mcp.client import tools_for
    from .terminal import LiveLine, TerminalPerson

    fields: dict[str, Any] = dict(
        level=level,
        model=model,
        checks=tuple(verify) if verify else None,
        paths=tuple(allow),
        max_steps=max_steps,
        max_seconds=max_seconds,
        max_tokens=max_tokens,
        max_usd=max_usd,
        candidates=candidates,
        edit_format=edit_format,
        until_green=until_green,
        escalate=escalate,
    )
    root = workspace(path)
    resuming = go_on or resume_run is not None
    if resuming == bool(instruction or plan_file):
        raise TetherError("give `tether do` an instruction, or --continue / --resume RUN to go on with a run (not both)")
    remember(root)  # `tether ui`'s switcher lists it
    live = LiveLine() if sys.stderr.isatty() and not as_json else None
    person = TerminalPerson(live) if sys.stdin.isatty() and not as_json else None
    g = grid(root)
    tools = None if plan_file else tools_for(g.config, root)  # the MCP servers of your config, each call on the leash
    try:
        shown = live.event if live else None
        if resuming:  # a flag left at its default keeps the run's own value
            defaults = {"model": "default", "paths": (), "candidates": 1, "until_green": False}
            given = {k: v for k, v in fields.items() if v is not None and v != defaults.get(k)}
            run = start.resume(g, root, resume_run, given, person=person, on_event=shown, tools=tools)
        elif plan_file is not None:  # each step its own run (cli/plan.py)
            run = planned(Path(plan_file), root, instruction, fields, g, person, shown, as_json)
        else:
            run = start.prepare(start.RunOptions(str(instruction), root, **fields), g, person=person, on_event=shown, tools=tools)
        if not as_json:
            _announce(run.to_dict())
        result = run.run()
    finally:
        if live:
            live.stop()
        if tools is not None:
            tools.close()  # no server outlives the command, whatever ended it
    if as_json:
        emit(result.to_dict())
    else:
        _report(result, bool(live), plan_file is not None)
    if result.exit_code:
        raise typer.Exit(result.exit_code)


def _announce(plan: dict) -> None:
    """What the run will do, before it starts."""
    then = f", then {e(plan['escalate'])} where it is stuck" if plan["escalate"] else ""
    again = f" · resumes run {plan['resumes']}" if plan.get("resumes") else ""
    err.print(
        f"[dim]tether do{again} · level {plan['level']} · {e(plan['model'])}{then} · {plan['edit_format']} edits · checks: "
        f"{e(', '.join(plan['checks']) or 'none')} · "
        f"limits: {plural(plan['limits']['steps'], 'step')}, {plan['limits']['seconds']:g}s — Ctrl-C stops at the last "
        "checkpoint[/dim]"
    )


def _report(result, live: bool, stepped: bool) -> None:
    """How the run ended, what it changed and what it cost (on a terminal the diffs came as they were made)."""
    if result.status == "proposed" and not live:
        print_diff(result.answer)
    elif result.answer and result.status == "answered":
        out.print(result.answer, markup=False, highlight=False)
    if result.diff and not live and result.diff != result.answer:
        print_diff(result.diff)
    if stepped:
        show_steps(result)
    err.print(f"[{STATUS_STYLE.get(result.status, 'yellow')}]{result.status}[/]: {e(result.reason)}")
    if result.changed:
        err.print(
            f"[dim]changed {e(', '.join(result.changed))} · `tether undo` reverts the whole run · `tether log {result.id}` replays it[/dim]"
        )
    cached = f" ({result.cached_tokens:,} read from cache)" if result.cached_tokens else ""
    err.print(
        f"[dim]{plural(result.steps, 'step')} · {result.input_tokens + result.output_tokens:,} tokens{cached} · "
        f"{usd(result.cost_usd)} · {result.seconds:.1f}s[/dim]"
    )
