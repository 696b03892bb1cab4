"""Code as a person reads it in review: coloured by Pygments on the server (no script from
elsewhere; its regex lexers run through fastlex), the words that changed inside a line marked, numbered on both sides.

Every character of a file is escaped here; the markup added is only `<i class="…">` (a token's
kind) and `<mark>`, so the page may put these rows in as HTML. Text from the repository is never markup."""

from __future__ import annotations

import difflib
import html
import re
from dataclasses import dataclass
from functools import lru_cache

from pygments.lexer import Lexer
from pygments.lexers import get_lexer_for_filename
from pygments.lexers.special import TextLexer
from pygments.token import Comment, Keyword, Name, Number, Operator, String, _TokenType

from ..autonomy.edits import hunks as hunk_mod
from ..autonomy.edits.hunks import Hunk
from . import colourer, fastlex

__all__ = ["FileView", "Row", "colour", "file_lines", "hunk_rows", "word_changes"]

# token kind -> the class the stylesheet colours (the first that contains it wins): one letter,
# since a 2,000-line review carries one per token (k keyword, s string, c comment, n number,
# f function, t class, b builtin, o operator)
_KINDS = [
    (Comment, "c"),
    (String, "s"),
    (Number, "n"),
    (Keyword, "k"),
    (Name.Function, "f"),
    (Name.Class, "t"),
    (Name.Decorator, "f"),
    (Name.Builtin, "b"),
    (Operator.Word, "k"),
    (Operator, "o"),
]
_WORD = re.compile(r"\w+|\s+|[^\w\s]")
MAX_COLOURED = 2_000_000  # characters: a bigger file is shown plain (escaped) rather than slowly
MAX_MARKED = 4_000  # characters of a pair of lines whose changed words are marked
_BIDI = re.compile("[\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c]")  # controls that reorder what is shown (Trojan Source)
MAX_CACHED = 400_000  # characters of a file the file view keeps coloured (8 at most)


@lru_cache(maxsize=4096)
def _kind(token: _TokenType) -> str:
    return next((name for kind, name in _KINDS if token in kind), "")


@lru_cache(maxsize=256)
def _lexer(suffix: str) -> Lexer:
    try:
        return get_lexer_for_filename("x" + suffix, stripnl=False, ensurenl=False)
    except Exception:  # pygments' ClassNotFound, or a lexer that fails to build: plain text
        return TextLexer(stripnl=False, ensurenl=False)


def _suffix(path: str) -> str:
    name = path.rsplit("/", 1)[-1]
    return name[name.rfind(".") :] if "." in name.lstrip(".") else name


def colour(path: str, text: str) -> list[list[tuple[str, str]]]:
    """Each line of `text` as (kind, text) pieces; the lexer is chosen by the file's name."""
    lines: list[list[tuple[str, str]]] = [[]]
    text = text.replace("\r\n", "\n")
    if len(text) > MAX_COLOURED:
        pieces = [("", text)]
    else:
        pieces = [(_kind(token), value) for _, token, value in fastlex.tokens(_lexer(_suffix(path)), text)]
    for kind, value in pieces:
        first, *rest = value.split("\n")
        if first and lines[-1] and lines[-1][-1][0] == kind:  # one span for a run of one kind
            lines[-1][-1] = (kind, lines[-1][-1][1] + first)
        elif first:
            lines[-1].append((kind, first))
        for part in rest:
            lines.append([(kind, part)] if part else [])
    if lines and not lines[-1] and text.endswith("\n"):
        lines.pop()
    return lines


def file_lines(path: str, text: str) -> tuple[str, ...]:
    """Each line of a whole file as markup, for the file view: a file opened again (a citation
    followed, the back button) is coloured once."""
    if len(text) > MAX_CACHED:  # not kept: the cache stays a few MB however big the files opened
        return _markup(path, text)
    return _file_lines(_suffix(path), text)


@lru_cache(maxsize=8)
def _file_lines(suffix: str, text: str) -> tuple[str, ...]:
    return _markup("x" + suffix, text)


def _markup(path: str, text: str) -> tuple[str, ...]:
    """Each line's markup, made in the colouring process; plain (escaped) where it ran out of time."""
    done = colourer.colour_many([(path, text)], html=True)[0]
    return tuple(done if done is not None else (line_html(p) for p in _plain(text)))


def _safely(items: list[tuple[str, str]]) -> list[list[list[tuple[str, str]]]]:
    """`colour` in the colouring process, with its time limit (see colourer); plain where it ran out."""
    done = colourer.colour_many(items)
    return [lines if lines is not None else _plain(text) for (_, text), lines in zip(items, done, strict=True)]


def _plain(text: str) -> list[list[tuple[str, str]]]:
    lines = text.replace("\r\n", "\n").split("\n")
    if len(lines) > 1 and not lines[-1]:
        lines.pop()
    return [[("", line)] if line else [] for line in lines]


def _coloured(path: str, texts: list[str]) -> list[list[list[tuple[str, str]]]]:
    """Each text coloured, one entry per line as the hunks count lines; where they count otherwise (a
    form feed or a lone carriage return ends a line for them), each line plain."""
    out = []
    for text, pieces in zip(texts, _safely([(path, t) for t in texts]), strict=True):
        lines = text.splitlines()
        out.append(pieces if len(pieces) == len(lines) else [[("", line)] if line else [] for line in lines])
    return out


def word_changes(old: str, new: str) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    """The spans (start, end) that differ between two versions of a line, by word; none where the
    lines share too little for marks to help (the whole line is the change)."""
    if len(old) + len(new) > MAX_MARKED:  # word by word is quadratic: a minified line is marked whole
        return [], []
    a, b = _WORD.findall(old), _WORD.findall(new)
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    if matcher.ratio() < 0.4:
        return [], []
    starts_a, starts_b = _starts(a), _starts(b)
    gone, came = [], []
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag != "equal":
            if i2 > i1:
                gone.append((starts_a[i1], starts_a[i2]))
            if j2 > j1:
                came.append((starts_b[j1], starts_b[j2]))
    return gone, came


def _starts(words: list[str]) -> list[int]:
    out, at = [], 0
    for w in words:
        out.append(at)
        at += len(w)
    return [*out, at]


def line_html(pieces: list[tuple[str, str]], marks: list[tuple[int, int]] = ()) -> str:  # type: ignore[assignment]
    """One line's markup: each piece in its token class, the changed spans inside <mark>."""
    out, at = [], 0
    cuts = sorted({c for span in marks for c in span})
    for kind, text in pieces:
        end = at + len(text)
        bounds = [at, *(c for c in cuts if at < c < end), end]
        for lo, hi in zip(bounds, bounds[1:], strict=False):
            part = html.escape(text[lo - at : hi - at]).replace("\r", "")  # a carriage return would end the row on the page
            part = _BIDI.sub(lambda c: f'<b class="ctl" title="a control character that reorders text">U+{ord(c.group()):04X}</b>', part)
            if any(s <= lo and hi <= e for s, e in marks):
                part = f"<mark>{part}</mark>"
            out.append(f'<i class="{kind}">{part}</i>' if kind else part)
        at = end
    return "".join(out)


@dataclass
class Row:
    """One row of a diff: ' ' context, '-' removed, '+' added; the line's number on each side."""

    sign: str
    old: int | None
    new: int | None
    html: str

    def to_list(self) -> list:
        return [self.sign, self.old, self.new, self.html]


class FileView:
    """One file of a review: its old text and the new one with every hunk taken, each coloured
    once as a whole (a string that opens above a hunk colours its lines right)."""

    def __init__(self, path: str, before: str | None, hunks: list[Hunk]):
        self.path, self.hunks = path, hunks
        old_text = before or ""
        self.old_lines = old_text.splitlines(keepends=True)
        self.old, self.new = _coloured(path, [old_text, hunk_mod.combine(before, hunks, [True] * len(hunks))])
        self.shift = []  # per hunk: new line number minus old line number at its start
        moved = 0
        for h in hunks:
            self.shift.append(moved)
            moved += len(h.new) - len(h.old)

    def matches(self) -> bool:
        """Whether the hunks' old lines are the text this view holds (the file may have changed)."""
        return all(self.old_lines[h.start : h.start + len(h.old)] == h.old for h in self.hunks)

    def context(self, start: int, end: int, shift: int) -> list[Row]:
        """Unchanged old lines start..end (0-based, end excluded) as context rows."""
        start, end = max(0, start), min(end, len(self.old))
        return [Row(" ", n + 1, n + 1 + shift, line_html(self.old[n])) for n in range(start, end)]

    def rows(self, n: int) -> list[Row]:
        h, shift = self.hunks[n], self.shift[n]
        first_new = h.start + shift
        gone = [self.old[h.start + i] for i in range(len(h.old))]
        came = [self.new[first_new + i] for i in range(len(h.new))]
        return [
            *self.context(h.start - len(h.before), h.start, shift),
            *_changed(h, gone, came, first_new),
            *self.context(h.start + len(h.old), h.start + len(h.old) + len(h.after), shift + len(h.new) - len(h.old)),
        ]


def _changed(h: Hunk, gone: list, came: list, first_new: int) -> list[Row]:
    """The removed then the added lines; where a removed line was rewritten (the same count on
    both sides, or a close pair), the words that changed are marked."""
    old_text = [line.rstrip("\n") for line in h.old]
    new_text = [line.rstrip("\n") for line in h.new]
    marks_old: dict[int, list] = {}
    marks_new: dict[int, list] = {}
    pairs = difflib.SequenceMatcher(None, old_text, new_text, autojunk=False).get_opcodes()
    for tag, i1, i2, j1, j2 in pairs:
        if tag == "replace":
            for i, j in zip(range(i1, i2), range(j1, j2), strict=False):
                marks_old[i], marks_new[j] = word_changes(old_text[i], new_text[j])
    removed = [Row("-", h.start + 1 + i, None, line_html(gone[i], marks_old.get(i, []))) for i in range(len(gone))]
    added = [Row("+", None, first_new + 1 + j, line_html(came[j], marks_new.get(j, []))) for j in range(len(came))]
    return removed + added


def hunk_rows(h: Hunk) -> list[Row]:
    """A hunk alone (its file not at hand, or changed since): coloured from its own lines."""
    view = FileView(h.path, "".join(h.before + h.old + h.after), [_shifted(h)])
    rows = view.rows(0)
    offset = h.start - len(h.before)
    return [Row(r.sign, r.old and r.old + offset, r.new and r.new + offset, r.html) for r in rows]


def _shifted(h: Hunk) -> Hunk:
    return Hunk(h.path, len(h.before), h.old, h.new, h.before, h.after)
