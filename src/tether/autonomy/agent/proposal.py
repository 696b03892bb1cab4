"""One proposed edit, from the model's reply to the workspace: plan in memory → the leash →
the person's review → write (journalled, all or none) → checkpoint → checks. Each step once:
the reply is parsed once, the plan made once, its diff made once."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable

from ..edits import Edit, hunks as hunk_mod, propose
from ..edits.apply import unified_diff
from ..edits.formats import EditFormat
from ..guard import tamper
from ..guard.hooks import Hooks
from ..guard.leash import Leash
from ..guard.verify import CommandResult, failure_report, score
from ..history.runlog import RunLog
from ..history.trail import Trail
from .refusals import Refusal
from .result import Status, Stop

if TYPE_CHECKING:
    from .checks import Checks

__all__ = ["Outcome", "Proposals"]


@dataclass
class Outcome:
    """One proposed edit, after the leash, the apply and the checks."""

    text: str
    applied: bool
    feedback: str
    files: list[str] = field(default_factory=list)
    checks: list[CommandResult] = field(default_factory=list)
    commit: str | None = None
    refused: int = 0  # actions the leash (or the person) refused on the way
    unchanged: bool = False  # the edit applied cleanly but wrote the files as they already were
    denied: Refusal | None = None  # who refused what of it, and why (refusals.py: a run these end names them)

    @property
    def passed(self) -> bool:
        return self.applied and all(c.ok for c in self.checks)

    @property
    def score(self) -> tuple:
        return (self.applied, *score(self.checks))


class Proposals:
    def __init__(
        self,
        leash: Leash,
        person,
        log: RunLog,
        trail: Trail,
        fmt: EditFormat,
        checks: Checks,
        on_event: Callable[..., None],
        wrap: Callable[[str, str], str],
        hooks: Hooks | None = None,
    ):
        self.leash, self.person, self.log, self.trail, self.fmt = leash, person, log, trail, fmt
        self.checks, self.on_event, self.wrap = checks, on_event, wrap
        self.hooks = hooks or Hooks(root=leash.root)  # the user's before_tool (write) and after_edit hooks

    def attempt(self, text: str, edits: list[Edit]) -> Outcome:
        level = self.leash.level
        reviewed = self.person is not None and level == "approve"  # else files the leash won't allow are left out
        said: dict = {}  # the leash's word on each file it kept out
        keep = None if reviewed or level == "suggest" else (lambda path: said.setdefault(path, self.leash.check("write", path)).allowed)
        report, plan = propose(self.leash.root, self.fmt.clean(text), self.fmt.parsers, keep, edits)
        left_out = "".join(f"\nYour change to {p} was left out: the leash does not let you write it." for p in report.left_out)
        refused = len(report.left_out)
        kept_out = next((Refusal.of_leash(said[p], f"writing {p}") for p in report.left_out if p in said), None)
        if not report.applied:
            self.log.step("diff", applied=False, error=report.feedback())
            return Outcome(text, False, "Your edit was not applied; nothing changed.\n" + report.feedback(), refused=refused)
        changes = plan.changes()
        files = [rel for rel, _, _ in changes]
        if not changes:
            said_so = left_out.strip() or "Your edit changes nothing; the files already read like that."
            return Outcome(text, False, said_so, refused=refused, unchanged=not left_out, denied=kept_out)
        self.on_event("diff", diff=report.diff)
        self.log.step("diff", applied=None, diff=report.diff, files=files)
        if (denied := self._unapproved(self.leash.check("propose", ", ".join(files)), files)) is not None:
            return Outcome(text, False, f"Refused by {denied.by}: {denied.why}.", refused=refused + 1, denied=denied)
        if level == "suggest":
            raise Stop(Status.PROPOSED, "the change is shown as a suggestion; level suggest applies nothing", report.diff)
        all_hunks = {rel: hunk_mod.split(rel, before, after) for rel, before, after in changes}
        decision = self.leash.check_change({rel: hunk_mod.changed_lines(hs) for rel, hs in all_hunks.items()}, tuple(changes))
        if (denied := self._unapproved(decision, files)) is not None:
            return Outcome(text, False, f"Refused by {denied.by}: {denied.why}.", refused=refused + 1, denied=denied)
        if decision.verdict == "ask":
            if not self._review(decision, all_hunks, changes, plan):
                return Outcome(text, False, "The user declined this change. Ask yourself what they want instead.", refused=refused)
        files = [rel for rel, _, _ in plan.changes()]
        if not files:
            return Outcome(text, False, "No hunk was taken; nothing changed.", refused=refused)
        if (refusal := self._may_write(plan)) is not None:
            denial, denied = refusal
            return Outcome(text, False, f"{denial.refusal} Nothing was written.", refused=refused + 1, denied=denied)
        self.trail.first_touch(files)
        files, diff = plan.commit(
            {"before": self.trail.start, "message": f"tether do (interrupted run {self.log.id})", "files": sorted(self.trail.touched)}
        )
        commit = self.trail.written(files)
        self.log.step("diff", applied=True, diff=diff, files=files, checkpoint=commit, **self.trail.state())
        if (denial := self.hooks.after_edit(files, diff)) is not None:  # undone: the files as the last checkpoint holds them
            self.trail.reset()
            denied = Refusal.of_hook(denial, f"the change to {', '.join(files)}")
            return Outcome(text, False, f"{denial.refusal} Your change was undone.", refused=refused + 1, denied=denied)
        checks = self.checks.run()
        feedback = "Applied to " + ", ".join(files) + "." + left_out
        if checks:
            failing = [c for c in checks if not c.ok]
            feedback += (
                " The checks pass. If the request is fully done, reply DONE; else go on."
                if not failing
                else " " + checks_fail(failing, self.wrap) + "Fix the code. " + self.fmt.ask
            )
        return Outcome(text, True, feedback, files, checks, commit, refused, denied=kept_out)

    def _unapproved(self, decision, files: list[str]) -> Refusal | None:
        """The leash's refusal of a change, where it denies it or asks and no one is here to say yes."""
        if decision.verdict == "deny":
            return Refusal.of_leash(decision, f"the change to {', '.join(files)}")
        if decision.verdict == "ask" and self.person is None:
            if decision.rule == tamper.RULE:  # no one to see the tests weakened: the run ends, nothing applied
                raise Stop(Status.REFUSED, f"{decision.reason}; nothing was applied, and no one is here to approve it")
            return Refusal.of_leash(decision, f"the change to {', '.join(files)}", f"{decision.reason}, and no one is here to approve it")
        return None

    def _may_write(self, plan):
        """The first before_tool hook that refuses to let a file of the change be written (each file
        is a `write` of its path, with its diff), with the refusal; the change is written whole or not at all."""
        for rel, before, after in plan.changes() if self.hooks else ():
            if (denial := self.hooks.before_tool("write", rel, diff=unified_diff(before, after, rel))) is not None:
                return denial, Refusal.of_hook(denial, f"writing {rel}")
        return None

    def _review(self, decision, all_hunks: dict, changes: list, plan) -> bool:
        """The person takes or leaves each hunk (the plan keeps what they took), told first why the
        leash asks where that is more than the level's habit; False: they took none."""
        if decision.rule != "level approve":
            self.log.step("note", text=f"held for review: {decision.reason}")
            self.on_event("note", text=f"held for your review: {decision.reason}")
        flat = [h for hs in all_hunks.values() for h in hs]
        taken = self.person.review(flat)
        if taken is None:
            raise Stop(Status.STOPPED, "the person stopped the run")
        self.log.step(  # what the person decided, hunk by hunk: the diff step after it holds what was applied
            "decision",
            tool="review",
            taken=taken,
            rejected=[h.text() for h, t in zip(flat, taken, strict=False) if not t],
            edited=[h.text() for h, t in zip(flat, taken, strict=False) if t and h.edited],
        )
        if not any(taken):
            return False
        for rel, before, _ in changes:
            chosen = [taken[flat.index(h)] for h in all_hunks[rel]]
            plan.texts[rel] = hunk_mod.combine(before, all_hunks[rel], chosen)
        return True


def checks_fail(failing: list[CommandResult], wrap) -> str:
    """How the model is told its applied change fails the checks (before it is asked to fix it)."""
    return "These checks fail:\n" + failure_report(failing, wrap) + "\n"
