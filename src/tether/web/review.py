"""A review as the page shows it: per hunk its coloured rows and how many unchanged lines are
folded above and below it, per file its counts, and any folded lines on demand.

The old text of each file is read from the workspace when the review opens (the change is not
written yet), redacted as every face shows files; where it no longer holds the hunks' old lines,
the hunk is coloured from its own lines and nothing is folded."""

from __future__ import annotations

from pathlib import Path

from ..autonomy.edits.hunks import Hunk
from ..autonomy.edits.workspace import PathRefused, TextFile, readable
from ..errors import TetherError
from ..redaction import redact_file
from .diffview import FileView, Row, hunk_rows

__all__ = ["ReviewView"]

MAX_UNFOLD = 2_000  # lines one unfold shows


class ReviewView:
    def __init__(self, root: Path | None, hunks: list[Hunk]):
        self.root, self.hunks = root, hunks
        self.paths = list(dict.fromkeys(h.path for h in hunks))
        self._views: dict[str, FileView | None] = {}
        self._shown: dict[int, Hunk] = {}

    def _members(self, path: str) -> list[int]:
        return [n for n, h in enumerate(self.hunks) if h.path == path]

    def view(self, path: str) -> FileView | None:
        if path not in self._views:
            self._views[path] = self._build(path)
        return self._views[path]

    def _build(self, path: str) -> FileView | None:
        if self.root is None:
            return None
        try:
            target, _ = readable(self.root, path)
            before = redact_file(target, TextFile.read(target).text)[0] if target.exists() else None
        except (PathRefused, TetherError, OSError, UnicodeError):
            return None
        view = FileView(path, before, [self.shown(n) for n in self._members(path)])
        return view if view.matches() else None

    def shown(self, n: int) -> Hunk:
        """Hunk `n` as the page may show it: secrets redacted as every face redacts this file."""
        if n not in self._shown:
            h = self.hunks[n]
            self._shown[n] = Hunk(
                h.path, h.start, _clean(h.path, h.old), _clean(h.path, h.new), _clean(h.path, h.before), _clean(h.path, h.after)
            )
        return self._shown[n]

    def edited(self, n: int) -> dict:
        """Hunk `n` after a person's edit: its file is coloured again."""
        self._views.pop(self.hunks[n].path, None)
        self._shown.pop(n, None)
        return self.hunk(n)

    def hunk(self, n: int) -> dict:
        h = self.hunks[n]
        members = self._members(h.path)
        at = members.index(n)
        view = self.view(h.path)
        rows = view.rows(at) if view else hunk_rows(self.shown(n))
        above = below = 0
        if view:
            top = h.start - len(h.before)
            prev = self.hunks[members[at - 1]] if at else None
            above = top - (prev.start + len(prev.old) + len(prev.after) if prev else 0)
            below = len(view.old) - (h.start + len(h.old) + len(h.after)) if at == len(members) - 1 else 0
        return {
            "n": n,
            "path": h.path,
            "line": h.start + 1,
            "new": "".join(h.new),  # what the editor starts from
            "added": len(h.new),
            "removed": len(h.old),
            "edited": h.edited,
            "rows": [r.to_list() for r in rows],
            "above": max(0, above),
            "below": max(0, below),
        }

    def unfold(self, n: int, where: str, shown: int = 0) -> list[list]:
        """The unchanged lines folded above hunk `n` (back to the hunk before it in its file) or
        below it (to the end of the file), as context rows: the `shown` nearest the hunk already
        are, and at most MAX_UNFOLD more come."""
        h, shown = self.hunks[n], max(0, shown)
        view = self.view(h.path)
        if view is None or where not in ("above", "below"):
            raise TetherError("there are no folded lines there")
        members = self._members(h.path)
        at = members.index(n)
        if where == "above":
            prev = self.hunks[members[at - 1]] if at else None
            start, end, shift = (
                (prev.start + len(prev.old) + len(prev.after)) if prev else 0,
                h.start - len(h.before) - shown,
                view.shift[at],
            )
            start = max(start, end - MAX_UNFOLD)
        else:
            start = h.start + len(h.old) + len(h.after) + shown
            end, shift = min(len(view.old), start + MAX_UNFOLD), view.shift[at] + len(h.new) - len(h.old)
        rows: list[Row] = view.context(start, end, shift)
        return [r.to_list() for r in rows]


def _clean(path: str, lines: list[str]) -> list[str]:
    """Lines redacted as `path`'s text, one for one (where redaction would merge them, each is hidden)."""
    if not lines:
        return lines
    out = redact_file(path, "".join(lines))[0].splitlines(keepends=True)
    return out if len(out) == len(lines) else ["[REDACTED]\n"] * len(lines)
