"""Context engineering: digest, map, search."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import typer

from ..errors import TetherError
from ._shared import JsonOpt, PathOpt, app, e, emit, err, out, waiting, workspace


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
    from ..context import digest as make_digest
    from ..context.render import FORMATS

    fmt = "json" if as_json else fmt
    if fmt not in FORMATS:
        raise TetherError(f"unknown format {fmt!r} (choose {', '.join(FORMATS)})")
    with waiting("digesting…"):
        d = make_digest(
            path,
            include=include,
            exclude=exclude,
            encoding=encoding,
            order=order,
            max_file_bytes=max_file_bytes,
            compress=compress,
            redact=not no_redact,
            git_diff=diff,
            git_log=log,
            ref=ref,
            subdir=subdir,
            leave_out=[output, *output.parent.glob(f"{output.stem}-*{output.suffix}")] if output else [],
        )
    written = []
    if output is not None:
        written = d.save(output, fmt, max_tokens)
    elif max_tokens:
        for text in d.parts(fmt, max_tokens):
            sys.stdout.write(text)
    else:
        d.write(sys.stdout, fmt)
    s = d.summary()
    skipped = ", ".join(f"{n} {r}" for r, n in sorted(s["skipped"].items())) or "none"
    redacted = sum(s["redacted"].values())
    err.print(
        f"[dim]{s['files']} files · {s['total_tokens']:,} tokens ({encoding}) · skipped: {skipped}"
        f"{f' · {redacted} secrets redacted' if redacted else ''}"
        f"{' · ' + str(len(s['lossy_files'])) + ' files with undecodable bytes' if s['lossy_files'] else ''}"
        f"{' → ' + e(', '.join(written)) if written else ''}[/dim]"
    )


@app.command(name="map")
def map_(
    path: str = typer.Argument(".", help="The repository folder."),
    max_tokens: int = typer.Option(2048, "--tokens", help="Fit the map to this many tokens."),
    focus: list[str] = typer.Option([], "--focus", help="A file, folder or identifier to rank toward (repeatable)."),
    encoding: str = typer.Option("o200k_base", "--encoding"),
    as_json: bool = JsonOpt,
):
    """The repository's most important symbols, ranked by how the code uses them."""
    from ..context.repomap import repo_map

    m = repo_map(path, max_tokens=max_tokens, focus=focus, encoding=encoding)
    if as_json:
        emit(m.to_dict())
        return
    sys.stdout.write(m.text)
    err.print(f"[dim]{len(m.shown)} symbols from {len({s.path for s in m.shown})} files · {m.tokens:,} tokens ({encoding})[/dim]")


@app.command()
def search(
    query: str = typer.Argument(..., help="Words, a question, or an identifier."),
    path: Optional[str] = PathOpt,
    k: int = typer.Option(10, "-k", help="How many results."),
    mode: str = typer.Option("hybrid", "--mode", help="hybrid (BM25 + embeddings, fused), bm25 or vector."),
    no_embeddings: bool = typer.Option(False, "--no-embeddings", help="BM25 only: no embedding model, fastest indexing."),
    embed_seconds: float = typer.Option(60, "--embed-seconds", help="Spend at most this long embedding new chunks now (0: none; -1: all)."),
    as_json: bool = JsonOpt,
):
    """Search the repository; the index updates itself for the files that changed."""
    from ..context.index import Index

    index = Index(workspace(path), embeddings=not no_embeddings)
    budget = None if embed_seconds < 0 else embed_seconds
    mode = "bm25" if no_embeddings else mode
    if sys.stderr.isatty() and not as_json:
        from rich.progress import Progress

        with Progress(transient=True, console=err) as bar:
            task = bar.add_task("embedding new chunks", total=None)
            found = index.find(query, k, mode, budget, progress=lambda n, total: bar.update(task, advance=n, total=total))
    else:
        found = index.find(query, k, mode, budget)
    if as_json:
        emit(found.to_dict())
        return
    hits, report = found.hits, found.index
    for h in hits:
        out.print(f"[bold]{e(h.where)}[/bold] {e(h.name)} [dim]{' '.join(f'{k}#{v}' for k, v in h.found_by.items())}[/dim]")
        out.print(h.snippet, markup=False, highlight=False)
        out.print()
    if not hits:
        err.print("no results")
    if report.pending:
        err.print(
            f"[dim]{report.pending:,} of {report.chunks:,} chunks are not embedded yet and were found by keywords only;"
            " each search embeds more (--embed-seconds -1 does them all now)[/dim]"
        )


@app.command(name="llms-txt")
def llms_txt(
    docs: Path = typer.Argument(..., help="A folder of Markdown, reStructuredText or HTML pages."),
    output: Path = typer.Option(..., "--output", "-o", help="The folder to write llms.txt, llms-full.txt and the Markdown twins to."),
    title: Optional[str] = typer.Option(None, "--title", help="The H1 (default: the index page's title)."),
    summary: Optional[str] = typer.Option(None, "--summary", help="The blockquote (default: the index page's first sentence)."),
    base_url: str = typer.Option("", "--base-url", help="Where the twins will be served (default: links relative to llms.txt)."),
    max_tokens: Optional[int] = typer.Option(None, "--max-tokens", help="Split llms-full.txt into parts of at most this many tokens."),
    strict: bool = typer.Option(False, "--strict", help="Fail when a link between pages leads nowhere."),
    as_json: bool = JsonOpt,
):
    """Write llms.txt for a docs folder: the index, a Markdown twin of every page, and llms-full.txt."""
    from ..context.llmstxt import build

    site = build(docs, out=output, title=title, summary=summary, base_url=base_url, max_tokens=max_tokens)
    written = site.save(output.resolve(), docs.resolve())
    if as_json:
        emit({**site.to_dict(), "written": written})
    else:
        out.print(
            f"{len(site.pages)} pages · {site.total_tokens:,} tokens · llms.txt {len(site.text):,} characters"
            f" · llms-full in {len(site.full)} part(s) → {output}",
            markup=False,
        )
        for page, link in site.broken:
            err.print(f"[yellow]broken link[/yellow] in {e(page)}: {e(link)}")
    if strict and site.broken:
        raise typer.Exit(1)
