"""`tether wiki build|update`: a wiki of the repository whose every claim cites checked lines."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import typer

from ..errors import TetherError
from ._shared import JsonOpt, ModelOpt, app, e, emit, err, grid, out, workspace


@app.command(name="wiki")
def wiki_(
    action: str = typer.Argument(..., help="build (every page missing or stale; --force: all) or update (the same after commits)."),
    path: Optional[str] = typer.Argument(None, help="The repository (default: the project holding this folder)."),
    model: str = ModelOpt,
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Also write the pages as Markdown here, with llms.txt."),
    force: bool = typer.Option(False, "--force", help="Write every page again."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Say which pages would be written, the tokens and the time, and ask no model."),
    as_json: bool = JsonOpt,
):
    """Write the wiki: an overview and a page per part of the code; claims that do not verify are dropped."""
    from ..autonomy.answers.wiki import Wiki

    if action not in ("build", "update"):
        raise TetherError("say `tether wiki build` or `tether wiki update`")
    root = workspace(path)
    wiki = Wiki(grid(root), root, model)
    if dry_run:
        return _plan(wiki.plan(force), as_json)
    if sys.stderr.isatty() and not as_json:
        from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.fields[pages]}"),
            TimeRemainingColumn(),
            console=err,
            transient=True,
        ) as bar:
            task = bar.add_task("reading the repository's map", total=None, pages="")
            report = wiki.build(
                force,
                progress=lambda done, total, title: bar.update(
                    task, completed=done, total=total, pages=f"{done}/{total} pages", description=f"writing {title}" if title else "done"
                ),
            )
    else:
        report = wiki.build(force)
    written = []
    if output is not None:
        from ..context.llmstxt import build as llms

        written = wiki.save(output, report)
        site = llms(output, out=output, title=f"{root.name} wiki")
        written += site.save(output.resolve(), output.resolve())
    if as_json:
        emit({**report.to_dict(), "overview": report.overview, "files": written})
        return
    shown, dropped = report.citations
    for p in report.pages:
        state = "written" if p.slug in report.written else "kept"
        out.print(
            f"{p.title:30} {state:8} {len(p.claims)} claims" + (f", {p.dropped} dropped (unverified)" if p.dropped else ""), markup=False
        )
    err.print(
        f"[dim]{len(report.pages)} pages ({len(report.written)} written, {len(report.kept)} kept) · {shown} citations, all checked"
        f" · {dropped} claims dropped · {report.seconds:.0f}s{' → ' + e(output) if output else ''}[/dim]"
    )


def _plan(plan, as_json: bool) -> None:
    if as_json:
        emit(plan.to_dict())
        return
    for p in plan.pages:
        out.print(
            f"{p['title']:30} {p['action']:8} " + (f"~{p['prompt_tokens']:,} prompt tokens" if p["prompt_tokens"] else ""), markup=False
        )
    asked = sum(p["action"] != "keep" for p in plan.pages)
    took = (
        (f"about {plan.seconds / 60:.0f} min" if plan.seconds >= 90 else f"about {plan.seconds:.0f}s")
        if plan.seconds is not None
        else f"time unknown: the ledger has no answered call of {plan.model} yet"
    )
    err.print(f"[dim]{len(plan.pages)} pages, {asked} to ask {e(plan.model)} about · ~{plan.tokens:,} prompt tokens · {took}[/dim]")
