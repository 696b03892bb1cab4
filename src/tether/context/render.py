"""How a digest is written out: its files as text, Markdown, XML or JSON blocks, a head with the
tree and the totals, and parts that each fit a token budget."""

from __future__ import annotations

import json
import re
from pathlib import PurePosixPath
from typing import TYPE_CHECKING

from ..errors import TetherError
from .syntax import language_of

if TYPE_CHECKING:
    from .digest import Digest, DigestFile

FORMATS = ("text", "markdown", "xml", "json")
_RULE = "=" * 48


def _chunks(d: Digest, fmt: str, files: list[DigestFile], include_head: bool):
    if fmt not in FORMATS:
        raise TetherError(f"unknown format {fmt!r} (choose {', '.join(FORMATS)})")
    if fmt == "json":  # one object, written file by file
        yield json.dumps(d.to_dict(), ensure_ascii=False)[:-1] + ', "files": ['
        for i, f in enumerate(files):
            item = {"path": f.path, "tokens": f.tokens, "binary": f.binary, "content": f.text}
            yield ("," if i else "") + "\n" + json.dumps(item, ensure_ascii=False)
        yield "\n]}\n"
        return
    if fmt == "xml":
        yield "<digest>\n"
    if include_head:
        yield _head(d, fmt)
    for f in files:
        yield _block(f, fmt)
    if include_head:
        for name, text in d.sections.items():
            yield _section(name, text, fmt)
    if fmt == "xml":
        yield "</digest>\n"


def _head(d: Digest, fmt: str) -> str:
    s = d.summary()
    facts = (
        f"{s['files']} files, {s['total_tokens']:,} tokens ({d.encoding}); skipped: "
        + (", ".join(f"{n} {r}" for r, n in sorted(s["skipped"].items())) or "none")
        + ("; secrets redacted: " + ", ".join(f"{n} {k}" for k, n in sorted(s["redacted"].items())) if s["redacted"] else "")
    )
    if fmt == "markdown":
        return f"# Digest of {d.source}\n\n{facts}\n\n## Tree\n\n```\n{d.tree()}\n```\n\n## Files\n\n"
    if fmt == "xml":
        return f"<summary>{escape(facts)}</summary>\n<tree>\n{escape(d.tree())}\n</tree>\n"
    return f"Digest of {d.source}\n{facts}\n\nDirectory structure:\n{d.tree()}\n\n"


def _block(f: DigestFile, fmt: str) -> str:
    body = "(binary file, not inlined)" if f.binary else f.text
    if body and not body.endswith("\n"):
        body += "\n"
    if fmt == "markdown":
        fence = "`" * max(3, _longest_run(body, "`") + 1)
        hint = language_of(f.path) or PurePosixPath(f.path).suffix.lstrip(".")
        return f"### {f.path}\n\n{fence}{hint}\n{body}{fence}\n\n"
    if fmt == "xml":
        return f'<file path={quoteattr(f.path)} tokens="{f.tokens}">{escape(body)}</file>\n'
    return f"{_RULE}\nFILE: {f.path}\n{_RULE}\n{body}\n"


def _section(name: str, text: str, fmt: str) -> str:
    if fmt == "markdown":
        fence = "`" * max(3, _longest_run(text, "`") + 1)
        return f"## {name}\n\n{fence}\n{text}\n{fence}\n\n"
    if fmt == "xml":
        tag = name.replace(" ", "_")
        return f"<{tag}>\n{escape(text)}\n</{tag}>\n"
    return f"{_RULE}\n{name.upper()}\n{_RULE}\n{text}\n\n"


def _part_marker(fmt: str, number: int, total: int) -> str:
    if fmt == "xml":
        return f"<!-- part {number} of {total} -->\n"
    return f"(part {number} of {total})\n\n"


def escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def quoteattr(text: str) -> str:
    return '"' + escape(text).replace('"', "&quot;") + '"'


def _longest_run(text: str, char: str) -> int:
    if char * 3 not in text:
        return 0
    return max((len(run) for run in re.findall(re.escape(char) + "+", text)), default=0)
