"""What a run was refused, by whom and why, so that a run the refusals end says so. A hook or the
leash refusing the only change the model tries is not a model going round in circles: a person
needs to read which rule said no, to what, and why ("nothing changed: hook frozen-tests refused
writing tests/test_cart.py (2 times): tests are frozen"), in the terminal, `tether log` and the
web page alike, since each shows the run's reason. The same refusal twice ends the run (or asks
a person): the model will not get past a rule by asking again."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from .result import Status, Stop

if TYPE_CHECKING:
    from ..guard.hooks import Verdict
    from ..guard.leash import Decision
    from .loop import Agent

__all__ = ["Refusal", "Refusals", "count", "ending"]

SHOWN = 3  # refusals a reason names; more are counted


@dataclass(frozen=True)
class Refusal:
    by: str  # what refused: "hook NAME", or "the leash (RULE)"
    what: str  # what it refused: "writing tests/test_cart.py", "run_command rm -rf build"
    why: str

    @classmethod
    def of_hook(cls, verdict: Verdict, what: str) -> Refusal:
        return cls(verdict.hook.rule, what, verdict.reason)

    @classmethod
    def of_leash(cls, decision: Decision, what: str, why: str = "") -> Refusal:
        return cls(f"the leash ({decision.rule})", what, why or decision.reason)


class Refusals:
    """Each (who, what) refused in a run, how often, and the last reason given."""

    def __init__(self) -> None:
        self.seen: dict[tuple[str, str], tuple[int, str]] = {}

    def add(self, r: Refusal) -> None:
        times, _ = self.seen.pop((r.by, r.what), (0, ""))
        self.seen[(r.by, r.what)] = (times + 1, r.why)  # the latest last

    def __bool__(self) -> bool:
        return bool(self.seen)

    def said(self) -> str:
        """The refusals, the most frequent (then the latest) first."""
        ranked = sorted(reversed(self.seen.items()), key=lambda item: -item[1][0])
        parts = [f"{by} refused {what} ({_times(n)}): {why}" for (by, what), (n, why) in ranked[:SHOWN]]
        more = f"; and {len(ranked) - SHOWN} more refusal(s)" if len(ranked) > SHOWN else ""
        return "; ".join(parts) + more


def count(run: Agent, refusal: Refusal, stuck: bool = True) -> None:
    """One refusal of the run; `stuck`: the same one twice ends it, as refused where nothing
    changed (else stuck), with the refusals as its reason. A person is asked first where one is."""
    run.refused.add(refusal)
    if stuck:
        status = Status.STUCK if run.changed else Status.REFUSED
        run.judge.stuck(f"refused {refusal.by} {refusal.what}", f"{refusal.by} refused {refusal.what} twice", Stop(status, ending(run)))


def ending(run: Agent) -> str:
    """The reason of a run that ends on its refusals."""
    if not run.refused:
        return f"nothing changed: the leash refused {run.refusals} action(s)"
    return f"nothing changed: {run.refused.said()}" if not run.changed else run.refused.said()


def _times(n: int) -> str:
    return "once" if n == 1 else f"{n} times"
