"""`tether do`: the agent loop, on the leash, at the level the person chose.

Each turn the model either calls a tool (one `TOOL` line), proposes an edit (SEARCH/REPLACE
blocks), or says DONE. Every action goes through the leash; a refusal is told to the model with
its reason. An applied change is checkpointed and then checked by the verify commands, whose
failures go back to the model. At `agent` level a failing change is one of several candidates:
more are sampled and the one the checks like best is kept — generation and verification in a
loop. The whole run is one entry in the undo history; every step is recorded for replay."""

from __future__ import annotations

import dataclasses
import hashlib
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Protocol

from ..context import tokens
from ..errors import TetherError
from ..llm import models as catalogue
from ..llm.types import Response
from . import hunks as hunk_mod
from .brief import brief
from .checkpoints import Checkpoints
from .edits import parse_reply, propose
from .edits import search_replace, whole
from .edits.apply import DEFAULT_FORMATS
from .leash import Leash
from .runlog import RunLog
from .tools import SPECS, Toolbox, parse_done, parse_tool, prompt as tools_prompt
from .untrusted import Fence
from .verify import CommandResult, SandboxUnavailable, VerifySettings, run_command, score

DEFAULT_STEPS = {"ask": 6, "suggest": 8, "approve": 12, "auto": 12, "agent": 20}
DEFAULT_SECONDS = 900.0
OUTPUT_TOKENS = 1536  # room kept for each reply

SYSTEM = """You are tether, a careful programmer working in the user's repository, on a leash the user controls.

{fence_rule}

{edits}
Make the smallest change that does the task, in the code style of the files you edit. The files
shown to you are current: when they are enough, reply with the edit right away.

{tools}
{level_note}"""

LEVEL_NOTES = {
    "ask": "You may only read and answer: reply with your answer in plain text, citing files as path:line. Reply DONE when you have nothing to add.",
    "suggest": "Your edits are shown to the user as suggestions and not applied.",
    "approve": "The user approves or rejects each change you propose.",
    "auto": "Your edits are applied and checked by the project's tests; you will see their output.",
    "agent": "Your edits are applied and checked by the project's tests; keep fixing until they pass.",
}


class Person(Protocol):
    """Whoever answers the leash's questions; without one, every question is a no."""

    def confirm(self, question: str) -> bool: ...

    def review(self, hunks: list[hunk_mod.Hunk]) -> list[bool] | None: ...  # None: stop the run


@dataclass
class Outcome:
    """One proposed edit, after the leash, the apply and the checks."""

    text: str
    applied: bool
    feedback: str
    files: list[str] = field(default_factory=list)
    checks: list[CommandResult] = field(default_factory=list)
    commit: str | None = None

    @property
    def passed(self) -> bool:
        return self.applied and all(c.ok for c in self.checks)

    @property
    def score(self) -> tuple:
        return (self.applied, *score(self.checks))


@dataclass
class RunResult:
    id: str
    status: str  # done | answered | proposed | failing | unchanged | refused | stuck | budget | stopped | interrupted | error
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

    SUCCESSES = ("done", "answered", "proposed")  # every other status means the request was not met

    @property
    def exit_code(self) -> int:
        """What a command line should exit with: 0 on success, 130 when interrupted, else 1."""
        return 0 if self.status in self.SUCCESSES else 130 if self.status == "interrupted" else 1

    def to_dict(self) -> dict:
        return {"run": self.id, "status": self.status, "reason": self.reason, "answer": self.answer, "changed": self.changed,
                "diff": self.diff, "steps": self.steps, "usage": {"input_tokens": self.input_tokens, "output_tokens": self.output_tokens},
                "cost_usd": self.cost_usd, "seconds": round(self.seconds, 3),
                "checks": [{"command": c.command, "code": c.code, "ok": c.ok} for c in self.checks]}


class Stop(Exception):
    def __init__(self, status: str, reason: str, answer: str = ""):
        super().__init__(reason)
        self.status, self.reason, self.answer = status, reason, answer


class Agent:
    def __init__(self, grid, root: str | Path, leash: Leash, *, model: str = "default", verify: VerifySettings | None = None,
                 person: Person | None = None, on_event: Callable[..., None] | None = None, candidates: int = 3,
                 edit_format: str | None = None, stop_when_green: bool = False):
        self.grid, self.root, self.model = grid, Path(root).resolve(), model
        self.edit_format = edit_format or self._default_format()
        self.stop_when_green = stop_when_green  # the checks are the whole spec: passing them ends the run
        self.formats = (*DEFAULT_FORMATS, "whole") if self.edit_format == "whole" else DEFAULT_FORMATS
        budget = leash.budget
        leash.budget = dataclasses.replace(budget, steps=budget.steps or DEFAULT_STEPS[leash.level], seconds=budget.seconds or DEFAULT_SECONDS)
        self.leash, self.person, self.candidates = leash, person, max(1, candidates)
        self.verify = verify or VerifySettings()
        leash.commands += tuple(c for c in self.verify.commands if c not in leash.commands)  # the person chose them
        self.on_event = on_event or (lambda kind, **data: None)
        self.fence = Fence()
        self.confined = self._confined(leash)
        self.toolbox = Toolbox(self.root, self.verify, self.confined)
        self.output_tokens = OUTPUT_TOKENS
        self.usage = [0, 0]
        self.cost: float | None = 0.0
        self.failures: dict[str, int] = {}
        self.changed: set[str] = set()
        self.refusals = 0  # actions the leash (or the person) refused
        self.touched: set[str] = set()  # files the run wrote or is writing: the only ones checkpointed
        self.known: dict[str | None, frozenset] = {}  # checkpoint -> the files it holds a state of
        self.checks: list[CommandResult] = []

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

    def run(self, instruction: str) -> RunResult:
        self.log = RunLog(self.grid.store, root=str(self.root), command="do", instruction=instruction, level=self.leash.level, model=self.model)
        self.leash.store, self.leash.run_id = self.grid.store, self.log.id
        self.checkpoints = Checkpoints(self.root)
        self.start = self.last = self._snapshot(f"before run {self.log.id}", [], None)
        started = time.monotonic()
        try:
            self._priced()
            self.messages = self._opening(instruction)
            stop = self._loop()
        except Stop as s:
            stop = s
        except TetherError as e:  # the model failed for good (all providers down, budget, …)
            stop = Stop("error", str(e))
        except KeyboardInterrupt:
            self._reset(self.last)
            stop = Stop("interrupted", "stopped by Ctrl-C; the workspace is at the last checkpoint")
        finally:
            self.toolbox.close()
        return self._finish(instruction, stop, time.monotonic() - started)

    def _loop(self) -> Stop:
        reminded = False
        while True:
            reply = self._generate()
            text = reply.text
            if parse_reply(text, self.formats):
                outcome = self._edit(text)
                if outcome.passed and self.verify.commands and self.stop_when_green:
                    return Stop("done", "the change is applied and the checks pass")
                self._continue(outcome.text, outcome.feedback)
            elif (call := parse_tool(text)) is not None:
                self._continue(text, self._tool(*call))
            elif (summary := parse_done(text)) is not None:
                failing = self.checks and not all(c.ok for c in self.checks)
                idle = not self.changed and self.leash.level in ("approve", "auto", "agent")
                if (failing or idle) and not reminded:
                    reminded = True
                    self._continue(text, f"The checks still fail. {self._ask_for_edit()}" if failing else
                                   f"You have changed nothing yet. {self._ask_for_edit()}")
                    continue
                return self._ending(summary or "the model says the task is done", summary)
            elif self.leash.level in ("ask", "suggest") and not self.changed:
                return Stop("answered", "the model answered", text.strip())
            elif reminded:
                return self._ending("the model answered instead of changing the code", text.strip())
            else:
                reminded = True
                self._continue(text, f"{self._ask_for_edit()} To look at the code first, reply with one TOOL line. When all is done, reply DONE.")

    def _ending(self, reason: str, answer: str | None) -> Stop:
        """How a run the model ends turns out: done only with a change and no failing check."""
        if not self.changed and self.refusals:
            return Stop("refused", f"nothing changed: the leash refused {self.refusals} action(s)", answer)
        if self.checks and not all(c.ok for c in self.checks):
            return Stop("failing", "the model stopped while the checks still fail", answer)
        if not self.changed:
            return Stop("unchanged", f"nothing changed ({reason})", answer)
        return Stop("done", reason, answer)

    def _priced(self) -> None:
        """A USD limit needs prices: a route whose every model is unpriced is refused before any call."""
        if self.leash.budget.usd is None:
            return
        _, route = self.grid.route(self.model)
        if not any(catalogue.info(m, self.grid.config).price_known for m in route.models):
            raise Stop("budget", f"{self.model} has no known price, so the limit of ${self.leash.budget.usd:g} cannot be kept;"
                                 " add its price under [models] in tether.toml")

    def _opening(self, instruction: str) -> list[dict]:
        edits = whole.prompt(self._example(instruction)) if self.edit_format == "whole" else search_replace.PROMPT
        system = SYSTEM.format(fence_rule=self.fence.rule(), tools=tools_prompt(), edits=edits, level_note=LEVEL_NOTES[self.leash.level])
        room = self._window() - OUTPUT_TOKENS - tokens.count(system) - tokens.count(instruction) - 200
        writable = None if self.person or self.leash.level not in ("auto", "agent") else self.leash.may_write
        context = brief(self.root, instruction, self.fence, max(500, room * 2 // 3), search=lambda q: self.toolbox.index().search(q, k=8),
                        writable=writable)
        if self.edit_format == "whole":  # a whole file is about as long as the biggest one shown; a reply far longer is a model looping
            self.output_tokens = min(OUTPUT_TOKENS, max(1024, 2 * max((len(b) // 3 for b in context.split("</" + self.fence.tag)), default=0)))
        checks = ""
        if self.verify.commands and self.leash.level in ("auto", "agent"):
            self.checks = [self._check(c) for c in self.verify.commands]
            failing = [r for r in self.checks if not r.ok]
            checks = f"\n\nAfter each change the checks run ({', '.join(self.verify.commands)})." + (
                " Now they fail like this:\n" + "\n".join(self.fence.wrap(r.command, r.summary()) for r in failing) if failing else " Now they pass.")
        ending = "Answer in plain text." if self.leash.level == "ask" else self._ask_for_edit()
        user = f"{context}\n\nThe user's request:\n{instruction}{checks}\n\n{ending}"
        self.log.step("prompt", system=system, user=user)
        return [{"role": "system", "content": system}, {"role": "user", "content": user}]

    def _continue(self, reply_text: str, feedback: str) -> None:
        self.messages += [{"role": "assistant", "content": reply_text}, {"role": "user", "content": feedback}]
        self.log.step("prompt", user=feedback)

    # -- the model ------------------------------------------------------------------------------

    def _generate(self, **opts) -> Response:
        verdict = self.leash.charge(steps=1)
        if not verdict.allowed:
            raise Stop("budget", verdict.reason)
        self._fit()
        self.on_event("status", step=self.leash.spent.steps, tokens=sum(self.usage), cost=self.cost, doing="thinking")
        messages = [{"role": m["role"], "content": m["content"]} for m in self.messages]  # a copy, without our marks
        try:  # the run's time limit bounds the call in flight, not only the next one
            reply = self.grid.complete(self.model, messages, max_tokens=self.output_tokens, deadline=self._time_left(), **opts)
        except TetherError:
            if self._time_left() <= 0.05:
                raise Stop("budget", f"the run used its {self.leash.budget.seconds:g} seconds") from None
            raise
        self.usage[0] += reply.usage.input_tokens
        self.usage[1] += reply.usage.output_tokens
        self.cost = None if self.cost is None or reply.cost_usd is None else self.cost + reply.cost_usd
        self.log.step("reply", text=reply.text, model=reply.model, input_tokens=reply.usage.input_tokens,
                      output_tokens=reply.usage.output_tokens, cost_usd=reply.cost_usd, latency_ms=reply.latency_ms, **opts)
        self.log.totals(self.leash.spent.steps, *self.usage, self.cost, time.monotonic() - self.leash.spent.started)
        self.on_event("status", step=self.leash.spent.steps, tokens=sum(self.usage), cost=self.cost, doing="")
        verdict = self.leash.charge(usd=reply.cost_usd, tokens=reply.usage.total_tokens)
        if not verdict.allowed:
            raise Stop("budget", verdict.reason)
        return reply

    def _time_left(self) -> float:
        """Seconds left of the run's time limit (never quite zero: a deadline of 0 means none)."""
        return max(0.01, self.leash.budget.seconds - (time.monotonic() - self.leash.spent.started))

    def _ask_for_edit(self) -> str:
        return ("Reply with the complete new content of each file you change, under its path." if self.edit_format == "whole" else
                "Reply with the SEARCH/REPLACE blocks that make the change, each under its file's path.")

    def _example(self, instruction: str) -> str:
        """A file the request names, else one that search finds for it."""
        named = [w.strip("`'\".,:;()") for w in instruction.split()]
        for word in named:
            if "." in word and (self.root / word).is_file():
                return word
        hits = self.toolbox.index().search(instruction, k=1)
        return hits[0].path if hits else "src/app.py"

    def _default_format(self) -> str:
        """Small embedded models write whole files far more reliably than SEARCH/REPLACE blocks."""
        try:
            _, route = self.grid.route(self.model)
        except TetherError:
            return "search-replace"
        return "whole" if all(m.startswith("local/") for m in route.models) else "search-replace"

    def _window(self) -> int:
        try:
            return self.grid.context_window(self.model)
        except TetherError:  # an unknown model fails with its own clear error at the first call
            return 8192

    def _fit(self) -> None:
        """Keep the conversation inside the window: older turns shrink to one line each."""
        limit = self._window() - self.output_tokens
        for m in self.messages[2:-2]:
            if sum(tokens.count(x["content"]) for x in self.messages) + 8 * len(self.messages) <= limit:
                return
            if not m.get("condensed"):
                first = m["content"].strip().splitlines()[0][:120] if m["content"].strip() else ""
                m["content"], m["condensed"] = f"[earlier {'reply' if m['role'] == 'assistant' else 'result'}, condensed: {first} …]", True
        if sum(tokens.count(x["content"]) for x in self.messages) > limit:
            raise Stop("budget", "the conversation no longer fits the model's context window")

    # -- tools --------------------------------------------------------------------------------

    def _tool(self, name: str, args: dict) -> str:
        spec = SPECS.get(name)
        if spec is None or name in ("propose_edit", "finish"):
            return f"There is no tool line {name!r}. Tools: {', '.join(n for n in SPECS if n not in ('propose_edit', 'finish'))}."
        target = spec.target(args)
        decision = self.leash.check(spec.leash_tool, target)
        allowed = decision.allowed or (decision.verdict == "ask" and self._confirm(f"{name}: {target}\n({decision.reason}) Allow?"))
        self.log.step("decision", tool=name, target=target, verdict=decision.verdict, rule=decision.rule, reason=decision.reason, allowed=allowed)
        self.on_event("tool", name=name, target=target, allowed=allowed, reason=decision.reason)
        if not allowed:
            self.refusals += 1
            why = decision.reason if decision.verdict == "deny" else f"{decision.reason}, and no one approved it"
            self._stuck(f"refused {name} {target}", f"the leash refused {name} {target!r} twice")
            return f"Refused by the leash ({decision.rule}): {why}. Do the task without it."
        ok, text = self.toolbox.call(name, args)
        self.log.step("tool", name=name, args=args, ok=ok, output=text)
        if not ok:
            self._stuck(f"{name} {sorted(args.items())}", f"{name} {target!r} failed twice")
        return self.fence.wrap(f"{name} {target}", text)

    def _confirm(self, question: str) -> bool:
        return self.person is not None and self.person.confirm(question)

    def _stuck(self, key: str, what: str) -> None:
        """The same failure twice means the model is going round in circles: stop, or ask."""
        self.failures[key] = self.failures.get(key, 0) + 1
        if self.failures[key] >= 2:
            if self._confirm(f"The agent is repeating itself: {what}. Go on?"):
                self.failures[key] = 0
                return
            raise Stop("stuck", what)

    # -- edits --------------------------------------------------------------------------------

    def _edit(self, text: str) -> Outcome:
        outcome = self._attempt(text)
        if outcome.applied and not outcome.passed and self.leash.level == "agent" and self.candidates > 1:
            outcome = self._best_of(outcome)
        if outcome.applied:
            self.last = outcome.commit
        if not outcome.passed:
            key = hashlib.sha256(repr([(e.path, e.search, e.replace) for e in parse_reply(outcome.text, self.formats)]).encode()).hexdigest()
            self._stuck(f"edit {key}", "the same failing edit was proposed twice")
        return outcome

    def _best_of(self, first: Outcome) -> Outcome:
        """Sample more candidates for the same turn; keep the one the checks score best."""
        best = first
        try:
            for n in range(1, self.candidates):
                self._reset(self.last)  # the state before this turn, with any file first touched since at its original
                self.on_event("note", text=f"checks fail; trying candidate {n + 1} of {self.candidates}")
                candidate = self._attempt(self._generate(temperature=0.7, seed=n).text)
                if candidate.applied and candidate.score > best.score:
                    best = candidate
                if best.passed:
                    break
        finally:
            self._reset(best.commit)
        self.log.step("note", text=f"kept the candidate scoring {best.score}")
        return best

    def _attempt(self, text: str) -> Outcome:
        reviewed = self.person is not None and self.leash.level == "approve"  # else files the leash won't allow are left out
        keep = None if reviewed or self.leash.level == "suggest" else (lambda path: self.leash.check("write", path).allowed)
        report, plan = propose(self.root, text.replace(search_replace.EXAMPLE.strip(), ""), self.formats, keep)  # small models copy the example
        refused = "".join(f"\nYour change to {p} was left out: the leash does not let you write it." for p in report.left_out)
        self.refusals += len(report.left_out)
        if not report.applied:
            self.log.step("diff", applied=False, error=report.feedback())
            return Outcome(text, False, "Your edit was not applied; nothing changed.\n" + report.feedback())
        changes = plan.changes()
        files = [rel for rel, _, _ in changes]
        if not changes:
            return Outcome(text, False, refused.strip() or "Your edit changes nothing; the files already read like that.")
        proposed = plan.diff()
        self.on_event("diff", diff=proposed)
        self.log.step("diff", applied=None, diff=proposed, files=files)
        if not (proposal := self.leash.check("propose", ", ".join(files))).allowed:
            self.refusals += 1
            return Outcome(text, False, f"Refused by the leash ({proposal.rule}): {proposal.reason}.")
        if self.leash.level == "suggest":
            raise Stop("proposed", "the change is shown as a suggestion; level suggest applies nothing", proposed)
        all_hunks = {rel: hunk_mod.split(rel, before, after) for rel, before, after in changes}
        decision = self.leash.check_change({rel: sum(max(len(h.old), len(h.new)) for h in hs) for rel, hs in all_hunks.items()})
        self.log.step("decision", tool="write", target=", ".join(rel for rel, _, _ in changes), verdict=decision.verdict, rule=decision.rule, reason=decision.reason)
        if decision.verdict == "deny":
            self.refusals += 1
            return Outcome(text, False, f"Refused by the leash ({decision.rule}): {decision.reason}.")
        if decision.verdict == "ask":
            if self.person is None:
                self.refusals += 1
                return Outcome(text, False, f"Refused: {decision.reason}, and no one is here to approve it.")
            flat = [h for hs in all_hunks.values() for h in hs]
            taken = self.person.review(flat)
            if taken is None:
                raise Stop("stopped", "the person stopped the run")
            self.log.step("decision", tool="review", taken=taken)
            if not any(taken):
                return Outcome(text, False, "The user declined this change. Ask yourself what they want instead.")
            for rel, before, _ in changes:
                chosen = [taken[flat.index(h)] for h in all_hunks[rel]]
                plan.texts[rel] = hunk_mod.combine(before, all_hunks[rel], chosen)
        files = [rel for rel, _, _ in plan.changes()]
        if not files:
            return Outcome(text, False, "No hunk was taken; nothing changed.")
        self._first_touch(files)
        files, diff = plan.commit({"before": self.start, "message": f"tether do (interrupted run {self.log.id})",
                                   "files": sorted(self.touched)})
        commit = self._snapshot(f"run {self.log.id}: {', '.join(files)}", files, self.last)
        self.changed.update(files)
        self.log.step("diff", applied=True, diff=diff, files=files)
        self.checks = [self._check(c) for c in self.verify.commands]
        feedback = "Applied to " + ", ".join(files) + "." + refused
        if self.checks:
            failing = [c for c in self.checks if not c.ok]
            feedback += (" The checks pass. If the request is fully done, reply DONE; else go on." if not failing else
                         " These checks fail:\n" + "\n".join(self.fence.wrap(c.command, c.summary()) for c in failing) +
                         "\nFix the code. " + self._ask_for_edit())
        return Outcome(text, True, feedback, files, list(self.checks), commit)

    def _check(self, command: str) -> CommandResult:
        self.on_event("status", step=self.leash.spent.steps, tokens=sum(self.usage), cost=self.cost, doing=f"running {command}")
        settings = dataclasses.replace(self.verify, timeout=min(self.verify.timeout, self._time_left()))
        result = run_command(command, self.root, settings, self.confined)
        self.log.step("verify", command=command, code=result.code, seconds=round(result.seconds, 3), output=result.output)
        self.on_event("verify", command=command, ok=result.ok, code=result.code, output=result.output)
        return result

    # -- checkpoints: only the files the run touches ------------------------------------------

    def _snapshot(self, message: str, paths: list[str], base: str | None) -> str:
        commit = self.checkpoints.snapshot(message, paths, base)
        self.known[commit] = self.known.get(base, frozenset()) | frozenset(paths)
        return commit

    def _first_touch(self, files: list[str]) -> None:
        """Files the run is about to write for the first time join the run's start (and the
        current state) as they are now, so every later reset and the final undo know them."""
        new = sorted(set(files) - self.touched)
        if new:
            self.start = self._snapshot(f"before run {self.log.id}", new, self.start)
            self.last = self._snapshot(f"run {self.log.id}: first touch", new, self.last)
            self.touched.update(new)

    def _reset(self, commit: str) -> None:
        """The touched files as `commit` has them; those it never saw, as they were at the start."""
        known = self.known.get(commit, frozenset())
        self.checkpoints.restore(commit, [f for f in sorted(self.touched) if f in known])
        self.checkpoints.restore(self.start, [f for f in sorted(self.touched) if f not in known])

    # -- the end ------------------------------------------------------------------------------

    def _finish(self, instruction: str, stop: Stop, seconds: float) -> RunResult:
        final = self._snapshot(f"end of run {self.log.id}", sorted(self.touched), self.start)
        changed = self.checkpoints.changed_files(self.start, final) if self.changed else []
        diff = self.checkpoints.diff(self.start, final) if changed else ""
        if changed:
            self.checkpoints.record(self.start, f"tether do: {instruction[:80]}", changed)
        self.log.totals(self.leash.spent.steps, *self.usage, self.cost, seconds)
        self.log.finish(stop.status, stop.reason, changed)
        return RunResult(self.log.id, stop.status, stop.reason, stop.answer, changed, diff, self.leash.spent.steps,
                         self.usage[0], self.usage[1], self.cost, seconds, list(self.checks))
