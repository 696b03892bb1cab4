"""SEARCH/REPLACE blocks: the path on its own line, then the text to find and its replacement.

Parsed out of real, messy replies: with or without code fences, prose around them, CRLF, the
path in a fence's info string or bolded, several blocks for one file (a block with no path line
of its own belongs to the file of the block before)."""

from __future__ import annotations

import re

from . import gbnf
from .model import Edit

EXAMPLE = """\
shop/cart.py
```python
<<<<<<< SEARCH
def total(items):
    return sum(i.price for i in items)
=======
def total(items):
    return round(sum(i.price for i in items), 2)
>>>>>>> REPLACE
```
"""

PROMPT = f"""\
Change files with SEARCH/REPLACE blocks. Each block starts with the real path of the file it
changes, on a line of its own. For example, to make `shop/cart.py` round its total:

{EXAMPLE}
The SEARCH part must copy lines of the file exactly, with enough of them to match one place;
the REPLACE part holds what goes there instead. Use one block per place you change. To create a
file, give its path and leave SEARCH empty.
"""


def grammar(path: str, current: str = "") -> str:
    """Replies that are SEARCH/REPLACE blocks for `path` and nothing else, in one fence."""
    fence = gbnf.fence_for(current)
    return (
        f"root ::= {gbnf.opening(path, fence)} block+ {gbnf.closing(fence)}\n"
        'block ::= "<<<<<<< SEARCH\\n" line* "=======\\n" line* ">>>>>>> REPLACE\\n"\n'
        f"line ::= {gbnf.line(fence, '<=>')}\n"
    )


_START = re.compile(r"^\s*<{5,9}\s*SEARCH\s*$", re.I)
_DIVIDER = re.compile(r"^\s*={5,9}\s*$")
_END = re.compile(r"^\s*>{5,9}\s*REPLACE\s*$", re.I)
_FENCE = re.compile(r"^\s*(`{3,}|~{3,})\s*([\w+#.-]*)\s*(.*)$")
_CLOSE = re.compile(r"^\s*(`{3,}|~{3,})\s*$")
_PATHLIKE = re.compile(r"^[\w./\\@+\-\[\]()]*[\w-]\.?[\w-]*$")  # Next.js routes have [id] and (group) folders


def parse(reply: str) -> list[Edit]:
    lines = reply.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    edits: list[Edit] = []
    last_path = ""
    n = 0
    while n < len(lines):
        if not _START.match(lines[n]):
            n += 1
            continue
        start = n
        path = _path_before(lines, n) or last_path
        search, n = _collect(lines, n + 1, _DIVIDER)
        if n >= len(lines):  # cut off before its `=======`: half a SEARCH would delete what it matched
            break
        divider = n
        replace, n = _collect(lines, n + 1, _END)
        if n >= len(lines):  # no `>>>>>>> REPLACE`: a closed fence ends the block; else the reply was cut off
            n = next((i for i in range(divider + 1, len(lines)) if _CLOSE.match(lines[i])), n)
            if n >= len(lines):
                break
            replace = "".join(line + "\n" for line in lines[divider + 1 : n])
        edits.append(
            Edit(
                path=path,
                action="replace" if search.strip() else "create",
                search=search,
                replace=replace,
                block=len(edits) + 1,
                line=start + 1,
                format="search-replace",
            )
        )
        last_path = path or last_path
        n += 1
    return edits


def _collect(lines: list[str], n: int, until: re.Pattern) -> tuple[str, int]:
    body = []
    while n < len(lines) and not until.match(lines[n]):
        body.append(lines[n])
        n += 1
    text = "\n".join(body)
    return (text + "\n" if body else ""), n


def _path_before(lines: list[str], n: int) -> str:
    """The nearest path above a block: a line of its own, a fence's info string, `**path**`."""
    for back in range(n - 1, max(-1, n - 4), -1):
        line = lines[back].strip()
        if not line:
            continue
        fence = _FENCE.match(line)
        if fence:
            rest = fence.group(3).strip() or (fence.group(2) if "/" in fence.group(2) or "." in fence.group(2) else "")
            if rest and _is_path(_clean(rest)):
                return _clean(rest)
            continue
        if _END.match(line) or _DIVIDER.match(line):
            return ""
        candidate = _clean(line)
        return candidate if _is_path(candidate) else ""
    return ""


def _clean(text: str) -> str:
    text = text.strip().strip("*`'\"<>").strip()
    text = re.sub(r"^(?:file(?:name)?|path)\s*:\s*", "", text, flags=re.I)
    text = text.rstrip(":").strip().strip("*`'\"")
    return text.lstrip("#").strip()


def _is_path(text: str) -> bool:
    return bool(text) and " " not in text and _PATHLIKE.match(text) is not None and ("." in text or "/" in text)
