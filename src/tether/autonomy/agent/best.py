"""The best version a run wrote. Where no person reviews each change, a later change that passes
fewer of the checks' tests than an earlier one does not get the last word: the run ends with the
earlier one — or with the files as the run found them, where they did better than every change —
so a second try never leaves the code worse than the first (issue 42: on 12 unseen tasks the 1.5B
model's second try took the tests passed from 35 of 96 down to 20). A Stop or Ctrl-C leaves the
workspace at the last checkpoint, as the person asked."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..guard.verify import CommandResult, score
from .result import Status, Stop

if TYPE_CHECKING:
    from .loop import Agent
    from .proposal import Outcome

__all__ = ["Best", "note", "restore"]


@dataclass(frozen=True)
class Best:
    score: tuple
    commit: str | None  # the checkpoint that holds it; None: the files as the run found them
    checks: tuple[CommandResult, ...]  # what the checks said of it


def note(run: Agent, outcome: Outcome) -> None:
    """An applied change that beats every earlier one on the checks becomes the run's best."""
    if outcome.applied and outcome.checks and outcome.commit:
        now = score(outcome.checks)
        if run.best is None or now > run.best.score:
            run.best = Best(now, outcome.commit, tuple(outcome.checks))


def started(run: Agent, checks: list[CommandResult]) -> None:
    """How the checks stood before the first change: a bar every change must beat to stay."""
    if run.best is None and checks:
        run.best = Best(score(checks), None, tuple(checks))


def restore(run: Agent, stop: Stop) -> Stop:
    """The run's end, with its best version put back where its last change scored lower."""
    best = run.best
    if best is None or not run.unreviewed() or stop.status in (Status.STOPPED, Status.INTERRUPTED) or run.checks.score >= best.score:
        return stop
    last = run.checks.score
    commit = best.commit or run.trail.start
    run.trail.reset(commit)
    run.trail.keep(commit)
    run.checks.results = list(best.checks)
    kept = "the earlier one" if best.commit else "the files as the run found them"
    said = f"the last change passed {last[1]} test(s), fewer than {kept} ({best.score[1]}): the workspace keeps {kept}"
    run.log.step("note", text=said)
    run.on_event("note", text=said)
    status = Status.DONE if all(c.ok for c in best.checks) and best.commit else stop.status
    return Stop(status, f"{stop.reason}; {said}", stop.answer)
