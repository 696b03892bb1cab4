"""Whole files: the path on its own line (or in the fence's info string), then the complete new
content in a fence. Only a block whose path line stands right above the fence counts, so an
example snippet in prose is never taken for a file."""

from __future__ import annotations

import re

from . import gbnf
from .model import Edit
from .search_replace import _FENCE, _clean, _is_path

PROMPT = """\
To change a file, give its path exactly as the workspace shows it, on a line of its own, then
its complete new content in a fence, e.g. for {example}:

{example}
```{language}
the whole file, every line of it
```

{shorter}
"""

SHORTER = {
    "": 'Never shorten a file with comments such as "rest unchanged": what you write replaces it all.',
    "python": "In a Python file you may write only the functions and classes you change instead, each complete\n"
    "(a method under its class line): the ones you leave out stay as they are.",
}


def prompt(example: str = "src/app.py") -> str:
    """The prompt, its example naming a real file: small models copy the example's path. For a
    Python file a reply may hold just the definitions it changes (splice.py puts them in)."""
    language = "python" if example.endswith(".py") else ""
    return PROMPT.format(example=example, language=language, shorter=SHORTER[language])


def grammar(path: str, current: str = "") -> str:
    """Replies that are exactly one whole file for `path` (its `current` text picks the fence)."""
    fence = gbnf.fence_for(current)
    return f"root ::= {gbnf.opening(path, fence)} line* {gbnf.closing(fence)}\nline ::= {gbnf.line(fence)}\n"


_LAZY = re.compile(r"^\s*(#|//|/\*|<!--)?\s*\.\.\.\s*(rest|remaining|existing|unchanged|same)", re.I)


def parse(reply: str) -> list[Edit]:
    edits: list[Edit] = []
    for line, path, body in _blocks(reply):
        if path and _complete(body):
            edits.append(Edit(path, "write", replace=_text(body), block=len(edits) + 1, line=line, format="whole"))
    return edits


def bare(reply: str, path: str) -> list[Edit]:
    """A reply whose one fenced block has no path line, taken for `path` — the only file the run
    may write. Small models often drop the path line (qwen2.5-coder-1.5b did, and lost a task)."""
    blocks = list(_blocks(reply))
    if len(blocks) != 1 or blocks[0][1] or not _complete(blocks[0][2]) or not any(x.strip() for x in blocks[0][2]):
        return []
    line, _, body = blocks[0]
    return [Edit(path, "write", replace=_text(body), block=1, line=line, format="whole")]


def _blocks(reply: str):
    """(line number, path or "", body lines) of each fenced block."""
    lines = reply.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    n = 0
    while n < len(lines):
        opening = _FENCE.match(lines[n])
        if not opening:
            n += 1
            continue
        fence = opening.group(1)
        info = opening.group(3).strip()
        path = _clean(info) if info and _is_path(_clean(info)) else ""
        if not path and n > 0 and _is_path(_clean(lines[n - 1])) and lines[n - 1].strip():
            path = _clean(lines[n - 1])
        end = n + 1
        while end < len(lines) and not lines[end].strip().startswith(fence):
            end += 1
        if end >= len(lines):  # the fence never closes: the reply was cut off, and half a file is no edit
            return
        yield n + 1, path, lines[n + 1 : end]
        n = end + 1


def _complete(body: list[str]) -> bool:
    """Not a sketch ("... rest unchanged") and not a conflict's markers."""
    return not any(_LAZY.match(line) or line.lstrip().startswith("<<<<<<<") for line in body)


def _text(body: list[str]) -> str:
    return "\n".join(body) + "\n" if body else ""
