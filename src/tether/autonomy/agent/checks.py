"""A run's checks behind one object: the loop, each proposal and each sample ask it to run them,
and it keeps what they said last, how many tests they ran before any change, and whether a pass
may be luck."""

from __future__ import annotations

import re
import threading
from pathlib import Path
from typing import Callable

from ...context.walk import read_regular
from ...errors import Cancelled
from ..guard.hooks import Hooks
from ..guard.verify import CommandResult, VerifySettings, ran_tests, run_command, score
from ..guard.watch import Watch
from ..history.runlog import RunLog
from .result import Status, Stop

CHANCE = re.compile(r"\b(?:random|secrets|uuid|urandom)\b")  # code that draws random numbers can pass its checks by luck


class Checks:
    def __init__(
        self,
        root: Path,
        verify: VerifySettings,
        confined: bool,
        cancel: threading.Event,
        on_event: Callable[..., None],
        status: Callable[[str], None],
        time_left: Callable[[], float],
        hooks: Hooks | None = None,
    ):
        self.root, self.verify, self.confined, self.cancel = root, verify, confined, cancel
        self.hooks = hooks or Hooks(root=root)  # before_checks hooks may refuse a run of the checks
        self.on_event, self.status, self.time_left = on_event, status, time_left
        self.results: list[CommandResult] = []  # what the checks said last
        self.baseline: int | None = None  # tests the checks ran before any change
        self.log: RunLog | None = None
        self.watch: Watch | None = None  # what a check writes joins the run's change
        self.files: Callable[[], set[str]] = set  # the files whose code a pass may owe to luck

    def start(self, log: RunLog, watch: Watch, files: Callable[[], set[str]]) -> None:
        self.log, self.watch, self.files = log, watch, files

    @property
    def commands(self) -> list[str]:
        return self.verify.commands

    @property
    def failing(self) -> bool:
        """Whether the checks ran last time and one of them failed."""
        return bool(self.results) and not all(c.ok for c in self.results)

    @property
    def score(self) -> tuple:
        return score(self.results)

    def keep(self, results: list[CommandResult]) -> None:
        """What the checks said of the state the run goes on from (a candidate kept, say)."""
        self.results = list(results)

    def run(self) -> list[CommandResult]:
        """Every check; a pass that may be luck must hold twice. In the 40-exercise run a private key
        drawn by `secrets.randbelow(p - 1)` (0 and 1 are out of range) passed tether's run of the
        tests — as it does about one run in nine — and failed the grader's. A before_checks hook that
        refuses skips them: the change stands unchecked, as a failing check that says why."""
        if self.commands and (denial := self.hooks.before_checks(self.commands)) is not None:
            self.results = [CommandResult(denial.hook.rule, 1, f"the checks did not run: {denial.refusal}", 0.0)]
            return list(self.results)
        self.results = [self.one(c) for c in self.commands]
        if self.results and all(c.ok for c in self.results) and self._draws_chance():
            again = [self.one(c) for c in self.commands]
            if not all(c.ok for c in again):
                self.log.step("note", text="the checks passed, then failed when run again: the code draws random numbers")
                self.results = again
        return list(self.results)

    def one(self, command: str) -> CommandResult:
        if self.cancel.is_set():
            raise Cancelled("stopped")
        self.status(f"running {command}")
        result = run_command(command, self.root, self.verify.within(self.time_left()), self.confined, self.watch, self.cancel)
        refused = {"refused": result.refused} if result.refused else {}  # a write hook refused what it wrote (watch.py)
        self.log.step(
            "verify",
            command=command,
            code=result.code,
            seconds=round(result.seconds, 3),
            output=result.output,
            wrote=result.wrote,
            **refused,
        )
        if result.wrote and not result.refused:  # else the hook's refusal is the note
            self.on_event("note", text=f"{command} wrote {', '.join(result.wrote)}; it is part of this run's change")
        self.on_event("verify", command=command, ok=result.ok, code=result.code, output=result.output)
        return result

    def count_baseline(self, unreviewed: bool) -> None:
        """Count the tests the checks run before any change (running them here where no earlier
        step did): a change after which they run fewer has removed or skipped some. Unconfined,
        nothing runs before a person has seen a change: the repository's own commands could be anything."""
        if self.baseline is None and self.commands and (self.confined or unreviewed):
            self.baseline = ran_tests(self.results if unreviewed else [self.one(c) for c in self.commands])

    def kept_tests(self, stop: Stop) -> Stop:
        """A run is not done when its checks now run fewer tests than before it: passing them proves less."""
        if stop.status is not Status.DONE or self.baseline is None or not self.results or ran_tests(self.results) >= self.baseline:
            return stop
        return Stop(
            Status.FAILING,
            f"the checks ran {ran_tests(self.results)} test(s) after the change and {self.baseline} before it:"
            " tests were removed, skipped or deselected; see the diff",
            stop.answer,
        )

    def _draws_chance(self) -> bool:
        for path in self.files():
            try:
                if CHANCE.search(read_regular(self.root / path).decode("utf-8", "replace")):
                    return True
            except OSError:
                continue
        return False
