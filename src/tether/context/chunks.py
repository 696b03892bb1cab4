"""Cutting files into search chunks at syntax boundaries: each top-level function or class (a
large class: its header and each method), the code between them, and prose by paragraph."""

from __future__ import annotations

from dataclasses import dataclass

from .symbols import extract

MAX_LINES = 60  # a chunk longer than this is cut into pieces of this size
SMALL = 40  # neighbouring definitions are joined while together they stay this short
BIG_CLASS = 80  # a class longer than this is chunked method by method


@dataclass
class Chunk:
    path: str
    start: int  # 1-based, inclusive
    end: int
    name: str  # the symbol it defines, or "" for other code and prose
    text: str


SEARCH_RULES = "1"  # which files `searchable` keeps: an index built under other rules is rebuilt
NOT_FOR_SEARCH = (".svg", ".drawio", ".lock", "package-lock.json", "npm-shrinkwrap.json", "pnpm-lock.yaml", ".pbxproj")
LONG_LINE = 500  # characters: a file mostly of lines this long is minified, encoded or generated


def searchable(path: str, text: str) -> bool:
    """Whether a file belongs in the search index: not markup drawn by tools (SVG and kin), lock
    files, or text that only looks like text (minified, base64, one-line data) — such files match
    every word of a question and push the definitions a person wants off the first page."""
    if path.lower().endswith(NOT_FOR_SEARCH):
        return False
    long = sum(len(line) for line in text.splitlines() if len(line) > LONG_LINE)
    return long * 2 <= len(text)


def chunk_file(path: str, text: str) -> list[Chunk]:
    lines = text.splitlines()
    if not lines:
        return []
    symbols = extract(path, text)
    spans: list[tuple[int, int, str]] = []
    if symbols is not None:
        tops = _outermost(symbols.definitions)
        for d in tops:
            inner = [s for s in symbols.definitions if s.line > d.line and s.end_line <= d.end_line]
            if d.end_line - d.line + 1 > BIG_CLASS and inner:
                members = _outermost(inner)
                spans.append((d.line, members[0].line - 1, d.name))  # the class header and its docstring
                spans += [(m.line, m.end_line, f"{d.name}.{m.name}") for m in members]
            else:
                spans.append((d.line, d.end_line, d.name))
    spans = _fill_gaps(spans, len(lines), lines, prose=symbols is None)
    if symbols is not None:
        spans = _join_small(spans)  # prose keeps its headings as boundaries
    out = []
    for start, end, name in spans:
        for piece_start in range(start, end + 1, MAX_LINES):
            piece_end = min(end, piece_start + MAX_LINES - 1)
            body = "\n".join(lines[piece_start - 1 : piece_end])
            if body.strip():
                out.append(Chunk(path, piece_start, piece_end, name, body))
    return out


def _join_small(spans: list[tuple[int, int, str]]) -> list[tuple[int, int, str]]:
    """Neighbours that are each small become one chunk: a few one-line methods mean more
    together, and a large repository gets fewer chunks to embed."""
    out: list[tuple[int, int, str]] = []
    for start, end, name in spans:
        if out and end - out[-1][0] + 1 <= SMALL:
            first, _, names = out[-1]
            out[-1] = (first, end, ", ".join(n for n in (names, name) if n))
        else:
            out.append((start, end, name))
    return out


def _outermost(definitions):
    tops, last_end = [], 0
    for d in sorted(definitions, key=lambda s: (s.line, -s.end_line)):
        if d.line > last_end:
            tops.append(d)
            last_end = d.end_line
    return tops


def _fill_gaps(spans, total: int, lines: list[str], prose: bool) -> list[tuple[int, int, str]]:
    """Chunks for the lines no symbol covers: by paragraph for prose, as runs for code."""
    covered = sorted((s, e, n) for s, e, n in spans if e >= s)
    out, line = [], 1
    for start, end, name in covered + [(total + 1, total, "")]:
        if start > line:
            filled = [n for n in range(line, start) if lines[n - 1].strip()]
            if not filled:
                pass  # only blank lines
            elif not prose and len(filled) <= 3 and end >= start:
                start = filled[0]  # a few decorator or comment lines belong to the definition after them
            else:
                out += _paragraphs(line, start - 1, lines) if prose else [(line, start - 1, "")]
        if end >= start:
            out.append((start, end, name))
        line = max(line, end + 1)
    return out


def _paragraphs(first: int, last: int, lines: list[str]) -> list[tuple[int, int, str]]:
    out, start = [], first
    for n in range(first, last + 1):
        text = lines[n - 1]
        heading = text.startswith("#") and n > start
        if (heading or (not text.strip() and n - start >= 12)) and n > start:
            out.append((start, n - 1, ""))
            start = n
    out.append((start, last, ""))
    return out
