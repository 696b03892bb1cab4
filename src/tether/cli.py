"""The command line: a thin face over the floors below. Every command takes --json; every
error is one line on stderr and a non-zero exit, never a traceback."""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import sys
import time
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Column, Table

from .errors import TetherError

app = typer.Typer(add_completion=False, no_args_is_help=True, rich_markup_mode=None, help="Partial-autonomy AI for a codebase, on a leash you control.")
out = Console(highlight=False, width=None if sys.stdout.isatty() else 200)  # a pipe gets whole lines
err = Console(stderr=True, highlight=False, soft_wrap=True)
_state: dict = {"config": None}

JsonOpt = typer.Option(False, "--json", help="Machine-readable output.")


def _version(value: bool) -> None:
    if value:
        from . import __version__

        sys.stdout.write(f"tether {__version__}\n")
        raise typer.Exit()


@app.callback()
def _main(config: Optional[Path] = typer.Option(None, "--config", "-c", help="A tether.toml to use instead of the one found."),
          version: bool = typer.Option(False, "--version", is_eager=True, callback=_version, help="Print the version and exit.")):
    _state["config"] = config


def _grid(root: Path | None = None):
    """The grid of --config, else of the workspace's tether.toml (never the current folder's)."""
    from .llm.router import Grid

    return Grid.from_config(_state["config"], start=root)


def _workspace(path: str | None) -> Path:
    """--path as given, else the project holding the current folder."""
    from .config import project_root

    if path is None:
        return project_root()
    root = Path(os.path.realpath(path))
    if not root.is_dir():
        raise TetherError(f"{path}: the workspace is not a folder")
    return root


def _emit(data) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")


def _table(*headers: str) -> Table:
    """Names are never cut short; other columns shrink or wrap on a narrow terminal."""
    return Table(Column(headers[0], no_wrap=True), *headers[1:])


def _e(value) -> str:
    """Text from files, models, configs or errors, shown as it is: `[id]` is a path, not markup."""
    return escape(str(value))


def _usd(value) -> str:
    return "unknown" if value is None else f"${value:.6f}" if value < 0.01 else f"${value:.4f}"


# -- chat ---------------------------------------------------------------------------------------


@app.command()
def chat(
    prompt: Optional[str] = typer.Argument(None, help="Ask once and exit; without it, an interactive chat (or stdin if piped)."),
    model: str = typer.Option("default", "--model", "-m", help="A route name or provider/model."),
    system: Optional[str] = typer.Option(None, "--system", "-s", help="A system prompt."),
    max_tokens: Optional[int] = typer.Option(None, "--max-tokens"),
    temperature: Optional[float] = typer.Option(None, "--temperature", "-t"),
    as_json: bool = JsonOpt,
):
    """Chat with a model; replies stream as they are generated."""
    grid = _grid()
    opts = {k: v for k, v in {"max_tokens": max_tokens, "temperature": temperature}.items() if v is not None}
    history = [{"role": "system", "content": system}] if system else []
    if prompt is None and not sys.stdin.isatty():
        prompt = sys.stdin.read()
        if not prompt.strip():
            raise TetherError("nothing to ask: give a prompt, pipe one in, or run `tether chat` on a terminal")
    if prompt is not None:
        history.append({"role": "user", "content": prompt})
        if as_json:
            _emit(grid.complete(model, history, **opts).to_dict())
        else:
            _stream_reply(grid, model, history, opts)
        return
    err.print(f"[dim]chatting with {_e(model)} — Ctrl-D or /exit to leave, Ctrl-C stops a reply[/dim]")
    while True:
        try:
            line = input("› ")
        except EOFError:
            break
        except KeyboardInterrupt:
            err.print()
            break
        if line.strip() in ("/exit", "/quit"):
            break
        if not line.strip():
            continue
        history.append({"role": "user", "content": line})
        try:
            reply = _stream_reply(grid, model, history, opts)
        except KeyboardInterrupt:
            err.print("\n[dim](stopped)[/dim]")
            history.pop()
            continue
        except TetherError as e:
            err.print(f"[red]error:[/red] {_e(e)}")
            history.pop()
            continue
        history.append({"role": "assistant", "content": reply})


def _stream_reply(grid, model, history, opts) -> str:
    text = []
    for item in grid.stream(model, history, **opts):
        if isinstance(item, str):
            text.append(item)
            sys.stdout.write(item)
            sys.stdout.flush()
        else:
            sys.stdout.write("\n")
            u = item.usage
            err.print(f"[dim]{item.model} · {u.input_tokens}→{u.output_tokens} tokens{' (estimated)' if u.estimated else ''}"
                      f" · {_usd(item.cost_usd)} · {item.latency_ms:.0f} ms"
                      f"{f' · first token {item.ttft_ms:.0f} ms' if item.ttft_ms is not None else ''}[/dim]")
    return "".join(text)


# -- models -------------------------------------------------------------------------------------


@app.command()
def models(
    pull: Optional[str] = typer.Option(None, "--pull", help="Fetch a local model's weights now (e.g. qwen2.5-coder-1.5b)."),
    as_json: bool = JsonOpt,
):
    """The model catalogue: context, price, and whether each can be used now."""
    if pull:
        from .llm import weights

        path = weights.ensure(pull.removeprefix("local/"))
        _emit({"model": pull, "path": str(path)}) if as_json else out.print(f"local/{pull.removeprefix('local/')} ready: {path}")
        return
    grid = _grid()
    rows = grid.models()
    if as_json:
        _emit({"routes": {n: list(r.models) for n, r in grid.config.routes.items()}, "models": rows})
        return
    table = _table("model", "context", "$/M in", "$/M out", "usable now")
    for r in rows:
        price = lambda v: "unknown" if v is None else f"{v:g}"  # noqa: E731
        table.add_row(r["model"], f"{r['context_window']:,}" if r["context_window"] else "?", price(r["input_per_mtok"]),
                      price(r["output_per_mtok"]), "[green]yes[/green]" if r["usable"] else f"[yellow]{r['missing']}[/yellow]")
    out.print(table)
    for name, route in grid.config.routes.items():
        out.print(f"route [bold]{_e(name)}[/bold]: {_e(' → '.join(route.models))}")


# -- ledger -------------------------------------------------------------------------------------


@app.command()
def ledger(
    by: str = typer.Option("day", "--by", help="Group by day, model, route, provider or outcome."),
    since: str = typer.Option("month", "--since", help="today, month, all, or a date YYYY-MM-DD."),
    rows: int = typer.Option(0, "--rows", help="Also list the last N attempts."),
    as_json: bool = JsonOpt,
):
    """What every call cost: tokens, USD and latency, from the ledger."""
    from .llm.meter import GROUPS, Ledger, since_date
    from .store import Store
    from . import config as config_mod

    if by not in GROUPS:
        raise TetherError(f"--by must be one of {', '.join(GROUPS)} (got {by!r})")
    since_day = since_date(since)
    book = Ledger(Store(), config_mod.load(_state["config"]))
    totals = book.totals(by, since_day)
    recent = book.rows(rows) if rows else []
    if as_json:
        _emit({"by": by, "since": since_day, "totals": totals, "rows": recent})
        return
    table = _table(by, "ok", "failed", "in tok", "out tok", "cost", "latency")
    for t in totals:
        cost = _usd(t["cost_usd"]) if not t["unpriced"] else f"{_usd(t['cost_usd'] or 0)} + {t['unpriced']} unpriced"
        table.add_row(str(t["key"] or "(direct)"), str(t["ok"]), str(t["failed"]), f"{t['input_tokens']:,}", f"{t['output_tokens']:,}",
                      cost, f"{t['avg_latency_ms']:.0f} ms" if t["avg_latency_ms"] is not None else "-")
    out.print(table if totals else f"no calls since {since_day}")
    for r in recent:
        out.print(f"{time.strftime('%H:%M:%S', time.localtime(r['ts']))} {_e(r['model'])} {r['outcome']}"
                  f"{' ' + r['error_class'] if r['error_class'] else ''} {r['input_tokens']}→{r['output_tokens']} {_usd(r['cost_usd'])}")


# -- digest -------------------------------------------------------------------------------------


@app.command()
def digest(
    path: str = typer.Argument(".", help="A folder, or a git URL (https://, ssh://, git@…, file://)."),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Write here instead of stdout (parts: NAME-1.EXT, NAME-2.EXT …)."),
    fmt: str = typer.Option("text", "--format", "-f", help="text, markdown, xml or json."),
    encoding: str = typer.Option("o200k_base", "--encoding", help="o200k_base or cl100k_base."),
    max_tokens: Optional[int] = typer.Option(None, "--max-tokens", help="Split into parts of at most this many tokens."),
    include: list[str] = typer.Option([], "--include", "-i", help="Only paths matching this gitignore-style glob (repeatable)."),
    exclude: list[str] = typer.Option([], "--exclude", "-e", help="Leave out paths matching this glob (repeatable)."),
    order: str = typer.Option("path", "--order", help="path, or changes (most changed in git last)."),
    diff: bool = typer.Option(False, "--diff", help="Add the uncommitted git diff."),
    log: int = typer.Option(0, "--log", help="Add the last N commits."),
    compress: bool = typer.Option(False, "--compress", help="Keep signatures and docstrings; elide function bodies."),
    no_redact: bool = typer.Option(False, "--no-redact", help="Keep secrets as they are."),
    ref: Optional[str] = typer.Option(None, "--ref", help="Branch, tag or commit of a git URL."),
    subdir: Optional[str] = typer.Option(None, "--subdir", help="Only this folder of the source."),
    max_file_bytes: int = typer.Option(1_000_000, "--max-file-bytes", help="Skip text files larger than this."),
    as_json: bool = typer.Option(False, "--json", help="Same as --format json."),
):
    """A repository as one document for an LLM: tree, files, exact token counts."""
    from .context import digest as make_digest

    from .context.digest import FORMATS

    fmt = "json" if as_json else fmt
    if fmt not in FORMATS:
        raise TetherError(f"unknown format {fmt!r} (choose {', '.join(FORMATS)})")
    with err.status("digesting…") if sys.stderr.isatty() else contextlib.nullcontext():
        d = make_digest(path, include=include, exclude=exclude, encoding=encoding, order=order, max_file_bytes=max_file_bytes,
                        compress=compress, redact=not no_redact, git_diff=diff, git_log=log, ref=ref, subdir=subdir,
                        leave_out=[output, *output.parent.glob(f"{output.stem}-*{output.suffix}")] if output else [])
    written = []
    if max_tokens:
        parts = d.parts(fmt, max_tokens)
        for number, text in enumerate(parts, start=1):
            if output is None:
                sys.stdout.write(text)
            else:
                target = output if len(parts) == 1 else output.with_name(f"{output.stem}-{number}{output.suffix}")
                _write_text(target, text)
                written.append(str(target))
    elif output is None:
        d.write(sys.stdout, fmt)
    else:
        _write_text(output, None, d, fmt)
        written.append(str(output))
    s = d.summary()
    skipped = ", ".join(f"{n} {r}" for r, n in sorted(s["skipped"].items())) or "none"
    redacted = sum(s["redacted"].values())
    err.print(f"[dim]{s['files']} files · {s['total_tokens']:,} tokens ({encoding}) · skipped: {skipped}"
              f"{f' · {redacted} secrets redacted' if redacted else ''}{' · ' + str(len(s['lossy_files'])) + ' files with undecodable bytes' if s['lossy_files'] else ''}"
              f"{' → ' + _e(', '.join(written)) if written else ''}[/dim]")


def _write_text(target: Path, text: str | None, d=None, fmt: str = "text") -> None:
    try:
        with open(target, "w", encoding="utf-8") as handle:
            handle.write(text) if text is not None else d.write(handle, fmt)
    except OSError as e:
        raise TetherError(f"cannot write {target}: {e.strerror or e}") from None


# -- map ----------------------------------------------------------------------------------------


@app.command(name="map")
def map_(
    path: str = typer.Argument(".", help="The repository folder."),
    max_tokens: int = typer.Option(2048, "--tokens", "-t", help="Fit the map to this many tokens."),
    focus: list[str] = typer.Option([], "--focus", "-f", help="A file, folder or identifier to rank toward (repeatable)."),
    encoding: str = typer.Option("o200k_base", "--encoding"),
    as_json: bool = JsonOpt,
):
    """The repository's most important symbols, ranked by how the code uses them."""
    from .context.repomap import repo_map

    m = repo_map(path, max_tokens=max_tokens, focus=focus, encoding=encoding)
    if as_json:
        _emit(m.to_dict())
        return
    sys.stdout.write(m.text)
    err.print(f"[dim]{len(m.shown)} symbols from {len({s.path for s in m.shown})} files · {m.tokens:,} tokens ({encoding})[/dim]")


# -- search -------------------------------------------------------------------------------------


@app.command()
def search(
    query: str = typer.Argument(..., help="Words, a question, or an identifier."),
    path: str = typer.Option(".", "--path", "-p", help="The repository to search."),
    k: int = typer.Option(10, "-k", help="How many results."),
    mode: str = typer.Option("hybrid", "--mode", help="hybrid (BM25 + embeddings, fused), bm25 or vector."),
    no_embeddings: bool = typer.Option(False, "--no-embeddings", help="BM25 only: no embedding model, fastest indexing."),
    embed_seconds: float = typer.Option(60, "--embed-seconds", help="Spend at most this long embedding new chunks now (0: none; -1: all)."),
    as_json: bool = JsonOpt,
):
    """Search the repository; the index updates itself for the files that changed."""
    from .context.index import Index

    index = Index(path, embeddings=not no_embeddings)
    budget = None if embed_seconds < 0 else embed_seconds
    if sys.stderr.isatty() and not as_json:
        from rich.progress import Progress

        with Progress(transient=True, console=err) as bar:
            task = bar.add_task("embedding new chunks", total=None)
            report = index.update(progress=lambda n, total: bar.update(task, advance=n, total=total), embed_seconds=budget)
    else:
        report = index.update(embed_seconds=budget)
    hits = index.search(query, k=k, mode="bm25" if no_embeddings else mode)
    if as_json:
        _emit({"query": query, "index": report.to_dict(), "results": [h.to_dict() for h in hits]})
        return
    for h in hits:
        out.print(f"[bold]{_e(h.where)}[/bold] {_e(h.name)} [dim]{' '.join(f'{k}#{v}' for k, v in h.found_by.items())}[/dim]")
        out.print(h.snippet, markup=False, highlight=False)
        out.print()
    if not hits:
        err.print("no results")
    if report.pending:
        err.print(f"[dim]{report.pending:,} of {report.chunks:,} chunks are not embedded yet and were found by keywords only;"
                  " each search embeds more (--embed-seconds -1 does them all now)[/dim]")


# -- changes ------------------------------------------------------------------------------------

PathOpt = typer.Option(None, "--path", "-p", help="The workspace (default: the project holding this folder: its tether.toml or .git).")


@app.command()
def apply(
    reply: str = typer.Argument("-", help="A file holding a model's reply, or - for stdin."),
    path: Optional[str] = PathOpt,
    message: str = typer.Option("apply", "--message", "-m", help="What the change is, for the log."),
    as_json: bool = JsonOpt,
):
    """Apply the edit blocks of a model's reply, all or none, as one undoable change."""
    from .autonomy.change import apply_change

    try:
        text = sys.stdin.read() if reply == "-" else Path(reply).read_text(encoding="utf-8", errors="replace")
    except OSError as e:
        raise TetherError(f"cannot read {reply}: {e.strerror or e}") from None
    report, change = apply_change(_workspace(path), text, message)
    if as_json:
        _emit(report.to_dict())
    else:
        for b in report.blocks:
            status = f"[green]ok[/green] ({_e(b.how)})" if b.ok else f"[red]failed[/red]: {_e(b.error)}"
            err.print(f"block {b.block} {_e(b.path)}: {status}")
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
    from .autonomy.checkpoints import Checkpoints

    change = Checkpoints(_workspace(path)).undo()
    _emit({"undone": change.message, "files": change.files}) if as_json else out.print(f"undid “{change.message}”: {', '.join(change.files)}", markup=False)


@app.command()
def redo(path: Optional[str] = PathOpt, as_json: bool = JsonOpt):
    """Apply again the change that was last undone."""
    from .autonomy.checkpoints import Checkpoints

    change = Checkpoints(_workspace(path)).redo()
    _emit({"redone": change.message, "files": change.files}) if as_json else out.print(f"redid “{change.message}”: {', '.join(change.files)}", markup=False)


@app.command()
def log(
    run: Optional[str] = typer.Argument(None, help="A run id (or its start) to replay step by step."),
    path: Optional[str] = PathOpt,
    changes: bool = typer.Option(False, "--changes", help="List the undo history of applied changes instead of runs."),
    full: bool = typer.Option(False, "--full", help="Show prompts and outputs whole when replaying."),
    as_json: bool = JsonOpt,
):
    """Agent runs in this workspace (newest last); with a RUN id, replay it step by step."""
    from .autonomy import runlog
    from .store import Store

    if changes:
        from .autonomy.checkpoints import Checkpoints

        entries = Checkpoints(_workspace(path)).log()
        if as_json:
            _emit(entries)
            return
        for e in entries:
            state = "" if e["applied"] else " [dim](undone)[/dim]"
            out.print(f"{e['number']:>3}  {time.strftime('%Y-%m-%d %H:%M', time.localtime(e['time']))}  {_e(e['message'])}{state}  [dim]{_e(', '.join(e['files']))}[/dim]")
        if not entries:
            err.print("no changes yet")
        return
    store = Store()
    if run is not None:
        found = runlog.replay(store, run)
        if found is None:
            raise TetherError(f"no single run matches {run!r}; `tether log` lists them")
        if as_json:
            _emit({"run": found[0], "steps": found[1]})
        else:
            _replay(*found, full)
        return
    runs = runlog.runs(store, str(_workspace(path)))
    if as_json:
        _emit(runs)
        return
    for r in runs:
        out.print(f"[bold]{r['id']}[/bold]  {r['command']} --level {r['level']}  [{_STATUS_STYLE.get(r['status'], 'yellow')}]{r['status']}[/]"
                  f"  {r['steps']} steps · {r['input_tokens'] + r['output_tokens']:,} tokens · {_usd(r['cost_usd'])} · {r['seconds'] or 0:.0f}s"
                  f"\n    {_e(r['instruction'][:100])}" + (f"  [dim]→ {_e(', '.join(r['changed']))}[/dim]" if r["changed"] else ""), markup=True, highlight=False)
    if not runs:
        err.print("no runs in this workspace yet (`tether log --changes` lists applied changes)")


_STATUS_STYLE = {"done": "green", "answered": "green", "proposed": "cyan", "running": "blue"}


def _replay(run: dict, steps: list[dict], full: bool) -> None:
    out.print(f"[bold]run {run['id']}[/bold] · tether {run['command']} --level {run['level']} -m {_e(run['model'])} · {_e(run['root'])}")
    out.print(f"[bold]request:[/bold] {_e(run['instruction'])}", markup=True)
    for s in steps:
        kind = s["kind"]
        head = f"[dim]#{s['n']} {time.strftime('%H:%M:%S', time.localtime(s['ts']))}[/dim] [bold]{kind}[/bold]"
        if kind == "prompt":
            out.print(head)
            _print_text(s.get("user", ""), full, 12)
        elif kind == "reply":
            out.print(f"{head} {_e(s.get('model'))} · {s.get('input_tokens')}→{s.get('output_tokens')} tokens · {_usd(s.get('cost_usd'))}")
            _print_text(s.get("text", ""), True, 0)
        elif kind == "decision":
            verdict = s.get("verdict", "")
            out.print(f"{head} {_e(s.get('tool'))} {_e(repr(s.get('target', '')))}: [{ {'allow': 'green', 'deny': 'red'}.get(verdict, 'yellow')}]{_e(verdict)}[/] ({_e(s.get('rule'))}) {_e(s.get('reason', ''))}"
                      + (f" · taken {s['taken']}" if "taken" in s else ""))
        elif kind == "diff":
            out.print(f"{head} {'applied' if s.get('applied') else 'proposed' if s.get('applied') is None else 'not applied'}")
            _print_diff(s["diff"]) if s.get("diff") else _print_text(s.get("error", ""), True, 0)
        elif kind == "verify":
            status = "[green]ok[/green]" if s.get("code") == 0 else "[red]timed out[/red]" if s.get("code") is None else f"[red]exit {s['code']}[/red]"
            out.print(f"{head} $ {_e(s['command'])} → {status} ({s.get('seconds')}s)")
            _print_text(s.get("output", ""), full, 8, tail=True)
        elif kind == "tool":
            out.print(f"{head} {_e(s['name'])} {_e(json.dumps(s.get('args')))} → {'ok' if s.get('ok') else 'failed'}")
            _print_text(s.get("output", ""), full, 8)
        elif kind == "end":
            out.print(f"{head} [{_STATUS_STYLE.get(s['status'], 'yellow')}]{s['status']}[/]: {_e(s.get('reason', ''))}")
        else:
            out.print(f"{head} {_e(s.get('text') or json.dumps({k: v for k, v in s.items() if k not in ('n', 'ts', 'kind')}))}")


def _print_text(text: str, full: bool, lines: int, tail: bool = False) -> None:
    rows = (text or "").rstrip().splitlines()
    if not full and len(rows) > lines:
        cut = f"… {len(rows) - lines} more lines (--full shows them)"
        rows = ([cut] + rows[-lines:]) if tail else (rows[:lines] + [cut])
    for row in rows:
        out.print("    " + row, markup=False, highlight=False)


def _print_diff(diff: str) -> None:
    for line in diff.rstrip("\n").splitlines():
        style = "green" if line.startswith("+") else "red" if line.startswith("-") else "cyan" if line.startswith("@@") else "bold" if line.startswith(("diff ", "index ")) else None
        out.print(line, style=style, markup=False, highlight=False)


# -- ask and do ---------------------------------------------------------------------------------


@app.command()
def ask(
    question: str = typer.Argument(..., help="A question about the code."),
    path: Optional[str] = PathOpt,
    model: str = typer.Option("default", "--model", "-m", help="A route name or provider/model."),
    context_tokens: int = typer.Option(5000, "--context-tokens", help="How much of the repository to show the model."),
    as_json: bool = JsonOpt,
):
    """Answer a question from the code; every claim cites path:lines, and the citations are checked."""
    from .autonomy.ask import Answer, ask as ask_question

    answer = None
    root = _workspace(path)
    for item in ask_question(_grid(root), root, question, model, context_tokens):
        if isinstance(item, Answer):
            answer = item
        elif not as_json:
            sys.stdout.write(item)
            sys.stdout.flush()
    r = answer.response
    if as_json:
        _emit(answer.to_dict())
        return
    sys.stdout.write("\n")
    for c in answer.claims:
        if not c.verified:
            out.print(f"[yellow]unverified:[/yellow] {_e(c.text)} [dim]({_e('; '.join(c.problems))})[/dim]", highlight=False)
    err.print(f"[dim]{answer.verified} of {len(answer.claims)} claims verified against the cited lines · {_e(r.model)} · "
              f"{r.usage.input_tokens}→{r.usage.output_tokens} tokens · {_usd(r.cost_usd)} · run {answer.run_id}[/dim]")


@app.command(name="do")
def do(
    instruction: str = typer.Argument(..., help="What to change, in plain words."),
    level: Optional[str] = typer.Option(None, "--level", "-l", help="ask, suggest, approve, auto or agent (default: [leash] level, else approve)."),
    path: Optional[str] = PathOpt,
    model: str = typer.Option("default", "--model", "-m", help="A route name or provider/model."),
    verify: list[str] = typer.Option([], "--verify", help="A check to run after each change (repeatable; default: [verify] commands, else pytest if there are tests)."),
    max_steps: Optional[int] = typer.Option(None, "--max-steps", help="Model turns at most."),
    max_seconds: Optional[float] = typer.Option(None, "--max-seconds", help="Wall time at most."),
    max_tokens: Optional[int] = typer.Option(None, "--max-tokens", help="Tokens at most, in and out."),
    max_usd: Optional[float] = typer.Option(None, "--max-usd", help="USD at most."),
    candidates: int = typer.Option(3, "--candidates", help="At level agent: changes sampled when the checks fail; the best is kept."),
    as_json: bool = JsonOpt,
):
    """Let the agent change the code, as far as the level and the leash allow; the run is one undoable change."""
    import dataclasses

    from .autonomy.agent import Agent
    from .autonomy.leash import Leash
    from .autonomy.verify import VerifySettings

    root = _workspace(path)
    grid = _grid(root)
    grid.route(model)  # an unknown model or route is one clear error, before any run starts
    cfg = grid.config
    leash = Leash.from_config(root, cfg, level)
    limits = {"steps": max_steps, "seconds": max_seconds, "tokens": max_tokens, "usd": max_usd}
    leash.budget = dataclasses.replace(leash.budget, **{k: v for k, v in limits.items() if v is not None})
    settings = VerifySettings.from_config(cfg, root, tuple(verify) if verify else None)
    live = _LiveLine() if sys.stderr.isatty() and not as_json else None
    person = _TerminalPerson(live) if sys.stdin.isatty() and not as_json else None
    agent = Agent(grid, root, leash, model=model, verify=settings, person=person, candidates=candidates,
                  on_event=live.event if live else None)
    if not as_json:
        err.print(f"[dim]tether do · level {leash.level} · {_e(model)} · checks: {_e(', '.join(settings.commands) or 'none')} · "
                  f"limits: {leash.budget.steps} steps, {leash.budget.seconds:g}s — Ctrl-C stops at the last checkpoint[/dim]")
    try:
        result = agent.run(instruction)
    finally:
        if live:
            live.stop()
    if as_json:
        _emit(result.to_dict())
    else:
        if result.status == "proposed":
            _print_diff(result.answer)
        elif result.answer and result.status == "answered":
            out.print(result.answer, markup=False, highlight=False)
        if result.diff and not live:  # on a terminal each diff was shown as it came
            _print_diff(result.diff)
        style = _STATUS_STYLE.get(result.status, "yellow")
        err.print(f"[{style}]{result.status}[/]: {_e(result.reason)}")
        if result.changed:
            err.print(f"[dim]changed {_e(', '.join(result.changed))} · `tether undo` reverts the whole run · `tether log {result.id}` replays it[/dim]")
        err.print(f"[dim]{result.steps} steps · {result.input_tokens + result.output_tokens:,} tokens · {_usd(result.cost_usd)} · {result.seconds:.1f}s[/dim]")
    if result.exit_code:
        raise typer.Exit(result.exit_code)


class _LiveLine:
    """One status line at the bottom — step, tokens, cost, what is happening — with diffs and
    check results printed above it as they come."""

    def __init__(self):
        self.status = err.status("starting…")
        self.status.start()

    def event(self, kind: str, **data) -> None:
        if kind == "status":
            doing = data.get("doing") or "working"
            self.status.update(f"step {data['step']} · {data['tokens']:,} tokens · {_usd(data['cost'])} · {_e(doing)}")
        elif kind == "diff":
            with self.paused():
                _print_diff(data["diff"])
        elif kind == "verify":
            err.print(f"$ {_e(data['command'])} → {'[green]ok[/green]' if data['ok'] else '[red]failed[/red]'}")
        elif kind == "tool":
            err.print(f"[dim]{_e(data['name'])} {_e(data['target'])}[/dim]" + ("" if data["allowed"] else f" [red]refused[/red]: {_e(data['reason'])}"))
        elif kind == "note":
            err.print(f"[dim]{_e(data['text'])}[/dim]")

    def stop(self) -> None:
        self.status.stop()

    @contextlib.contextmanager
    def paused(self):
        """The spinner off while something else owns the terminal (a diff, a question)."""
        self.status.stop()
        try:
            yield
        finally:
            self.status.start()


class _TerminalPerson:
    """The leash's questions, asked on the terminal: y / n / edit / quit per hunk."""

    def __init__(self, live: _LiveLine | None = None):
        self.live = live

    def confirm(self, question: str) -> bool:
        with self.live.paused() if self.live else contextlib.nullcontext():
            err.print(f"[yellow]?[/yellow] {question}", markup=False)
            return self._key("[y]es / [n]o ", "yn") == "y"

    def review(self, hunks) -> list[bool] | None:
        with self.live.paused() if self.live else contextlib.nullcontext():
            return self._review(hunks)

    def _review(self, hunks) -> list[bool] | None:
        taken = []
        for n, hunk in enumerate(hunks, start=1):
            err.print(f"[bold]hunk {n} of {len(hunks)}[/bold]")
            _print_diff(hunk.text())
            key = self._key("take it? [y]es / [n]o / [e]dit / [q]uit ", "ynesq")
            if key == "q":
                return None
            if key == "e":
                hunk.new = self._edit("".join(hunk.new))
            taken.append(key in "ye")
        return taken

    @staticmethod
    def _key(prompt: str, allowed: str) -> str:
        while True:
            try:
                answer = input(prompt).strip().lower()[:1]
            except EOFError:
                return "q" if "q" in allowed else "n"
            if answer and answer in allowed:
                return answer

    @staticmethod
    def _edit(text: str) -> list[str]:
        import subprocess
        import tempfile

        with tempfile.NamedTemporaryFile("w+", suffix=".txt", delete=False) as handle:
            handle.write(text)
        try:
            subprocess.call([*os.environ.get("EDITOR", "vi").split(), handle.name])
            return Path(handle.name).read_text().splitlines(keepends=True)
        finally:
            os.unlink(handle.name)


# -- gateway ------------------------------------------------------------------------------------


@app.command()
def gateway(
    host: str = typer.Option("127.0.0.1", "--host"),
    port: int = typer.Option(8765, "--port"),
    token: Optional[str] = typer.Option(None, "--token", help="Bearer token clients must send (default: $TETHER_GATEWAY_TOKEN, else a new one)."),
    as_json: bool = JsonOpt,
):
    """An OpenAI-compatible server over tether's routes, failover and ledger."""
    from .llm.gateway import GatewayServer

    token = token or os.environ.get("TETHER_GATEWAY_TOKEN") or secrets.token_urlsafe(24)
    if host not in ("127.0.0.1", "localhost", "::1"):
        err.print(f"[yellow]warning:[/yellow] serving on {_e(host)}, reachable beyond this machine")
    try:
        server = GatewayServer(_grid(), token, host, port)
    except (OSError, OverflowError) as e:
        raise TetherError(f"cannot listen on {host}:{port}: {getattr(e, 'strerror', None) or e}") from None
    info = {"url": server.url, "token": token}
    if as_json:
        _emit(info)
    else:
        out.print(f"tether gateway on {server.url}\nOPENAI_BASE_URL={server.url} OPENAI_API_KEY={token}")
    sys.stdout.flush()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


def main() -> None:
    try:
        code = app(standalone_mode=False)  # click hands back the code of a typer.Exit here
        if isinstance(code, int) and code:
            sys.exit(code)
    except TetherError as e:
        if "--json" in sys.argv[1:]:  # a program reading --json output reads its errors as JSON too
            sys.stderr.write(json.dumps({"error": str(e), "kind": type(e).__name__, "exit": e.exit_code}) + "\n")
        else:
            err.print(f"[red]error:[/red] {_e(e)}", soft_wrap=True)
        sys.exit(e.exit_code)
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as e:  # click's usage errors and aborts
        import click

        if isinstance(e, click.exceptions.Exit):
            sys.exit(e.exit_code)
        if isinstance(e, click.ClickException):
            e.show()
            sys.exit(e.exit_code)
        if isinstance(e, click.exceptions.Abort):
            sys.exit(130)
        raise


if __name__ == "__main__":
    main()
