"""A proposed change to one file cut into hunks, so a person can take some and leave others.

Each hunk is a run of changed lines with its place in the old text; any subset of the hunks
(possibly edited by hand) rebuilds a consistent new text, because hunks never overlap."""

from __future__ import annotations

import difflib
import hashlib
from dataclasses import dataclass

from ...errors import TetherError


@dataclass
class Hunk:
    path: str
    start: int  # 0-based first old line replaced
    old: list[str]  # the old lines replaced (keepends)
    new: list[str]  # what replaces them (keepends)
    before: list[str]  # up to 3 unchanged lines of context before, for showing
    after: list[str]
    edited: bool = False  # a person's text replaced the model's

    def edit(self, text: str) -> None:
        """A person's own text in place of the new lines (empty: the hunk deletes its old lines);
        a last line without its newline gets one, so it never runs into the line after the hunk."""
        self.new, self.edited = text.splitlines(keepends=True), True
        if self.new and not self.new[-1].endswith("\n"):
            self.new[-1] += "\n"

    def text(self) -> str:
        """`diff -u` style, for a person to read."""
        head = f"@@ -{self.start + 1},{len(self.old)} +{self.start + 1},{len(self.new)} @@ {self.path}\n"
        body = [f" {x}" for x in self.before] + [f"-{x}" for x in self.old] + [f"+{x}" for x in self.new] + [f" {x}" for x in self.after]
        return head + "".join(x if x.endswith("\n") else x + "\n" for x in body)


def split(path: str, before: str | None, after: str | None, context: int = 3) -> list[Hunk]:
    old, new = (before or "").splitlines(keepends=True), (after or "").splitlines(keepends=True)
    hunks = []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, old, new, autojunk=False).get_opcodes():
        if tag != "equal":
            hunks.append(Hunk(path, i1, old[i1:i2], new[j1:j2], old[max(0, i1 - context) : i1], old[i2 : i2 + context]))
    return hunks


def changed_lines(hunks: list[Hunk]) -> int:
    """The size of a change as the leash measures it: per hunk, the longer of its old and new lines."""
    return sum(max(len(h.old), len(h.new)) for h in hunks)


def combine(before: str | None, hunks: list[Hunk], taken: list[bool]) -> str:
    """The old text with the taken hunks put in and the others left out."""
    old = (before or "").splitlines(keepends=True)
    out, position, kept = [], 0, []
    for hunk, take in zip(hunks, taken, strict=False):
        out += old[position : hunk.start]
        if not take:
            kept.append((len(out), _digest(hunk.old)))
        out += hunk.new if take else hunk.old
        position = hunk.start + len(hunk.old)
    out += old[position:]
    for (at, digest), hunk in zip(kept, [h for h, t in zip(hunks, taken, strict=False) if not t], strict=False):
        if _digest(out[at : at + len(hunk.old)]) != digest:  # a rejected hunk leaves its lines as they were, byte for byte
            raise TetherError(f"{hunks[0].path}: a rejected hunk would change line {at + 1}; nothing was written")
    return "".join(out)


def _digest(lines: list[str]) -> str:
    return hashlib.sha256("".join(lines).encode()).hexdigest()
