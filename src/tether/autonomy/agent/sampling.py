"""More samples where the conversation will not get further: candidates for a turn that gained
nothing (`agent` level, `candidates` above one), and fresh samples from the opening prompt when
the model writes a failed change again. The checks choose among them."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..guard.verify import failure_report, score
from .judge import key
from .opening import anew
from .proposal import Outcome
from .result import Status, Stop

if TYPE_CHECKING:
    from .loop import Agent

FRESH_TEMPERATURE = 1.0  # samples after a repeat: spread wide, the checks choose
UNCHANGED = "the model changed nothing: it wrote the files as they already are, and the checks fail on them"


def again(run: Agent, text: str, unchanged: bool = False) -> Outcome:
    """The model wrote a change that already failed. A small model copies its own earlier reply
    from the conversation: qwen2.5-coder-1.5b wrote the same file token for token three times,
    the last at temperature 0.7. Where no person reviews each change, that ends the run, unless
    the person asked for more candidates: then samples from the opening prompt alone go on.
    In six agent-benchmark runs such samples passed 2 times in about 140, and in the last they
    were a third of the tokens; a run started again sees the failing file in outline, which is
    the same sample. Where a person reviews, say so once, and stop the second time. `unchanged`:
    the change wrote the files as they already are (a failing change an earlier run left), so the
    reason says the model changed nothing rather than that it repeated itself."""
    if run.unreviewed() and run.candidates == 1:
        raise Stop(Status.STUCK, UNCHANGED if unchanged else "the model wrote a failed change again")
    if run.unreviewed():
        run.judge.stuck("again", "the model wrote a failed change again after fresh samples from the opening prompt")
        return fresh(run, text)
    run.judge.stuck("again", "the same failing edit was proposed twice")
    return Outcome(
        text,
        False,
        f"You proposed this same edit before and it failed; it was not applied again. Make a different change. {run.format.ask}",
    )


def best_of(run: Agent, first: Outcome) -> Outcome:
    """Sample more candidates for the same turn; keep the one the checks score best."""
    best = first
    try:
        for n in range(1, run.candidates):
            run.trail.reset()  # the state before this turn, with any file first touched since at its original
            run.on_event("note", text=f"checks fail; trying candidate {n + 1} of {run.candidates}")
            text = run.generate(temperature=0.7, seed=n).text
            candidate = run.attempt(text, run.parse(text))
            if candidate.applied and candidate.score > best.score:
                best = candidate
            if best.passed:
                break
    finally:
        run.trail.reset(best.commit)
        run.checks.keep(best.checks)
    run.log.step("note", text=f"kept the candidate scoring {best.score}")
    return best


def fresh(run: Agent, text: str) -> Outcome:
    """Samples from the opening prompt and the files as the run found them — no failed reply to
    copy — told only how the checks failed; the run goes on from the best, if it is no worse
    than where it stood (else it is stuck, unless a person lets it go on). A round that gained
    earns the run another: one round a run stopped isogram at 50 of its 100 seconds, a test short."""
    opening, checks, outlined = run.messages[:2], list(run.checks.results), run.outlined
    user = anew(run, opening[1]["content"])
    run.outlined = outlined or user != opening[1]["content"]
    run.messages = [
        opening[0],
        {
            **opening[1],
            "content": user + "\n\nA change was tried and the checks "
            f"failed like this:\n{failure_report(checks, run.fence.wrap)}\nWrite a different solution. {run.format.ask}",
        },
    ]
    best: Outcome | None = None
    samples = run.candidates - 1
    try:
        for n in range(1, samples + 1):
            run.trail.reset(run.trail.start)
            run.on_event("note", text=f"the model repeated a failed change; fresh sample {n} of {samples}")
            sample = run.generate(temperature=FRESH_TEMPERATURE, seed=n).text
            edits = run.parse(sample)
            if not edits or (k := key(edits)) in run.judge.failed_edits:
                continue
            candidate = run.attempt(sample, edits)
            if not candidate.passed:
                run.judge.failed_edits.add(k)
            if candidate.applied and (best is None or candidate.score > best.score):
                best = candidate
            if best and best.passed:
                break
    finally:
        run.messages, run.outlined = opening, outlined
        if best and score(best.checks) < score(checks):
            best = None
        run.trail.reset(best.commit if best else None)
        run.checks.keep(best.checks if best else checks)
    if best is None:
        run.judge.stuck("again", f"the model wrote a failed change again, and {samples} fresh sample(s) did no better")
        return Outcome(
            text, False, f"This change failed before, and fresh attempts did no better. Make a different change. {run.format.ask}"
        )
    if score(best.checks) > score(checks):  # progress: the next repeat earns a fresh round of its own
        run.judge.failures["again"] = 0
    run.trail.keep(best.commit)
    run.log.step("note", text=f"went on from a fresh sample scoring {best.score}")
    return best
