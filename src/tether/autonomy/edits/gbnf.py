"""The pieces of a GBNF grammar for a reply in one edit format: with it, the embedded model can
only sample a reply its parser takes — the path it may write, one fence, nothing after it."""

from __future__ import annotations


def literal(text: str) -> str:
    """`text` as a GBNF string."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r").replace("\t", "\\t")
    return f'"{escaped}"'


def fence_for(text: str) -> str:
    """The fence a file is shown in (by the brief) and written back in (under the grammar): longer
    than any ``` the file holds."""
    return "````" if "```" in text else "```"


def opening(path: str, fence: str) -> str:
    """The path on its own line, then the fence and any info string (python, …)."""
    return f'{literal(path + chr(10) + fence)} [a-zA-Z0-9+#._]* "\\n"'


def line(fence: str, markers: str = "") -> str:
    """One line of a fenced body, its newline included. It cannot begin like the closing fence
    (two backticks, which a model used to slip past a closing fence it was denied), nor with two
    of `markers` (so it is never read as a SEARCH/REPLACE marker line). Inside a longer fence, a
    line may be an inner ``` fence, as in a Markdown file."""
    alternatives = [f"[^`{_cls(markers)}\\n] [^\\n]*", '"`" [^`\\n] [^\\n]*']
    if markers:
        alternatives.append(f"[{_cls(markers)}] [^{_cls(markers)}\\n] [^\\n]*")
    if len(fence) > 3:
        alternatives.append('"```" [^`\\n]*')
    return f'({" | ".join(alternatives)})? "\\n"'


def closing(fence: str) -> str:
    """The closing fence and at most its newline; then only the end of the reply can follow
    (allowing more blank space, a model that wanted to go on in prose wrote 1,000 newlines)."""
    return f'{literal(fence)} "\\n"?'


def _cls(chars: str) -> str:
    return "".join("\\" + c if c in "]\\^-" else c for c in chars)
