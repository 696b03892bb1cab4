"""Agent runs started from the browser: each runs in a thread, its steps kept as events the
pages stream, and the leash's questions waiting for a person's answer on a page."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from ..autonomy.agent import start
from ..autonomy.agent.result import RunResult, Status
from ..autonomy.edits.hunks import Hunk
from ..autonomy.history.checkpoints import Checkpoints
from ..autonomy.history.runlog import headline
from ..errors import Cancelled, TetherError
from ..layering import LEVELS
from ..mcp.client import tools_for
from ..redaction import redact_all
from .review import ReviewView

if TYPE_CHECKING:
    from ..autonomy.agent.start import RunOptions
    from ..autonomy.answers.ask import Answer
    from ..llm import GridLike


class Conflict(TetherError):
    """Another tab (or the same one twice) already decided this; `link` is the page that holds it."""

    http_status, error_type = 409, "conflict"

    def __init__(self, message: str, link: str | None = None):
        super().__init__(message)
        self.link = link


@dataclass
class Question:
    """What the run waits for: a yes/no (`confirm`) or a decision per hunk (`review`)."""

    id: int
    kind: str
    text: str = ""
    hunks: list[Hunk] = field(default_factory=list)
    taken: list[bool | None] = field(default_factory=list)
    order: list[int] = field(default_factory=list)  # hunks in the order decided, for undo
    answer: object = None
    done: threading.Event = field(default_factory=threading.Event)
    view: ReviewView | None = None  # the hunks as the page shows them (set for a review)

    def to_dict(self) -> dict:
        view = self.view or ReviewView(None, self.hunks)
        return {
            "id": self.id,
            "type": self.kind,
            "text": self.text,
            "taken": self.taken,
            "hunks": [view.hunk(n) for n in range(len(self.hunks))],
        }


class Live:
    """Work in a thread whose events (numbered from 1) the pages stream, with a start time from
    the server's clock (a reload shows the true age); `result` is None while it goes on."""

    def __init__(self, key: str):
        self.key = key
        self.events: list[dict] = []
        self.result: Any = None
        self.started = time.time()
        self._changed = threading.Condition()
        self.thread = threading.Thread(target=self._run, name=f"tether-{self.key}", daemon=True)

    def start(self):
        self.thread.start()
        return self

    def _run(self) -> None:
        raise NotImplementedError

    def event(self, kind: str, **data) -> None:
        if kind not in ("question", "decision"):  # a diff, a reply, a check's output: secrets redacted as the run log has them
            data = redact_all(data)  # (a review's rows are redacted before they are coloured: see ReviewView)
        with self._changed:
            self.events.append({"seq": len(self.events) + 1, "kind": kind, "ts": time.time(), **data})
            self._changed.notify_all()

    def wait(self, after: int, timeout: float) -> list[dict]:
        """Events after number `after`, waiting up to `timeout` seconds for one."""
        with self._changed:
            self._changed.wait_for(lambda: len(self.events) > after, timeout)
            return self.events[after:]

    @property
    def running(self) -> bool:
        return self.result is None


class WebAsk(Live):
    """A question asked from the browser: the prompt read and the claims written as events, Stop
    at any point, and the checked Answer (or why there is none) as its result."""

    def __init__(self, key: str, grid: GridLike, root, question: str, model: str):
        super().__init__(key)
        self.grid, self.root, self.instruction, self.model = grid, root, question, model
        self.cancel = threading.Event()
        self.answer: Answer | None = None

    def _run(self) -> None:
        from ..autonomy.answers.ask import answer

        status, reason = "answered", ""
        try:
            self.answer = answer(
                self.grid,
                self.root,
                self.instruction,
                self.model,
                on_claim=lambda text: self.event("claim", text=text),
                on_event=self.event,
                cancel=self.cancel,
            )
        except Cancelled:
            status, reason = "stopped", "stopped; nothing was answered"
        except Exception as e:  # a model that is down, a bad reply: the page says so, and the server goes on
            status, reason = "error", str(e) if isinstance(e, TetherError) else f"the question failed: {e!r}"
        self.result = {"status": status, "reason": reason}
        self.event("end", **self.result)

    def stop(self) -> None:
        self.cancel.set()


class WebRun(Live):
    """One agent run: its events, the question it waits on, its result."""

    def __init__(self, key: str, build: Callable[[_Person, Callable[..., None]], start.AgentRun]):
        """`build(person, on_event)` makes the run (start.prepare, start.resume): this page is its person."""
        super().__init__(key)
        self.question: Question | None = None
        self.result: RunResult | None = None
        self.ended = 0.0
        self._questions = itertools.count(1)
        self.agent_run = build(_Person(self), self.event)
        self.instruction, self.root = self.agent_run.options.instruction, self.agent_run.options.root
        self.prepared: start.AgentRun | _Ended = self.agent_run  # what stop and the level reach

    def _run(self) -> None:
        try:
            self.result = self.agent_run.run()
        except Exception as e:  # e.g. no sandbox for the checks: the page says so, and the server goes on
            self.result = RunResult("", Status.ERROR, str(e) if isinstance(e, TetherError) else f"the run failed: {e!r}")
        self.ended = time.time()
        self.prepared = _Ended(self.prepared.level)  # the agent (its conversation, index, checks) is freed; the events stay
        del self.agent_run
        self.event("end", **self.result.to_dict())

    def stop(self) -> None:
        self.prepared.stop()
        q = self.question
        if q is not None and not q.done.is_set():  # a run waiting for a person stops too
            q.answer = None
            q.done.set()

    # -- the person's side ----------------------------------------------------------------------

    def ask(self, kind: str, text: str = "", hunks: list[Hunk] | None = None):
        q = Question(next(self._questions), kind, text, list(hunks or []), [None] * len(hunks or []))
        if hunks:
            q.view = ReviewView(self.root, q.hunks)
        self.question = q
        self.event("question", **q.to_dict())
        while not q.done.wait(0.2):
            if self.prepared.stopping:
                return None
        self.question = None
        self.event("answered", id=q.id)
        return q.answer

    def confirm(self, question_id: int, yes: bool) -> None:
        q = self._open(question_id, "confirm")
        q.answer = yes
        q.done.set()

    def decide(self, question_id: int, hunk: int, taken: bool | None, new_text: str | None = None) -> dict:
        """One hunk's decision (None: undo it). The review ends when every hunk is decided."""
        q = self._open(question_id, "review")
        with self._changed:
            if not 0 <= hunk < len(q.hunks):
                raise TetherError(f"there is no hunk {hunk + 1} in this review ({len(q.hunks)} hunks)")
            if taken is None:
                q.taken[hunk] = None
                q.order = [n for n in q.order if n != hunk]
            elif q.taken[hunk] is not None:
                raise Conflict(f"hunk {hunk + 1} was already decided (another tab?); reload the page")
            else:
                if new_text is not None:
                    if not taken:
                        raise TetherError("an edited hunk is taken, not rejected")
                    q.hunks[hunk].edit(new_text)
                q.taken[hunk] = taken
                q.order.append(hunk)
            state: dict[str, Any] = {"id": q.id, "taken": list(q.taken), "complete": all(t is not None for t in q.taken)}
            if new_text is not None and q.view:
                state["edited"] = q.view.edited(hunk)  # every tab shows the person's text, coloured
        self.event("decision", **state)
        if state["complete"]:
            q.answer = [bool(t) for t in q.taken]
            q.done.set()
        return state

    def unfold(self, question_id: int, hunk: int, where: str, shown: int) -> list[list]:
        q = self._open(question_id, "review")
        if q.view is None or not 0 <= hunk < len(q.hunks):
            raise TetherError(f"there is no hunk {hunk + 1} in this review")
        return q.view.unfold(hunk, where, shown)

    def undo(self) -> str:
        """Take back what this run applied (a person's `u` after the review that applied it): the
        run is stopped first, then its change is undone as the timeline would, never over a file
        changed since. Blocks until the run has ended."""
        if self.running:
            self.stop()
            self.thread.join(30)
            if self.thread.is_alive():
                raise Conflict("the run has not stopped yet; try again in a moment")
        result = self.result
        if result is None or not result.changed:
            return "this run changed nothing; there is nothing to undo"
        points = Checkpoints(self.root)
        entries = points.log()
        current = max((e["number"] for e in entries if e["applied"]), default=0)
        mine = [  # the change this run recorded as it ended: its message, its files, made while it ran
            e["number"]
            for e in entries
            if e["message"] == f"tether do: {headline(self.instruction, 80)}"
            and self.started <= e["time"] <= self.ended
            and sorted(e["files"]) == sorted(result.changed)
        ]
        if not mine or mine[-1] != current:
            raise Conflict("this run's change is not the last one applied; undo it from the timeline", link="/timeline")
        points.restore_to(current - 1)
        message = f"undone: this run's change to {', '.join(result.changed)} (change {current}; redo it from the timeline)"
        self.event("undone", text=message)
        return message

    def _open(self, question_id: int, kind: str) -> Question:
        q = self.question
        if q is None or q.id != question_id or q.kind != kind or q.done.is_set():
            raise Conflict("that question was already answered (another tab?); reload the page")
        return q


@dataclass
class _Ended:
    """What a page still asks of a run that ended."""

    level: str
    stopping: bool = True

    def stop(self) -> None:
        pass

    def set_level(self, level: str) -> None:
        if level not in LEVELS:
            raise TetherError(f"unknown autonomy level {level!r} (levels: {', '.join(LEVELS)})")
        raise Conflict("this run has ended; start a new one at that level")


class _Person:
    """The Agent's Person, answered from the browser."""

    def __init__(self, run: WebRun):
        self.run = run

    def confirm(self, question: str) -> bool:
        return bool(self.run.ask("confirm", question))

    def review(self, hunks: list[Hunk]) -> list[bool] | None:
        return self.run.ask("review", hunks=hunks)


class Runs:
    """The runs and questions this server started, by key (r1, r2, … and a1, a2, …)."""

    def __init__(self):
        self.all: dict[str, WebRun] = {}
        self.asks: dict[str, Live] = {}  # questions, and plans being made (web/plans.py)
        self.numbers = itertools.count(1)  # shared by every workspace of a server (see `after`): a key names one run

    def after(self) -> Runs:
        """The runs of another workspace of the same server, numbered on from these."""
        other = Runs()
        other.numbers = self.numbers
        return other

    def start(self, grid: GridLike, options: RunOptions) -> WebRun:
        tools = tools_for(grid.config, options.root)  # the MCP servers of the user's config (started by the run, closed at its end)
        return self._begin(lambda person, shown: start.prepare(options, grid, person=person, on_event=shown, tools=tools))

    def resume(self, grid: GridLike, root: Path, run_id: str, changes: Mapping) -> WebRun:
        """Go on with a stopped, failed or killed run (start.resume), from its page in the log."""
        tools = tools_for(grid.config, root)
        return self._begin(lambda person, shown: start.resume(grid, root, run_id, changes, person=person, on_event=shown, tools=tools))

    def start_with(self, build) -> WebRun:
        """A run that `build(person, on_event)` makes (a plan's: planrun.prepare), started as Start's is."""
        return self._begin(build)

    def keep(self, job: Live) -> Live:
        """Other work of the workspace (a plan being made): streamed, stopped and waited for as a question is."""
        self.asks[job.key] = job
        return job.start()

    def _begin(self, build) -> WebRun:
        if going := next((r for r in self.all.values() if r.running), None):
            raise Conflict("a run is already going in this workspace; stop it first", link=f"/runs/{going.key}")
        run = WebRun(f"r{next(self.numbers)}", build)
        self.all[run.key] = run
        return run.start()

    def ask(self, grid: GridLike, root, question: str, model: str) -> WebAsk:
        """Questions never wait on a run's leash; on one local model they take turns."""
        job = WebAsk(f"a{next(self.numbers)}", grid, root, question, model)
        self.asks[job.key] = job
        return job.start()

    def going(self) -> Live | None:
        """A run or a question of this workspace that has not ended, if any."""
        return next((job for job in (*self.all.values(), *self.asks.values()) if job.running), None)

    def get(self, key: str, kind: type = Live):
        found = self.all.get(key) or self.asks.get(key)
        if not isinstance(found, kind):
            raise TetherError(
                f"no {'question' if kind is WebAsk else 'run'} {key!r} in this server "
                "(those started before it are in the timeline and `tether log`)"
            )
        return found
