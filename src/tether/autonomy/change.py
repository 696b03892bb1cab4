"""One applied change: checkpoint, apply all or none, record it for undo. Every face that applies
a model's edits calls this, so each change is undoable the same way."""

from __future__ import annotations

from pathlib import Path

from .checkpoints import Change, Checkpoints
from .edits import ApplyReport, apply_text


def apply_change(root: str | Path, reply: str, message: str = "apply") -> tuple[ApplyReport, Change | None]:
    checkpoints = Checkpoints(root)
    before = checkpoints.snapshot(f"before: {message}")
    report = apply_text(root, reply)
    if not report.applied or not report.changed:
        return report, None
    return report, checkpoints.record(before, message, report.changed)
