"""One turn of a run: the conversation fitted to the window, the leash charged, the model asked
(bounded by the run's time, stoppable, its progress shown), and what the reply cost counted."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ...context import tokens
from ...errors import Cancelled, TetherError
from ...llm.types import Response
from .. import memory
from .progress import CallProgress
from .result import Status, Stop

if TYPE_CHECKING:
    from .loop import Agent


def generate(run: Agent, **opts) -> Response:
    if run.cancel.is_set():
        raise Cancelled("stopped")
    run.take_level()
    verdict = run.leash.charge(steps=1)
    if not verdict.allowed:
        raise Stop(Status.BUDGET, verdict.reason)
    fit(run)
    time_for_reply(run)
    run.status("thinking")
    messages = [{"role": m["role"], "content": m["content"]} for m in run.messages]  # a copy, without our marks
    opts.setdefault("seed", 0)  # the same request gets the same first reply; candidates vary it
    if run.grammar and run.checks.failing:
        opts["grammar"] = run.grammar
    opts["cancel"] = run.cancel
    try:  # the run's time limit bounds the call in flight, not only the next one
        reply = run.grid.complete(
            run.model,
            messages,
            max_tokens=run.output_tokens,
            deadline=run.time_left(),
            progress=CallProgress(run.on_event, run.leash.spent),
            **opts,
        )
    except TetherError as e:
        _cut_off(run, e)
        raise
    u = reply.usage
    verdict = run.leash.charge(
        usd=reply.cost_usd, input_tokens=u.input_tokens, output_tokens=u.output_tokens, cached_tokens=u.cached_tokens
    )
    run.last_reply = u.output_tokens
    run.pace.observe(messages, reply)
    detail = reply.log_fields()
    step = run.log.step(
        "reply", **detail, **{k: v for k, v in opts.items() if k not in ("cancel", "grammar")}, constrained="grammar" in opts
    )
    for note in memory.remembered(reply.text):
        run.memory.propose(note, run.log.id, step)
    run.on_event("reply", **detail)
    run.totals()
    run.status("")
    if not verdict.allowed:
        raise Stop(Status.BUDGET, verdict.reason)
    return reply


def _cut_off(run: Agent, e: TetherError) -> None:
    """A reply cut off (stopped, out of time) still cost what it read and wrote."""
    if e.usage is not None:
        u = e.usage
        run.leash.charge(usd=e.cost_usd, input_tokens=u.input_tokens, output_tokens=u.output_tokens, cached_tokens=u.cached_tokens)
        run.log.step(
            "note",
            text=f"the reply was cut off after reading {u.input_tokens} prompt tokens and writing {u.output_tokens}: {e}",
            **u.to_dict(),
        )
        run.totals()
    if run.time_left() <= 0.05:
        raise Stop(Status.BUDGET, f"the run used its {run.leash.budget.seconds:g} seconds") from None


def time_for_reply(run: Agent) -> None:
    """Stop rather than start a reply the time limit must cut off: the reply the edit format
    writes for the run's one file comes after the prompt's uncached tail is read, at the speeds
    this run has shown. In the 40-exercise run, 38 runs ended inside a reply the limit cut, 23 s
    of it each, wasted."""
    budget = run.leash.budget.seconds
    if not run.sole or not budget or (reply := run.format.reply_tokens(run.root / run.sole, run.last_reply)) is None:
        return
    needed, left = run.pace.seconds(run.messages, reply), run.time_left()
    if needed is not None and left < needed:
        raise Stop(
            Status.BUDGET,
            f"the run used its {budget:g} seconds: {left:.0f} were left, and reading the prompt and "
            f"writing {run.sole} again takes about {needed:.0f} at this model's speed",
        )


def fit(run: Agent) -> None:
    """Keep the conversation inside the window: older turns shrink to one line each."""
    limit = run.window() - run.output_tokens
    for m in run.messages[2:-2]:
        if sum(tokens.count(x["content"]) for x in run.messages) + 8 * len(run.messages) <= limit:
            return
        if not m.get("condensed"):
            first = m["content"].strip().splitlines()[0][:120] if m["content"].strip() else ""
            m["content"], m["condensed"] = f"[earlier {'reply' if m['role'] == 'assistant' else 'result'}, condensed: {first} …]", True
    if sum(tokens.count(x["content"]) for x in run.messages) > limit:
        raise Stop(Status.BUDGET, "the conversation no longer fits the model's context window")
