"""What the model sees of the repository before its first step, fitted to a token budget.

A small workspace goes in whole. In a larger one, a request that names what it is about — a file,
or a symbol the index finds defined — gets just that (the files whole where they are small, else
the definitions) and a short repo map: on the embedded model every prompt token is read at ~100 a
second, and a 5-line change to a 10-line file in Textualize/rich read 4,116 tokens of search hits
and map it did not need. Any other request gets, in this order while they fit: the files it names,
the files search finds for it, then the repo map with what is left. Counts are exact (o200k);
everything is fenced as untrusted data."""

from __future__ import annotations

import re
from pathlib import Path

from ...context import tokens
from ...context.symbols import named_in
from ...context.walk import walk
from ...redaction import redact_file
from ..edits.gbnf import fence_for
from ..guard.untrusted import Fence

MAX_FILE_TOKENS = 6000  # a file bigger than this is shown by its search hits only
READ_ONLY_TOKENS = 250  # a file the run may not write is shown up to here (its head: imports, the first cases)
FOCUS_FILE_TOKENS = 1500  # a file a focused request is about is shown whole up to here, else by its definitions
FOCUS_MAP_TOKENS = 300  # the repo map beside a focused request's files: the names it may use, not the whole tree


def brief(root: Path, request: str, fence: Fence, budget: int, search=None, writable=None, found=None, definitions=None) -> tuple[str, str]:
    """The workspace, and apart from it the files the run may change where the whole workspace fits
    (else ""): the caller puts those after the request, so a prompt rebuilt after a change (a second
    try, a fresh sample) keeps everything before them — system, the other files, the request — as
    the model's cached prefix. `search(query)` returns hits with .path, .start, .end and .where (the
    agent's index); files that `writable(path)` refuses are marked read-only; `found` is a walk
    of `root` the caller made; `definitions(name)` returns hits where a symbol is defined."""
    found = found or walk(root)
    texts: dict[str, str] = {}
    for f in found.files:
        if not f.binary and f.size < 200_000:
            try:
                texts[f.path] = redact_file(root / f.path, (root / f.path).read_text(encoding="utf-8", errors="replace"))[0]
            except OSError:
                continue
    sizes = {p: tokens.count(t) for p, t in texts.items()}
    parts: list[str] = []
    used = 0

    def add(block: str, cost: int | None = None) -> bool:
        nonlocal used
        cost = tokens.count(block) if cost is None else cost
        if used + cost > budget:
            return False
        parts.append(block)
        used += cost
        return True

    if writable is not None:  # on a small model every prompt token is read at ~90 a second: show less of what cannot change
        for path in texts:
            if sizes[path] > READ_ONLY_TOKENS and not writable(path):
                texts[path] = _head(texts[path], READ_ONLY_TOKENS, path)
                sizes[path] = tokens.count(texts[path])
    if sum(sizes.values()) + 20 * len(sizes) <= budget:
        own = [p for p in sorted(texts) if writable is not None and writable(p)]
        for path in sorted(texts):
            if path not in own:
                add(file_block(path, texts[path], fence, writable))
        return _join(parts, len(texts), len(texts), bool(own)), "\n\n".join(file_block(p, texts[p], fence, writable) for p in own)
    wanted = [p for p in texts if _named(p, request)]
    defining = [h for name in named_in(request) for h in (definitions(name)[:2] if definitions else []) if h.path in texts]
    if wanted or defining:
        return _focused(root, texts, sizes, wanted, defining, fence, writable, add, parts, budget - used)
    hits = search(request) if search else []
    for path in wanted + [h.path for h in hits if h.path not in wanted]:
        if sizes.get(path, MAX_FILE_TOKENS + 1) <= MAX_FILE_TOKENS and not any(f'source="{path}"' in p for p in parts):
            add(file_block(path, texts[path], fence, writable), sizes[path] + 20)
    for h in hits:
        if h.path in texts and not any(f'source="{h.path}"' in p for p in parts):
            lines = texts[h.path].splitlines(keepends=True)
            add(fence.wrap(h.where, "".join(lines[h.start - 1 : min(h.end, h.start + 80)])))
    left = budget - used
    if left > 200:
        from ...context.repomap import repo_map

        m = repo_map(root, max_tokens=left - 50, focus=wanted)
        if m.text:
            add(fence.wrap("repository map", m.text), m.tokens + 30)
    return _join(parts, sum(1 for p in parts if "source=" in p), len(texts)), ""


def _focused(root: Path, texts: dict, sizes: dict, wanted: list[str], defining: list, fence: Fence, writable, add, parts, left: int):
    """What a request that names its files or symbols needs: those files (whole where small, else
    the definitions it names, else their outline) and a repo map of FOCUS_MAP_TOKENS at most."""
    from ...context.symbols import outline

    whole = [p for p in dict.fromkeys([*wanted, *(h.path for h in defining)]) if sizes[p] <= FOCUS_FILE_TOKENS]
    for path in whole:
        add(file_block(path, texts[path], fence, writable), sizes[path] + 20)
    for h in defining:
        if h.path not in whole:
            lines = texts[h.path].splitlines(keepends=True)
            add(fence.wrap(h.where, "".join(lines[h.start - 1 : min(h.end, h.start + 80)])))
    for path in wanted:
        if path not in whole and not any(h.path == path for h in defining):
            add(fence.wrap(f"{path} (outline)", outline(path, texts[path]) or _head(texts[path], READ_ONLY_TOKENS, path)))
    from ...context.repomap import repo_map

    m = repo_map(root, max_tokens=min(FOCUS_MAP_TOKENS, left), focus=[*wanted, *(h.path for h in defining)])
    if m.text:
        add(fence.wrap("repository map", m.text), m.tokens + 30)
    return _join(parts, sum(1 for p in parts if "source=" in p), len(texts)), ""


def _head(text: str, limit: int, path: str) -> str:
    lines, used = text.splitlines(keepends=True), 0
    for n, line in enumerate(lines):
        used += tokens.count(line)
        if used > limit:
            return "".join(lines[:n]) + f"… ({len(lines) - n} more lines; read_file {path} start={n + 1} shows them)\n"
    return text


def file_block(path: str, text: str, fence: Fence, writable=None, label: str = "") -> str:
    """A file as a model writes one back (its path, then its text in a fence), fenced as data."""
    mark = fence_for(text)
    label = label or (path if writable is None or writable(path) else f"{path} (read-only)")
    ending = "" if text.endswith("\n") else "\n"
    return fence.wrap(path, f"{label}\n{mark}{_LANG.get(path.rsplit('.', 1)[-1], '')}\n{text}{ending}{mark}")


_LANG = {
    "py": "python",
    "js": "javascript",
    "ts": "typescript",
    "go": "go",
    "rs": "rust",
    "java": "java",
    "c": "c",
    "cpp": "cpp",
    "md": "markdown",
    "toml": "toml",
    "json": "json",
    "sh": "bash",
    "yml": "yaml",
    "yaml": "yaml",
}


def _named(path: str, request: str) -> bool:
    """Whether the request names the file: its path or its name as a word of its own (a file
    called `the` or `rea` is not named by "the Region class's area")."""
    name = path.rsplit("/", 1)[-1]
    return (
        any(re.search(rf"(?<![\w./-]){re.escape(n)}(?![\w/-])", request) for n in (path, name))
        and (
            "." in name
            or "/" in path
            or f"`{name}`" in request  # `build`, not `the`; Makefile, not the verb that opens "Fix the …"
            or name[:1].isupper()
            and re.search(rf"(?<=[\w,;:] ){re.escape(name)}(?![\w/-])", request) is not None
        )
    )


def _join(parts: list[str], shown: int, total: int, apart: bool = False) -> str:
    whole = "all of them, those you may change after the request" if apart else "all of them"
    head = f"The workspace ({total} text files; what follows is {whole if shown >= total else 'the most relevant part'}):"
    return head + "\n\n" + "\n\n".join(parts)
