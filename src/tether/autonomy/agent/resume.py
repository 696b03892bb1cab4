"""Resuming a run: a `tether do` that was stopped, ran out of budget, failed, or was killed (kill
-9, a crash) goes on with its conversation, its options, its leash and what it has spent.

All of it comes from the run log: the options the run started with (its last `start` step), the
conversation (its prompt and reply steps), its totals. The workspace is where the run left it —
a Stop puts it back at the last checkpoint, and a write a crash cut short is finished or undone
by the journal — so the model goes on from the files as they are. A run that ended recorded its
change for undo already; what it changes now is one more entry. A killed run recorded nothing,
so its resumed part takes up its checkpoint (named by each applied step) and the whole run is
one entry, as if it had never stopped."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from ...errors import TetherError
from ...store import Store
from ..guard.leash import RunBudget, Spent
from ..history import runlog
from ..history.checkpoints import Checkpoints

__all__ = ["Resumed", "find", "over_budget"]

FINISHED = ("done", "answered", "proposed")  # a run that did what it was asked: start a new one instead


@dataclass
class Resumed:
    run: dict  # its row in the run log, status "interrupted" where a kill left it "running"
    options: dict  # what it started with (RunOptions' fields), where it logged them
    messages: list[dict]  # the conversation as the model last saw it
    spent: Spent
    checkpoint: dict | None  # a killed run's {"start", "touched"}: its changes join the resumed run's undo entry

    @property
    def id(self) -> str:
        return self.run["id"]

    def note(self) -> str:
        """What the model hears when the run goes on."""
        why = "was killed" if self.run["status"] == "interrupted" else f"stopped ({self.run['status']}: {self.run.get('reason') or ''})"
        return (
            f"The run {why} and is resumed now. The files are as your applied changes left them. "
            "Go on with the request from where you were; when all is done, reply DONE."
        )

    def conversation(self) -> list[dict]:
        """The logged conversation and, last, a user turn that says the run goes on."""
        return _told([dict(m) for m in self.messages], self.note())


def find(store: Store, root: Path, run_id: str | None = None) -> Resumed:
    """The run to resume: `run_id` (or a unique start of it), else the workspace's last `tether
    do`; one clear error for a run that is going on, finished, or not a `do`."""
    if run_id is None:
        last = [r for r in runlog.runs(store, str(root), limit=50, chats=False) if r["command"] == "do"]
        if not last:
            raise TetherError(f"no run of `tether do` in {root} to continue")
        run_id = last[-1]["id"]
    found = runlog.replay(store, run_id)
    if found is None or found[0]["command"] != "do":
        raise TetherError(f"no single run of `tether do` matches {run_id!r}; `tether log` lists the runs")
    run, steps = found
    if run["status"] == "running":  # replay calls a run whose process is gone interrupted
        raise TetherError(f"run {run['id']} is still going on; stop it first (Stop in `tether ui`, Ctrl-C where it runs)")
    if run["status"] in FINISHED:
        raise TetherError(f"run {run['id']} ended {run['status']}: there is nothing to resume; `tether do` starts a new run")
    if Path(run["root"]) != Path(root):
        raise TetherError(f"run {run['id']} worked in {run['root']}, not in {root}; resume it there (--path)")
    starts = [s for s in steps if s["kind"] == "start"]
    options = {k: v for k, v in starts[-1].items() if k not in ("n", "ts", "kind", "resumed")} if starts else {}
    options.setdefault("instruction", run["instruction"])
    options.setdefault("level", run["level"])
    options.setdefault("model", run["model"])
    spent = Spent(
        usd=run["cost_usd"] if run["cost_usd"] is not None else None if run["steps"] else 0.0,  # None: a price was unknown
        input_tokens=run["input_tokens"],
        output_tokens=run["output_tokens"],
        steps=run["steps"],
        started=time.monotonic() - (run["seconds"] or 0.0),
    )
    checkpoint = _checkpoint(root, run["id"], steps) if run["status"] == "interrupted" else None  # Ctrl-C recorded its change
    return Resumed(run, options, conversation(steps), spent, checkpoint)


def conversation(steps: list[dict]) -> list[dict]:
    """The messages of a run's last opening and every turn after it, as they were logged."""
    messages: list[dict] = []
    reply = None  # the last reply not yet in the messages
    for s in steps:
        if s["kind"] == "reply":
            reply = s.get("text", "")
        elif s["kind"] == "prompt" and s.get("system"):  # an opening: the conversation starts (again) here
            messages, reply = [{"role": "system", "content": s["system"]}, {"role": "user", "content": s.get("user", "")}], None
        elif s["kind"] == "prompt" and s.get("resumed") and messages:  # what a resume told the model
            messages = _told(messages if reply is None else [*messages, {"role": "assistant", "content": reply}], s.get("user", ""))
            reply = None
        elif s["kind"] == "prompt" and messages:
            said = s.get("assistant", reply)  # what the model is shown as its own turn (a kept candidate, say)
            messages += [{"role": "assistant", "content": said or ""}, {"role": "user", "content": s.get("user", "")}]
            reply = None
    if reply is not None and messages:
        messages.append({"role": "assistant", "content": reply})
    if not messages:
        raise TetherError("the run stopped before its first prompt: there is no conversation to go on with; start it anew")
    return messages


def _told(messages: list[dict], text: str) -> list[dict]:
    """`text` as the user's next word: added to their last turn, or a turn of its own."""
    if messages[-1]["role"] == "user":
        messages[-1] = {**messages[-1], "content": messages[-1]["content"] + "\n\n" + text}
    else:
        messages.append({"role": "user", "content": text})
    return messages


def over_budget(spent: Spent, budget: RunBudget) -> str | None:
    """Which of the run's limits it has used up already, as a flag to raise (None: none)."""
    for name, used, limit in (
        ("steps", spent.steps, budget.steps),
        ("tokens", spent.tokens, budget.tokens),
        ("usd", spent.usd, budget.usd),
        ("seconds", spent.seconds, budget.seconds),
    ):
        if limit is not None and used is not None and used >= limit:
            return f"it used {used:g} of its {limit:g} {name}; raise its max {name} to go on"
    return None


def _checkpoint(root: Path, run_id: str, steps: list[dict]) -> dict | None:
    """A killed run's first checkpoint and the files it touched, from its last applied step, for
    the resumed run to take up; None where it applied nothing, or where its change is recorded for
    undo already. Where a file it touched was changed since (by a person, say), its part is
    recorded as a change of its own, so that no undo of the resumed run takes that edit back."""
    applied = [s for s in steps if s["kind"] == "diff" and s.get("applied") and s.get("start")]
    if not applied:
        return None
    last = applied[-1]
    checkpoints = Checkpoints(root)
    if any(entry["before"] == last["start"] for entry in checkpoints.log()):
        return None
    touched = list(last.get("touched") or last.get("files") or [])
    if last.get("checkpoint") and checkpoints.differs(last["checkpoint"], touched):
        checkpoints.record(last["start"], f"tether do (interrupted run {run_id})", touched, after=last["checkpoint"])
        return None
    return {"start": last["start"], "touched": touched}
