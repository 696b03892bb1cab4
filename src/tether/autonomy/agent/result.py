"""What a run of the agent ends as: one status from a fixed set, and the exit code it means."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING

from ..guard.verify import CommandResult

if TYPE_CHECKING:
    from ..guard.leash import Spent

__all__ = ["RunResult", "Status", "Stop", "shown"]


class Status(StrEnum):
    DONE = "done"  # changed, and no check fails
    ANSWERED = "answered"  # a question answered (ask, suggest)
    PROPOSED = "proposed"  # a change shown, not applied (suggest)
    FAILING = "failing"  # the model stopped while checks fail
    UNCHANGED = "unchanged"  # nothing changed
    REFUSED = "refused"  # nothing changed: the leash or the person said no
    STUCK = "stuck"  # the same failure twice
    BUDGET = "budget"  # a limit ran out
    STOPPED = "stopped"  # the person stopped it
    INTERRUPTED = "interrupted"  # Ctrl-C or a signal
    ERROR = "error"  # the model failed for good

    @property
    def ok(self) -> bool:
        return self in (Status.DONE, Status.ANSWERED, Status.PROPOSED)

    @property
    def exit_code(self) -> int:
        """What a command line exits with: 0 on success, 130 when interrupted, else 1."""
        return 0 if self.ok else 130 if self is Status.INTERRUPTED else 1


class Stop(Exception):
    """Ends a run from anywhere inside it."""

    def __init__(self, status: Status, reason: str, answer: str = ""):
        super().__init__(reason)
        self.status, self.reason, self.answer = Status(status), reason, answer


@dataclass
class RunResult:
    id: str
    status: Status
    reason: str
    answer: str = ""
    changed: list[str] = field(default_factory=list)
    diff: str = ""
    steps: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float | None = 0.0
    seconds: float = 0.0
    checks: list[CommandResult] = field(default_factory=list)
    cached_tokens: int = 0  # of input_tokens, those the provider read from its prompt cache

    @classmethod
    def of(cls, run_id: str, stop: Stop, changed: list[str], diff: str, spent: Spent, checks: list[CommandResult]) -> RunResult:
        """A run's result from how it stopped and what it spent."""
        return cls(
            run_id,
            stop.status,
            stop.reason,
            stop.answer,
            changed,
            diff,
            spent.steps,
            spent.input_tokens,
            spent.output_tokens,
            spent.usd,
            spent.seconds,
            list(checks),
            spent.cached_tokens,
        )

    @property
    def exit_code(self) -> int:
        return Status(self.status).exit_code

    def to_dict(self) -> dict:
        return shown(self)


def shown(r) -> dict:
    """What every face shows of a run's result: a RunResult's, or a plan's (planrun.PlanResult has
    the same fields, summed over its steps)."""
    return {
        "run": r.id,
        "status": str(r.status),
        "reason": r.reason,
        "answer": r.answer,
        "changed": r.changed,
        "diff": r.diff,
        "steps": r.steps,
        "usage": {"input_tokens": r.input_tokens, "output_tokens": r.output_tokens, "cached_tokens": r.cached_tokens},
        "cost_usd": r.cost_usd,
        "seconds": round(r.seconds, 3),
        "checks": [{"command": c.command, "code": c.code, "ok": c.ok, "wrote": c.wrote} for c in r.checks],
    }
