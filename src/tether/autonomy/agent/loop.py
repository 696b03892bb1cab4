"""`tether do`: the agent loop, on the leash, at the level the person chose.

Each turn the model either calls a tool (one `TOOL` line), proposes an edit (SEARCH/REPLACE
blocks), or says DONE. Every action goes through the leash; a refusal is told to the model with
its reason. An applied change is checkpointed and then checked by the verify commands, whose
failures go back to the model. At `agent` level with `candidates` above one, a failing change
that gained nothing on the checks is one of several candidates: more are sampled and the one
the checks like best is kept. By default the conversation goes on instead: in five runs of 16
exercises a follow-up turn passed 6 times in 28 replies, a further candidate once in 29.
Where no person reviews each change, two changes in a row that gain nothing end the run as stuck;
one that fails on wrong answers alone ends it as failing where a small model wrote it (such a model
copies its failed file in the next turn rather than fix it).
A model that writes a failed change again ends an unreviewed run as stuck; with more than one
candidate, it is first sampled afresh from the opening prompt, where there is no failed reply to
copy. A run that starts on the failing file the last run left is shown it in outline for the same
reason, so running `tether do` again is itself such a sample.
The whole run is one entry in the undo history; every step is recorded for replay.

The parts, each a module: opening.py (the first prompt), turn.py (one model call), checks.py,
judge.py (is the run getting anywhere), sampling.py (more samples), escalation.py, proposal.py
(one edit from reply to checked change), tools.py; this module is the loop that ties them."""

from __future__ import annotations

import threading
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Protocol

from ...errors import Cancelled, TetherError
from ...llm.types import Response
from .. import memory
from ..edits import Edit, hunks as hunk_mod
from ..edits.formats import for_model, small
from ..guard.hooks import HookBroken, Hooks
from ..guard.leash import Leash
from ..guard.untrusted import Fence
from ..guard.verify import SandboxUnavailable, VerifySettings, score
from ..guard.watch import Watch
from ..history.runlog import RunLog, headline
from ..history.trail import Trail
from . import best, hooked, refusals, sampling, turn
from .checks import Checks
from .escalation import Escalation
from .judge import Judge, key
from .opening import LEVEL_NOTES, OUTPUT_TOKENS, SYSTEM, opening
from .pace import Pace
from .proposal import Outcome, Proposals
from .result import RunResult, Status, Stop
from .resume import Resumed
from .tools import ExternalTools, Toolbox, parse_done, parse_tool

if TYPE_CHECKING:
    from ...llm.protocol import GridLike

__all__ = ["Agent", "Person", "SYSTEM", "LEVEL_NOTES"]

MALFORMED = "the reply held no edit, tool line or DONE"  # logged, so a run's well-formed share can be counted
CHECKED = ("approve", "auto", "agent")  # the levels whose changes apply and are checked


class Person(Protocol):
    """Whoever answers the leash's questions; without one, every question is a no."""

    def confirm(self, question: str) -> bool: ...

    def review(self, hunks: list[hunk_mod.Hunk]) -> list[bool] | None: ...  # None: stop the run


class Agent:
    def __init__(
        self,
        grid: GridLike,
        root: str | Path,
        leash: Leash,
        *,
        model: str = "default",
        verify: VerifySettings | None = None,
        person: Person | None = None,
        on_event: Callable[..., None] | None = None,
        candidates: int = 1,
        edit_format: str | None = None,
        stop_when_green: bool = False,
        escalate: str | None = None,
        hooks: Hooks | None = None,
        tools: ExternalTools | None = None,
    ):
        self.grid, self.root, self.model = grid, Path(root).resolve(), model
        self.edit_format = edit_format
        self.format = for_model(grid, model, edit_format)
        self.escalator = Escalation(grid, model, escalate)
        self.stop_when_green = stop_when_green  # the checks are the whole spec: passing them ends the run
        self.person, self.candidates = person, max(1, candidates)
        self.verify = verify or VerifySettings()
        self.policy = leash  # each run gets its own copy of it (`Leash.for_run`)
        self.leash = leash.for_run(self.verify.commands, None, "")
        self.on_event = on_event or (lambda kind, **data: None)
        self.fence = Fence.lasting()  # the same prompt prefix from run to run: the model's cache serves it
        self.cancel = threading.Event()  # set by `stop()`, from any thread
        self.confined = self._confined(leash)
        if leash.level in CHECKED:  # a check that cannot start is refused before any model call
            self.verify.startable(self.root)
        self.toolbox = Toolbox(self.root, self.verify, self.confined, tools)  # `tools`: other programs' (MCP servers), closed with it
        self.hooks = (hooks or Hooks(root=self.root)).ready(leash.level).startable()  # the user's [[hooks]] (guard/hooks.py)
        self.heard: Stop | None = None  # the end the stop hooks were told of (hooked.py)
        self.sent_back = False  # whether a stop hook sent the model back to work already
        self.checks = Checks(self.root, self.verify, self.confined, self.cancel, self.on_event, self.status, self.time_left, self.hooks)
        self.judge = Judge(self.confirm)
        self.output_tokens = OUTPUT_TOKENS
        self.pace = Pace()  # how fast this run's replies read and write
        self.last_reply = 0  # output tokens of the last reply
        self.changed: set[str] = set()
        self.sole: str | None = None  # the one file the run may write, if only one
        self.sole_text: str | None = None  # its text when the run began (read where the run is focused on it)
        self.grammar: str | None = None  # with one writable file and failing checks, a reply can only be its edit
        self.outlined = False  # the prompt shows the sole file's outline, not its code: a reply writes it anew
        self.refusals = 0  # actions the leash (or the person) refused
        self.refused = refusals.Refusals()  # by whom, what and why: the reason of a run they end
        self._level: str | None = None  # a level asked for during the run, taken at the next step
        self.messages: list[dict] = []
        self.replied = ""
        self.best: best.Best | None = None  # the change that did best on the checks (best.py)

    @property
    def escalation(self) -> str | None:
        """Where a run this model cannot finish goes on."""
        return self.escalator.to

    def stop(self) -> None:
        """Stop the run from another thread (a Stop button): a local generation ends at its next
        token, and the workspace is put back at the last checkpoint."""
        self.cancel.set()

    def set_level(self, level: str) -> None:
        """Move the autonomy slider during a run; it applies from the next step."""
        Leash(self.root, level)  # an unknown level is refused here, not in the run
        self._level = level

    def take_level(self) -> None:
        """A level asked for during the run applies from this step."""
        if self._level and self._level != self.leash.level:
            self.leash = self.proposals.leash = self.leash.at_level(self._level)
            self.log.step("note", text=f"level changed to {self._level}")

    def _confined(self, leash: Leash) -> bool:
        """Commands run sandboxed. Without a sandbox, `auto` and `agent` run none (unless the user
        opted out); at lower levels a person has seen every change before its checks run."""
        try:
            return self.verify.confined()
        except SandboxUnavailable:
            if leash.level in ("auto", "agent") and (self.verify.commands or leash.commands):
                raise
            return False

    # -- the run ------------------------------------------------------------------------------

    def run(self, instruction: str, settings: dict | None = None, resumed: Resumed | None = None) -> RunResult:
        """Run the task; `settings` (the run's options) are logged so a resume starts alike, and a
        `resumed` run goes on with its own log, conversation, spending and (if killed) trail."""
        if resumed is None:
            self.log = RunLog(
                self.grid.store, root=str(self.root), command="do", instruction=instruction, level=self.policy.level, model=self.model
            )
        else:
            self.log = RunLog.resume(self.grid.store, resumed.id)
        self.log.hold()  # released by the end of the run, or by the death of the process
        self.log.step("start", **(settings or {}), resumed=resumed is not None)
        self.leash = self.policy.for_run(self.verify.commands, self.grid.store, self.log.id)
        self.hooks.start(self.log.id, lambda: self.leash.level, self.log, self.on_event, self.cancel)
        if resumed is not None:
            self.log.mark("running")
            self.leash.spent = resumed.spent
            self.changed = set(resumed.run["changed"])  # what it changed before it stopped counts as changed
        mark = resumed.checkpoint if resumed else None
        if mark:  # a killed run's files, whose change the resumed run records
            self.changed |= set(mark["touched"])
        self.trail = Trail.taken_up(self.root, self.log.id, **mark) if mark else Trail(self.root, self.log.id)
        watch = self.toolbox.watch = Watch(self.trail, self.hooks)  # what checks write joins the run's change, past the write hooks
        self.checks.start(self.log, watch, lambda: self.trail.touched | ({self.sole} if self.sole else set()))
        self.toolbox.cancel = self.cancel
        self.memory = memory.Memory(self.grid.store, self.root)
        self.proposals = Proposals(
            self.leash, self.person, self.log, self.trail, self.format, self.checks, self.on_event, self.fence.wrap, self.hooks
        )
        try:
            self.escalator.priced(self.model, self.leash.budget.usd)
            stop = self._drive(instruction, resumed)
        except Stop as s:
            stop = s
        except Cancelled:
            self.trail.reset()
            stop = Stop(Status.STOPPED, "stopped; the workspace is at the last checkpoint")
        except HookBroken as e:  # a hook that cannot run judged nothing: what it was to judge is undone
            self.trail.reset()
            stop = Stop(Status.ERROR, str(e))
        except TetherError as e:  # the model failed for good (all providers down, budget, …)
            stop = Stop(Status.ERROR, str(e))
        except KeyboardInterrupt:
            self.trail.reset()
            stop = Stop(Status.INTERRUPTED, "stopped by Ctrl-C; the workspace is at the last checkpoint")
        finally:
            self.toolbox.close()
        try:
            return self._finish(instruction, self.checks.kept_tests(hooked.heard(self, best.restore(self, stop))))  # hooks hear every end
        finally:
            self.log.release()

    def _drive(self, instruction: str, resumed: Resumed | None = None) -> Stop:
        while True:
            self.messages = opening(self, instruction, logged=resumed is None)
            if resumed is not None:  # the opening set the run up; the model goes on from its own conversation
                self.messages = resumed.conversation()
                self.log.step("prompt", user=resumed.note(), resumed=True)
                resumed = None
            try:
                stop = self._loop()
            except Stop as s:
                stop = s
            if (model := self.escalator.next(stop, self.model)) is None:
                return self.escalator.told(stop, self.model)
            note = f"{self.model} could not finish ({stop.reason}); {model} goes on from here"
            self.log.step("note", text=note)
            self.on_event("note", text=note)
            self.model = model
            self.format = self.proposals.fmt = for_model(self.grid, self.model, self.edit_format)
            self.judge.reset()
            self.pace, self.last_reply, self.output_tokens = Pace(), 0, OUTPUT_TOKENS

    def _loop(self) -> Stop:
        reminded = False
        opts = {"temperature": sampling.FRESH_TEMPERATURE} if self.outlined else {}  # a fresh sample, as after a copy
        while True:
            text = self.generate(**opts).text
            opts = {}
            if edits := self.parse(text):
                outcome = self._edit(text, edits)
                if outcome.passed and not outcome.refused and (self.leash.level == "auto" or self.stop_when_green and self.verify.commands):
                    green = "the change is applied and the checks pass" if self.verify.commands else "the change is applied"
                    if ended := hooked.ends(self, Stop(Status.DONE, green), outcome.text, outcome.feedback):
                        return ended
                    continue
                self._continue(outcome.text, outcome.feedback)
            elif (call := parse_tool(text)) is not None:
                self._continue(text, self._tool(*call))
            elif (summary := parse_done(text)) is not None:
                failing = self.checks.failing
                idle = not self.changed and self.leash.level in CHECKED
                if (failing or idle) and not reminded:
                    reminded = True
                    self._continue(
                        text, f"The checks still fail. {self.format.ask}" if failing else f"You have changed nothing yet. {self.format.ask}"
                    )
                    continue
                if ended := hooked.ends(self, self._ending(summary or "the model says the task is done", summary), text):
                    return ended
                continue
            elif self.leash.level in ("ask", "suggest") and not self.changed:
                return Stop(Status.ANSWERED, "the model answered", text.strip())
            else:
                self.log.step("note", text=MALFORMED)
                if reminded:
                    return self._ending("the model answered instead of changing the code", text.strip())
                reminded = True
                self._continue(
                    text, f"{self.format.ask} To look at the code first, reply with one TOOL line. When all is done, reply DONE."
                )

    def _ending(self, reason: str, answer: str | None) -> Stop:
        """How a run the model ends turns out: done only with a change and no failing check."""
        if not self.changed and self.refusals:
            return Stop(Status.REFUSED, refusals.ending(self), answer)
        if self.checks.failing:
            return Stop(Status.FAILING, "the model stopped while the checks still fail", answer)
        if not self.changed:
            return Stop(Status.UNCHANGED, f"nothing changed ({reason})", answer)
        return Stop(Status.DONE, reason, answer)

    def _continue(self, reply_text: str, feedback: str) -> None:
        self.messages += [{"role": "assistant", "content": reply_text}, {"role": "user", "content": feedback}]
        self.log.step("prompt", user=feedback, **({"assistant": reply_text} if reply_text != self.replied else {}))

    # -- what the parts share -------------------------------------------------------------------

    def generate(self, **opts) -> Response:
        reply = turn.generate(self, **opts)
        self.replied = reply.text  # logged as the reply: a prompt after it logs the model's turn only where it differs
        return reply

    def status(self, doing: str) -> None:
        spent = self.leash.spent
        self.on_event("status", step=spent.steps, tokens=spent.tokens, cost=spent.usd, elapsed=spent.seconds, doing=doing)

    def totals(self) -> None:
        s = self.leash.spent
        self.log.totals(s.steps, s.input_tokens, s.output_tokens, s.usd, s.seconds)

    def time_left(self) -> float:
        """Seconds left of the run's time limit (never quite zero: a deadline of 0 means none)."""
        return max(0.01, self.leash.budget.seconds - self.leash.spent.seconds)

    def window(self) -> int:
        try:
            return self.grid.context_window(self.model)
        except TetherError:  # an unknown model fails with its own clear error at the first call
            return 8192

    def confirm(self, question: str) -> bool:
        return self.person is not None and self.person.confirm(question)

    def unreviewed(self) -> bool:
        """Levels where changes apply without a person seeing each one first."""
        return self.leash.level in ("auto", "agent")

    def parse(self, text: str) -> list[Edit]:
        edits = self.format.parse(text, self.sole)
        return [replace(e, anew=True) for e in edits] if self.outlined else edits

    def attempt(self, text: str, edits: list[Edit]) -> Outcome:
        outcome = self.proposals.attempt(text, edits)
        self.refusals += outcome.refused
        if outcome.applied:
            self.changed.update(outcome.files)
        if outcome.denied is not None:  # the same refusal twice ends the run, naming it
            refusals.count(self, outcome.denied, stuck=not outcome.applied)
        return outcome

    # -- tools and edits ------------------------------------------------------------------------

    def _tool(self, name: str, args: dict) -> str:
        found = self.toolbox.leash_target(name, args)  # tether's own tools, and MCP servers' as mcp:SERVER:TOOL
        if found is None:
            return f"There is no tool line {name!r}. Tools: {', '.join(self.toolbox.names())}."
        leash_tool, target = found
        decision = self.leash.check(leash_tool, target)
        allowed = decision.allowed or (decision.verdict == "ask" and self.confirm(f"{name}: {target}\n({decision.reason}) Allow?"))
        self.log.step(
            "decision", tool=name, target=target, verdict=decision.verdict, rule=decision.rule, reason=decision.reason, allowed=allowed
        )
        self.on_event("tool", name=name, target=target, allowed=allowed, reason=decision.reason)
        if not allowed:
            self.refusals += 1
            why = decision.reason if decision.verdict == "deny" else f"{decision.reason}, and no one approved it"
            refusals.count(self, refusals.Refusal.of_leash(decision, f"{name} {target[:200]}", why))
            return f"Refused by the leash ({decision.rule}): {why}. Do the task without it."
        if (denial := self.hooks.before_tool(leash_tool, target, args=args)) is not None:
            self.refusals += 1
            refusals.count(self, refusals.Refusal.of_hook(denial, f"{name} {target[:200]}"))
            return f"{denial.refusal} Do the task without it."
        ok, text = self.toolbox.call(name, args)
        self.log.step("tool", name=name, args=args, ok=ok, output=text)
        if not ok:
            self.judge.stuck(f"{name} {sorted(args.items())}", f"{name} {target!r} failed twice")
        return self.fence.wrap(f"{name} {target[:200]}", text)  # a label: an MCP call's arguments can be long

    def _edit(self, text: str, edits: list[Edit]) -> Outcome:
        k = key(edits)
        if k in self.judge.failed_edits:
            return sampling.again(self, text)
        before = self.checks.score
        self.judge.before(before)
        outcome = self.attempt(text, edits)
        if outcome.unchanged and self.checks.failing and self.unreviewed():  # it wrote the failing files out as they are
            self.judge.failed_edits.add(k)
            return sampling.again(self, text, unchanged=True)
        if (
            outcome.applied
            and not outcome.passed
            and self.leash.level == "agent"
            and self.candidates > 1
            and score(outcome.checks) <= before
        ):
            outcome = sampling.best_of(self, outcome)  # no progress: more samples of this turn; progress goes on in the conversation
        if outcome.applied:
            self.trail.keep(outcome.commit)
            best.note(self, outcome)
        if not outcome.passed and not (outcome.denied and not outcome.applied):  # a refused one is tried again, and refused again
            self.judge.failed_edits.add(k)
        if outcome.applied and not outcome.passed and self.unreviewed():
            self.judge.gained(outcome.checks)
            self.judge.rethink(outcome.checks, self.model, self.candidates == 1 and small(self.grid, self.model))
        return outcome

    # -- the end ------------------------------------------------------------------------------

    def _finish(self, instruction: str, stop: Stop) -> RunResult:
        changed, diff = self.trail.finish(f"tether do: {headline(instruction, 80)}", bool(self.changed))
        self.totals()
        self.log.finish(stop.status, stop.reason, sorted(self.changed | set(changed)))
        return RunResult.of(self.log.id, stop, changed, diff, self.leash.spent, self.checks.results)
