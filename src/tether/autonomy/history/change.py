"""One applied change: recover, match, checkpoint the files it touches, apply all or none, record
it for undo. Every face that applies a model's edits calls this, so each change is undoable the
same way and a crash in the middle of one is recorded when it is recovered."""

from __future__ import annotations

from pathlib import Path

from ..edits import ApplyReport, propose
from ..edits.apply import DEFAULT_FORMATS
from .checkpoints import Change, Checkpoints


def apply_change(
    root: str | Path, reply: str, message: str = "apply", formats: tuple[str, ...] = DEFAULT_FORMATS
) -> tuple[ApplyReport, Change | None]:
    checkpoints = Checkpoints(root)  # finishes (and records) or undoes an interrupted apply first
    report, plan = propose(root, reply, formats)
    if not report.applied or not report.changed:
        return report, None
    files = [rel for rel, _, _ in plan.changes()]
    before = checkpoints.snapshot(f"before: {message}", files)
    recorded = []  # before the journal goes: a crash after the write still finds the change to undo
    report.changed, report.diff = plan.commit(
        {"before": before, "message": message, "files": files}, then=lambda: recorded.append(checkpoints.record(before, message, files))
    )
    return report, recorded[0]
