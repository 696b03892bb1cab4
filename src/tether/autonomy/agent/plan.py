"""A plan before the change: numbered steps, each one small change with the files it touches and
how it is checked (a command, or "review" where nothing can be run), and where it stands (todo,
done, failed, skipped).

Its text form is plain markdown a person edits in $EDITOR or a page, and it is read back leniently:
numbers are given anew from the order, a missing field is no field, prose under a step goes with
the step to the model, and only a text that leaves no step at all is an error. `make_plan` asks a
model for one, READ-ONLY: the model sees the repository as a run's opening would (files, search
hits, the repo map, redacted and fenced as untrusted data) and answers in JSON held to a schema
that a 1.5B model writes reliably; any other reply is read as best it can be. Carrying a plan out
is planrun.py's."""

from __future__ import annotations

import json
import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from ...context import tokens
from ...errors import Cancelled, TetherError
from ...llm.types import Response
from ...paths import write_text
from ..edits.workspace import PathRefused, still
from ..guard.untrusted import Fence
from ..guard.verify import VerifySettings
from ..history.runlog import RunLog
from .brief import brief
from .progress import CallProgress
from .tools import Toolbox

if TYPE_CHECKING:
    from ...llm.protocol import GridLike

__all__ = ["DEFAULT_FILE", "STATUSES", "Plan", "Step", "load", "make_plan", "parse", "plan_path", "read_reply"]

DEFAULT_FILE = ".tether/plan.md"  # in the workspace, where the agent may never write (edits/workspace.protected)


def plan_path(root: Path, given: str | Path | None = None) -> Path:
    """Where a plan is read and written: `given` (the person's file), else DEFAULT_FILE. A path in
    the workspace is taken only as it stands, with no link on the way: a repository's `.tether`
    linked out of the workspace or into `.git` gets no plan written through it."""
    path = Path(os.path.abspath(given if given is not None else root / DEFAULT_FILE))
    if path == root or root in path.parents:
        try:
            still(root, path.relative_to(root).as_posix())
        except PathRefused as e:
            raise TetherError(f"no plan file there: {e}; name another with -o") from None
    return path


STATUSES = ("todo", "done", "failed", "skipped")
MAX_STEPS = 8
CONTEXT_TOKENS = 1500  # of the repository shown: on the embedded model each prompt token is read at ~100 a second
REVIEW = "review"  # a step's check where nothing can be run

SYSTEM = """You plan a change to a code repository. You change nothing now: you write the plan that a person reads,
edits and approves, and that is then carried out one step at a time, each step checked before the next.

{fence_rule}

Split the user's task into 1 to {most} small steps, in the order they should be done. Each step is one small change
that can be checked on its own: a short title saying what to change, the files it touches (paths as the workspace
shows them, or new files to create), and how to check it: one shell command that tests it (such as
`python -m pytest -q`), or "review" when there is nothing to run. A check runs right after its step, so it can
only use what that step and the steps before it wrote: a test belongs in the step of the code it tests, or before it.
Reply with JSON: {{"steps": [{{"title": "...", "files": ["..."], "check": "..."}}]}}"""

HEAD = """Edit the steps as you like: reword a title, change the files or the check, reorder, add or delete steps.
A check is a command run after the step's change (or "review": nothing to run). A step's status is
todo, done, failed or skipped; `tether do --plan FILE` carries out each step not done or skipped, in
order, each its own undoable change, and stops at the first that fails."""

_STEP = re.compile(r"^(?:#{1,6}[ \t]*)?(?:step[ \t]+)?\d+[.):][ \t]+(?P<title>\S.*)$", re.I)
_BOX = re.compile(r"^[-*][ \t]+\[(?P<box>[ xX])\][ \t]+(?P<title>\S.*)$")
_MARK = re.compile(r"[ \t]*[\[(](?P<status>todo|done|failed|skipped|x| )[\])][ \t]*$", re.I)
_FIELD = re.compile(r"^[ \t]*(?:[-*][ \t]+)?(?P<key>[A-Za-z]+)[ \t]*:[ \t]*(?P<value>.*)$")
_FIELDS = {
    "files": "files",
    "file": "files",
    "paths": "files",
    "touches": "files",
    "check": "check",
    "checks": "check",
    "verify": "check",
    "test": "check",
    "tests": "check",
    "status": "status",
    "run": "run",
    "failed": "reason",
}


@dataclass
class Step:
    title: str
    files: list[str] = field(default_factory=list)
    check: str | None = None  # a command; None: review, nothing to run
    status: str = "todo"
    detail: str = ""  # a person's (or the model's) prose under the step: it goes to the model with the step
    run: str | None = None  # the run that carried it out last
    reason: str = ""  # why it failed

    def to_dict(self, n: int) -> dict:
        return {
            "n": n,
            "title": self.title,
            "files": list(self.files),
            "check": self.check,
            "status": self.status,
            "detail": self.detail,
            "run": self.run,
            "reason": self.reason,
        }


@dataclass
class Plan:
    task: str
    steps: list[Step]
    run: str | None = None  # the run log of the call that made it
    response: Response | None = None

    def render(self) -> str:
        """The plan as markdown a person edits; `parse` reads it back."""
        out = [f"# Plan: {self.task}" if self.task else "# Plan", "", HEAD, ""]
        for n, s in enumerate(self.steps, start=1):
            out += [f"## {n}. {s.title} [{s.status}]", f"files: {', '.join(s.files) or '-'}", f"check: {s.check or REVIEW}"]
            out += [f"run: {s.run}"] if s.run else []
            out += [f"failed: {' '.join(s.reason.split())}"] if s.status == "failed" and s.reason else []
            out += [s.detail.strip()] if s.detail.strip() else []
            out.append("")
        return "\n".join(out)

    def save(self, path: Path) -> None:
        """The plan file written whole or not at all (a crash leaves the old plan or the new)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        write_text(path, self.render())

    def left(self) -> list[tuple[int, Step]]:
        """The steps still to carry out, numbered as the plan numbers them."""
        return [(n, s) for n, s in enumerate(self.steps, start=1) if s.status not in ("done", "skipped")]

    def to_dict(self) -> dict:
        r = self.response
        return {
            "task": self.task,
            "steps": [s.to_dict(n) for n, s in enumerate(self.steps, start=1)],
            "text": self.render(),
            "run": self.run,
            "model": r.model if r else None,
            "usage": r.usage.to_dict() if r else None,
            "cost_usd": r.cost_usd if r else None,
        }


def parse(text: str, source: str = "the plan") -> Plan:
    """A plan from its text, as a person left it: steps are the numbered lines (`1. …`, `## 2) …`,
    `Step 3: …`) or checkboxes (`- [ ] …`) at the start of a line, numbered anew in order; under
    each, `files:`, `check:`, `status:` lines (any may be missing) and any prose. A title may end
    in its status (`[done]`). No step at all is one clear error."""
    task, steps = "", []
    for line in text.splitlines():
        bare = line.strip()
        if not steps and not task and (m := re.match(r"^#[ \t]*(?:plan\b[ \t]*:?)?[ \t]*(.*)$", bare, re.I)) and not _STEP.match(bare):
            task = m.group(1).strip()
        elif not steps and not task and (m := re.match(r"^task[ \t]*:[ \t]*(.+)$", bare, re.I)):
            task = m.group(1).strip()
        elif (m := _STEP.match(line) or _BOX.match(line)) is not None:
            title, status = _title(m.group("title"))
            if m.groupdict().get("box") in ("x", "X"):
                status = "done"
            if title:
                steps.append(Step(title, status=status))
        elif steps and bare:
            _field(steps[-1], line)
    if not steps:
        raise TetherError(f"{source} has no steps: write at least one numbered line, such as `1. Add the function [todo]`")
    return Plan(task, steps)


def load(path: Path) -> Plan:
    """The plan in a file, one clear error when it cannot be read."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise TetherError(f"{path}: cannot read the plan ({getattr(e, 'strerror', None) or e})") from None
    return parse(text, str(path))


def _title(text: str) -> tuple[str, str]:
    status = "todo"
    if m := _MARK.search(text):
        word = m.group("status").lower()
        status = "done" if word == "x" else "todo" if word == " " else word
        text = text[: m.start()]
    return text.strip().strip("*").strip(), status


def _field(step: Step, line: str) -> None:
    m = _FIELD.match(line)
    key = _FIELDS.get(m.group("key").lower()) if m else None
    if m is None or key is None:
        step.detail = f"{step.detail}\n{line.strip()}".strip()
        return
    value = m.group("value").strip()
    if key == "files":
        step.files += [f for f in (_path(p) for p in re.split(r"[,\s]+", value)) if f and f != "-"]
    elif key == "check":
        value = value.strip("`").strip()
        step.check = None if value.lower() in ("", "-", "none", REVIEW, "n/a") else value
    elif key == "status":
        word = value.lower().strip("[]() ")
        step.status = word if word in STATUSES else step.status
    elif key == "run":
        step.run = value.split()[0] if value else None
    else:
        step.reason = value


def _path(text: str) -> str:
    text = text.strip().strip("`'\"").removeprefix("./")
    return "" if text.lower() in ("(new)", "new") else text


# -- the model's plan ---------------------------------------------------------------------------


def read_reply(text: str) -> list[Step]:
    """The steps of a model's reply: the JSON asked for, a JSON cut short (its whole steps), or a
    plan in the text form; an empty list when it holds none."""
    items = None
    start, end = text.find("{"), text.rfind("}")
    for candidate in (text, text[start : end + 1] if 0 <= start < end else ""):
        try:
            value = json.loads(candidate)
        except (json.JSONDecodeError, ValueError):
            continue
        items = value.get("steps") if isinstance(value, dict) else value
        break
    if not isinstance(items, list):
        items = []
        for m in re.finditer(r"\{[^{}]*\}", text):
            try:
                items.append(json.loads(m.group(0)))
            except json.JSONDecodeError:
                continue
    steps = [s for s in (_step(i) for i in items) if s is not None][:MAX_STEPS]
    if steps:
        return steps
    try:
        return parse(text).steps[:MAX_STEPS]
    except TetherError:
        return []


def _step(item) -> Step | None:
    if isinstance(item, str):
        item = {"title": item}
    if not isinstance(item, dict):
        return None
    title = next((str(item[k]) for k in ("title", "step", "description", "name", "change") if item.get(k)), "")
    title = " ".join(title.split())
    if not title:
        return None
    files = item.get("files") or item.get("file") or []
    files = [files] if isinstance(files, str) else files if isinstance(files, list) else []
    check = item.get("check") or item.get("command") or item.get("test")
    check = check[0] if isinstance(check, list) and check else check
    check = " ".join(str(check).strip("` ").split()) if isinstance(check, str) else None
    return Step(
        title,
        [p for p in (_path(str(f)) for f in files if isinstance(f, (str, int))) if p][:10],
        None if not check or check.lower() in (REVIEW, "none", "n/a") else check,
    )


def make_plan(
    grid: GridLike,
    root: str | Path,
    task: str,
    model: str = "default",
    on_event: Callable[..., None] | None = None,
    cancel=None,
) -> Plan:
    """A plan for `task`, made by `model` from what it is shown of the repository. It writes nothing
    to the workspace; the call is metered and logged as a run (command "plan", so `tether log`
    lists it). A reply with no step in it is one clear error."""
    if not task.strip():
        raise TetherError("say what the plan is for")
    root = Path(root).resolve()
    grid.route(model)  # an unknown model is one clear error before anything is read
    fence = Fence.lasting()
    toolbox = Toolbox(root, VerifySettings(timeout=30, output_cap=4000))  # reads and searches only
    try:
        search = lambda q: toolbox.index().search(q, k=8)  # noqa: E731
        context, _ = brief(root, task, fence, CONTEXT_TOKENS, search=search, definitions=lambda n: toolbox.index().definitions(n))
    finally:
        toolbox.close()
    system = SYSTEM.format(fence_rule=fence.rule(), most=min(5, MAX_STEPS))
    user = f"{context}\n\nThe user's task:\n{task}\n\nReply with the plan as JSON."
    messages = [{"role": "system", "content": system}, {"role": "user", "content": user}]
    log = RunLog(grid.store, root=str(root), command="plan", instruction=task, level="ask", model=model)
    log.step("prompt", system=system, user=user, tokens=tokens.count(system + user))
    started, pieces, response = time.monotonic(), [], None
    try:
        for item in grid.stream(
            model, messages, max_tokens=800, schema=SCHEMA, cancel=cancel, progress=CallProgress(on_event) if on_event else None
        ):
            if isinstance(item, str):
                pieces.append(item)
            else:
                response = item
    except BaseException as e:  # a stop, a failure or Ctrl-C: the run is never left "running"
        log.finish(
            "stopped" if isinstance(e, Cancelled) else "error" if isinstance(e, TetherError) else "interrupted", str(e) or "stopped", []
        )
        raise
    assert response is not None  # a stream ends with its Response
    raw = "".join(pieces) or response.text
    log.step("reply", **{**response.log_fields(), "text": raw})
    log.totals(1, response.usage.input_tokens, response.usage.output_tokens, response.cost_usd, time.monotonic() - started)
    steps = read_reply(raw)
    if not steps:
        log.finish("error", "the reply held no plan steps", [])
        raise TetherError(
            f"{response.model} wrote no plan steps (its reply is in `tether log {log.id}`); try again, or another model with -m"
        )
    _checkable(root, steps)
    log.finish("answered", f"a plan of {len(steps)} step{'' if len(steps) == 1 else 's'}", [])
    return Plan(" ".join(task.split()), steps, log.id, response)


def _checkable(root: Path, steps: list[Step]) -> None:
    """A step whose check runs a source file that is not there and that no step up to it writes
    gets that file too: its check runs right after it. qwen2.5-coder-1.5b planned "write
    wordfreq.py, check: pytest test_wordfreq.py", the test in a later step or in none, although
    told that a test goes with its code."""
    for n, step in enumerate(steps):
        before = {f for s in steps[: n + 1] for f in s.files}
        for word in (step.check or "").split():
            word = _path(word)
            if _SOURCE.fullmatch(word) and word not in before and not (root / word).exists():
                step.files.append(word)


_SOURCE = re.compile(r"[\w./-]*\w\.(?:py|js|jsx|ts|tsx|go|rs|rb|java|kt|c|h|cc|cpp|cs|php|swift|sh)")


SCHEMA = {  # bounded, so that even a rambling small model ends its JSON inside max_tokens
    "type": "object",
    "properties": {
        "steps": {
            "type": "array",
            "minItems": 1,
            "maxItems": 5,
            "items": {
                "type": "object",
                "properties": {
                    "title": {"type": "string", "maxLength": 160},
                    "files": {"type": "array", "maxItems": 5, "items": {"type": "string", "maxLength": 120}},
                    "check": {"type": "string", "maxLength": 160},
                },
                "required": ["title", "files", "check"],
            },
        }
    },
    "required": ["steps"],
}
