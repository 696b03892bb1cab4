"""Carrying out a plan, step by step: each step not done (or skipped) is one agent run built by
`start.prepare` — its own checkpoint in the undo history, its own review at `approve`, its own
checks (the step's check command joins the run's) — and the plan stops at the first step that
does not end done, the later steps left todo and still editable. Each step's outcome is written
to the plan file as it ends (whole or not at all), so running the same file again goes on from
the first step not done.

A `PlanRun` answers as a `start.AgentRun` does (run, stop, set_level, stopping, level, to_dict),
so every face runs a plan the way it runs a run."""

from __future__ import annotations

import dataclasses
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from ...errors import TetherError
from ...redaction import redact
from ..guard.verify import VerifySettings, first_failure
from ..history.checkpoints import Checkpoints
from ..history.runlog import headline
from . import start
from .loop import Person
from .plan import Plan, Step
from .result import RunResult, Status, shown
from .tools import ExternalTools

__all__ = ["PlanResult", "PlanRun", "prepare"]


@dataclass
class PlanResult:
    """The steps run this time and how the plan stands: shaped as a run's result (its totals are
    the steps' sums, `run` the last step's run), with the plan's steps under `plan`."""

    plan: Plan
    file: Path | None
    status: Status
    reason: str
    results: list[RunResult] = field(default_factory=list)

    @property
    def id(self) -> str:
        return self.results[-1].id if self.results else ""

    @property
    def answer(self) -> str:
        return self.results[-1].answer if self.results else ""

    @property
    def checks(self) -> list:
        return self.results[-1].checks if self.results else []

    @property
    def changed(self) -> list[str]:
        return list(dict.fromkeys(f for r in self.results for f in r.changed))

    @property
    def diff(self) -> str:
        return "".join(r.diff if r.diff.endswith("\n") or not r.diff else r.diff + "\n" for r in self.results)

    @property
    def cost_usd(self) -> float | None:
        costs = [r.cost_usd for r in self.results]
        return None if None in costs else sum(c or 0.0 for c in costs)

    @property
    def steps(self) -> int:
        return sum(r.steps for r in self.results)

    @property
    def input_tokens(self) -> int:
        return sum(r.input_tokens for r in self.results)

    @property
    def output_tokens(self) -> int:
        return sum(r.output_tokens for r in self.results)

    @property
    def cached_tokens(self) -> int:
        return sum(r.cached_tokens for r in self.results)

    @property
    def seconds(self) -> float:
        return sum(r.seconds for r in self.results)

    @property
    def exit_code(self) -> int:
        return Status(self.status).exit_code

    def to_dict(self) -> dict:
        return {
            **shown(self),
            "plan": {
                "task": self.plan.task,
                "file": str(self.file) if self.file else None,
                "steps": [s.to_dict(n) for n, s in enumerate(self.plan.steps, start=1)],
            },
        }


class PlanRun:
    """A plan to carry out with the options of one `tether do` (level, model, checks, limits: each
    step's run gets them all; `instruction` is the plan's task). Built by `prepare`."""

    def __init__(
        self,
        plan: Plan,
        file: Path | None,
        options: start.RunOptions,
        grid,
        person: Person | None = None,
        on_event: Callable[..., None] | None = None,
        tools: Callable[[], ExternalTools | None] | None = None,
    ):
        self.plan, self.file, self.options, self.grid, self.tools = plan, file, options, grid, tools
        self.person, self.on_event = person, on_event or (lambda kind, **data: None)
        self.cancel = threading.Event()
        self._level: str | None = None
        left = plan.left()
        self.current: start.AgentRun | None = self._prepare(*left[0]) if left else None  # a bad option fails here, before any model call
        if self.current is not None and self.current.level in ("approve", "auto", "agent"):
            for _, step in left[1:]:  # a later step's check that cannot start is refused now, not half way
                if step.check:
                    VerifySettings.from_config(grid.config, options.root, (step.check,)).startable(options.root)

    def instruction(self, n: int, step: Step) -> str:
        """What the model is asked for one step: a one-line title, then its files and notes, within the task."""
        total = len(self.plan.steps)
        lines = [f"plan step {n}/{total}: {step.title}"]  # the first line is the run's title in one-line lists (runlog.headline)
        lines += [f"Files: {', '.join(step.files)}"] if step.files else []
        lines += [step.detail] if step.detail else []
        if total > 1:
            task = f' for "{self.plan.task}"' if self.plan.task else ""
            lines.append(
                f"This is step {n} of {total} of a plan{task}: do only this step" + ("; the steps before it are done." if n > 1 else ".")
            )
        return "\n".join(lines)

    def _prepare(self, n: int, step: Step) -> start.AgentRun:
        checks = self.options.checks
        if step.check:
            base = checks if checks is not None else VerifySettings.from_config(self.grid.config, self.options.root).commands
            checks = tuple(dict.fromkeys([*base, step.check]))
        options = dataclasses.replace(
            self.options, instruction=self.instruction(n, step), checks=checks, level=self._level or self.options.level
        )
        tools = self.tools() if self.tools else None  # each step's own: a run closes its tools when it ends
        return start.prepare(options, self.grid, person=self.person, on_event=self.on_event, tools=tools)

    def run(self) -> PlanResult:
        results: list[RunResult] = []
        left = self.plan.left()
        if not left:
            return PlanResult(self.plan, self.file, Status.DONE, "every step of the plan is done already; nothing to do")
        for i, (n, step) in enumerate(left):
            if self.cancel.is_set():
                return self._ended(results, Status.STOPPED, f"stopped before step {n}; it and the steps after it are still todo")
            try:
                run = self.current = self.current if i == 0 and self.current is not None else self._prepare(n, step)
            except TetherError as e:
                return self._failed(results, n, step, Status.ERROR, str(e))
            self._tell(n, step, "running")
            result = run.run()
            results.append(result)
            step.run = result.id
            if not _done(result, step):
                return self._failed(results, n, step, result.status, result.reason + self._why(n, step, result))
            step.status, step.reason = "done", ""
            self._save()
            self._tell(n, step, "done")
        total = len(self.plan.steps)
        return self._ended(results, Status.DONE, f"every step of the plan is done ({total} step{'' if total == 1 else 's'})")

    def _why(self, n: int, step: Step, result: RunResult) -> str:
        """What a person needs beside the run's reason, shortened and redacted: the check that
        failed and its first failure line (else only `tether log RUN` says it), and where the
        step's change is: kept to look at, or an earlier run's failing change still in place (a
        small model shown it writes it out again, and a second run changes nothing)."""
        why = ""
        if failing := next((c for c in result.checks if not c.ok), None):
            why += f"; check `{_short(failing.command, 80)}` failed: {_short(first_failure(failing), 160)}"
        if result.status in (Status.STOPPED, Status.INTERRUPTED):
            return why
        if result.changed:
            why += "; its change is kept for you to look at: `tether undo` takes it back"
        elif self._left_before(n, step):
            why += "; the failing change of this step's earlier run is still in place: `tether undo` takes it back for a fresh attempt"
        return why

    def _left_before(self, n: int, step: Step) -> bool:
        """Whether the last change applied in the workspace is an earlier run of this same step."""
        applied = [c for c in Checkpoints(self.options.root).log() if c["applied"]]
        return bool(applied) and applied[-1]["message"] == f"tether do: {headline(self.instruction(n, step), 80)}"

    def _failed(self, results: list[RunResult], n: int, step: Step, status: Status, reason: str) -> PlanResult:
        """A step that did not end done: failed, or still todo where a person or a signal stopped it."""
        stopped = status in (Status.STOPPED, Status.INTERRUPTED)
        step.status, step.reason = ("todo", "") if stopped else ("failed", f"{status}: {reason}")
        self._save()
        self._tell(n, step, str(status) if stopped else "failed")
        later = len(self.plan.steps) - n
        rest = f"; {later} later step{' is' if later == 1 else 's are'} still todo" if later else ""
        return self._ended(results, status, f"step {n} ({step.title}) ended {status}: {reason}{rest}")

    def _ended(self, results: list[RunResult], status: Status, reason: str) -> PlanResult:
        return PlanResult(self.plan, self.file, status, reason, results)

    def _save(self) -> None:
        if self.file is not None:
            self.plan.save(self.file)

    def _tell(self, n: int, step: Step, state: str) -> None:
        """Which step goes now and how each stands: a note for every face, the steps for the web page."""
        total = len(self.plan.steps)
        text = f"step {n} of {total}: {step.title}" if state == "running" else f"step {n} of {total} {state}"
        self.on_event("note", text=text)
        self.on_event("plan", current=n, state=state, steps=[s.to_dict(i) for i, s in enumerate(self.plan.steps, start=1)])

    def stop(self) -> None:
        self.cancel.set()
        if self.current is not None:
            self.current.stop()

    def set_level(self, level: str) -> None:
        """The slider moved: the step going on takes it from its next turn, later steps from their start."""
        if self.current is not None:
            self.current.set_level(level)  # an unknown level is refused here
        self._level = level

    @property
    def stopping(self) -> bool:
        return self.cancel.is_set()

    @property
    def level(self) -> str:
        return self.current.level if self.current is not None else self._level or self.options.level or "approve"

    def to_dict(self) -> dict:
        """What the plan's next step will do, before it starts, and the plan's steps."""
        b = self.options
        limits = {"steps": b.max_steps or 0, "seconds": b.max_seconds or 0, "tokens": b.max_tokens, "usd": b.max_usd}
        none = {"root": str(b.root), "level": self.level, "model": b.model, "escalate": None, "edit_format": "-", "resumes": None}
        head = self.current.to_dict() if self.current is not None else {**none, "checks": [], "limits": limits}
        steps = [s.to_dict(n) for n, s in enumerate(self.plan.steps, start=1)]
        file = str(self.file) if self.file else None
        return {**head, "instruction": self.plan.task, "plan": {"task": self.plan.task, "file": file, "steps": steps}}


def _short(text: str, most: int) -> str:
    text = redact(" ".join(text.split()))[0]
    return text if len(text) <= most else text[: most - 1] + "…"


def _done(result: RunResult, step: Step) -> bool:
    """A step ends done when its run does, or when it had nothing to change and its own check ran
    and passed with the others (a step that only checks, or one an earlier step did already)."""
    if result.status == Status.DONE:
        return True
    ran = result.checks
    return result.status == Status.UNCHANGED and any(c.command == step.check for c in ran) and all(c.ok for c in ran)


def prepare(
    plan: Plan,
    file: Path | None,
    options: start.RunOptions,
    grid,
    *,
    person: Person | None = None,
    on_event: Callable[..., None] | None = None,
    tools: Callable[[], ExternalTools | None] | None = None,
) -> PlanRun:
    """The plan's run on the options' leash: its first step's run is built now, so a bad option,
    an unknown model or a check that cannot start is one clear error before any model call.
    `tools()` makes each step's other programs' tools (mcp/client.py's `tools_for`), if any."""
    return PlanRun(plan, file, options, grid, person, on_event, tools)
