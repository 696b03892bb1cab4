"""Whether a run is getting anywhere: the same failure twice, changes that gain nothing on the
checks, a small model failing on wrong answers. Each ends an unreviewed run (or asks a person)
rather than spend the user's time and tokens on a model going round in circles."""

from __future__ import annotations

import hashlib
from typing import Callable

from ..edits import Edit
from ..guard.verify import CommandResult, score, wrong_values
from .result import Status, Stop


def key(edits: list[Edit]) -> str:
    """One edit's identity, to know it when the model writes it again."""
    return hashlib.sha256(repr([(e.path, e.search, e.replace) for e in edits]).encode()).hexdigest()


class Judge:
    def __init__(self, confirm: Callable[[str], bool]):
        self.confirm = confirm  # a person's yes to go on; without one, always no
        self.failures: dict[str, int] = {}
        self.failed_edits: set[str] = set()
        self.best: tuple | None = None  # the best score the checks have had in this run

    def reset(self) -> None:
        """A new model takes over (escalation): its failures are its own."""
        self.failures, self.best = {}, None

    def stuck(self, what_key: str, what: str, ending: Stop | None = None) -> None:
        """The same failure twice means the model is going round in circles: stop (as `ending`, else
        stuck), or ask."""
        self.failures[what_key] = self.failures.get(what_key, 0) + 1
        if self.failures[what_key] >= 2:
            if self.confirm(f"The agent is repeating itself: {what}. Go on?"):
                self.failures[what_key] = 0
                return
            raise ending or Stop(Status.STUCK, what)

    def before(self, now: tuple) -> None:
        """The checks' score before a change is tried."""
        self.best = now if self.best is None else max(self.best, now)

    def gained(self, checks: list[CommandResult]) -> None:
        """Two changes in a row that gain nothing on the best checks of the run end it as stuck (or
        ask a person): the model is lost, and more replies spend the user's time and tokens. In five
        runs of 16 exercises, no attempt passed after that, and the replies after it were 11 % of
        the tokens (qwen2.5-coder-1.5b)."""
        now = score(checks)
        if now > self.best:
            self.best, self.failures["no gain"] = now, 0
            return
        self.stuck("no gain", "two changes in a row gained nothing on the checks")

    def rethink(self, checks: list[CommandResult], model: str, small: bool) -> None:
        """A small model whose change fails only on wrong answers does not fix it in a second turn:
        on the 40-exercise benchmark qwen2.5-coder-1.5b wrote 25 of 27 such follow-ups as a copy of
        its failed file and passed none (52,000 tokens), while after an exception its code raised
        (NameError, …) it passed 2 of 25. So an unreviewed run ends there (or goes on with the model
        it escalates to, or a person's yes); `tether do` again draws a fresh attempt."""
        if not small or not wrong_values(checks):
            return
        what = f"the checks fail on wrong answers, which the model ({model}) rarely fixes in a second turn"
        if not self.confirm(f"{what}. Go on?"):
            raise Stop(Status.FAILING, f"{what}; run it again for a fresh attempt")
