"""What the user's stop hooks (guard/hooks.py) do to a run's end. Where the model ends the run (its
DONE line, or a change whose checks pass at `auto`), the first denial sends it back to work once
with the hook's reason, as Claude Code's Stop hook does; a second denial is recorded and named in
the run's reason, and the run ends as it would have. Every other end (a limit, Stop, an error, a
run stuck) is only told to the hooks: their denial is recorded, and changes nothing."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..guard.hooks import HookBroken
from .result import Stop

if TYPE_CHECKING:
    from .loop import Agent


def ends(run: Agent, stop: Stop, reply: str, feedback: str = "") -> Stop | None:
    """The run's end as the stop hooks let the model choose it; None: a hook sent the model back,
    and the conversation goes on with its reason."""
    run.heard = stop
    denial = run.hooks.stop(stop.status, stop.reason, again=run.sent_back)
    if denial is None:
        return stop
    run.refusals += 1
    if run.sent_back:
        run.heard = Stop(stop.status, f"{stop.reason}; {denial.hook.rule} still refused to let the run end: {denial.reason}", stop.answer)
        return run.heard
    run.sent_back = True
    told = f"{denial.refusal} The run is not over: go on with the task, and reply DONE when it is done."
    run._continue(reply, f"{feedback}\n\n{told}" if feedback else told)
    return None


def heard(run: Agent, stop: Stop) -> Stop:
    """Any end the model did not choose, told to the stop hooks (once): a denial is recorded only."""
    if stop is run.heard:
        return stop
    run.heard = stop
    try:
        run.hooks.stop(stop.status, stop.reason, again=run.sent_back)
    except KeyboardInterrupt:  # a second Ctrl-C during the hook: the run is recorded all the same
        pass
    except HookBroken as e:  # the run is over already: its reason says the hook is broken
        return Stop(stop.status, f"{stop.reason}; {e}", stop.answer)
    return stop
