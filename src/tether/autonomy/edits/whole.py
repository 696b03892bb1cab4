"""Whole files: the path on its own line (or in the fence's info string), then the complete new
content in a fence. Only a block whose path line stands right above the fence counts, so an
example snippet in prose is never taken for a file."""

from __future__ import annotations

import re

from .model import Edit
from .search_replace import _FENCE, _clean, _is_path

PROMPT = """\
To change a file, give its path exactly as the workspace shows it, on a line of its own, then
its complete new content in a fence, e.g. for {example}:

{example}
```{language}
the whole file, every line of it
```

Never shorten a file with comments such as "rest unchanged": what you write replaces it all.
"""


def prompt(example: str = "src/app.py") -> str:
    """The prompt, its example naming a real file: small models copy the example's path."""
    return PROMPT.format(example=example, language="python" if example.endswith(".py") else "")


_LAZY = re.compile(r"^\s*(#|//|/\*|<!--)?\s*\.\.\.\s*(rest|remaining|existing|unchanged|same)", re.I)


def parse(reply: str) -> list[Edit]:
    lines = reply.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    edits: list[Edit] = []
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
        body = lines[n + 1:end]
        if path and not any(_LAZY.match(line) for line in body) and not any(line.lstrip().startswith("<<<<<<<") for line in body):
            edits.append(Edit(path, "write", replace="\n".join(body) + "\n" if body else "", block=len(edits) + 1, line=n + 1, format="whole"))
        n = end + 1
    return edits
