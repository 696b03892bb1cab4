"""Hooks: the user's own commands, run at fixed moments of an agent run, each able to refuse.

A `[[hooks]]` entry of the user's config (never a project's: layering.USER_ONLY) names an event
(`EVENTS`), an optional `match` of tool and path globs, a `command` and a `timeout`. At its moment
every matching hook runs, in the order written, with the event as JSON on stdin (redacted), in the
sandbox checks run in (sandbox.py) with the workspace read-only as its folder: a hook judges, it
does not edit. Its answer: exit 0 allows, unless stdout holds a JSON `{"decision": "allow" |
"deny", "reason": "..."}` (as all of stdout or one line of it; any deny wins); exit 2 denies with
stderr's first line as the reason; any other exit, no answer within the timeout, or an answer that
cannot be read denies as a hook that failed (hookio.py) — a policy that cannot run must not wave an
action through. A hook whose program cannot be started at all (not found, not executable: a typo
in the config) is the config's error, not one call's: `startable` refuses the run before any model
call, and one found broken during a run ends it (HookBroken), naming the hook and the file. A
`read` or `write` is matched on the real path, links resolved as the leash resolves them, so a
link cannot lead a path past a `path` glob. The first denial decides
(later hooks of that event do not run). Each verdict is a `decision` step of the run log with the
rule `hook NAME` and a note the faces show; what a denial does to the run is the agent's
(agent/hooked.py, proposal.py, checks.py)."""

from __future__ import annotations

import fnmatch
import json
import math
import os
import shlex
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from ...config import Config
from ...errors import ConfigError, TetherError
from ...redaction import redact_all
from ..edits.workspace import PathRefused, resolve
from . import sandbox
from .hookio import answer, kill, wait
from .verify import SandboxUnavailable, VerifySettings

__all__ = ["EVENTS", "Hook", "HookBroken", "Hooks", "Trial", "Verdict", "parse"]

EVENTS = ("before_tool", "after_edit", "before_checks", "stop")
ENTRY_KEYS = ("event", "match", "command", "timeout", "name")
MATCH_KEYS = ("tool", "path")
PATH_TOOLS = ("read", "write")  # the leash tools whose target is a path a `path` glob is matched against
DEFAULT_TIMEOUT = 10.0


class HookBroken(ConfigError):
    """A hook's program cannot be started: every event it matches would fail, so the run ends."""


@dataclass(frozen=True)
class Hook:
    event: str
    command: tuple[str, ...]
    tool: str | None = None  # a glob of the leash's tool names: read, search, propose, write, run, mcp:SERVER:TOOL
    path: str | None = None  # a glob of workspace-relative paths
    timeout: float = DEFAULT_TIMEOUT
    name: str = ""

    @property
    def rule(self) -> str:
        """What decided, as a run log's decision step names it."""
        return f"hook {self.name or shlex.join(self.command)}"

    def matches(self, tool: str | None, paths: Sequence[str]) -> bool:
        """A glob matches as the leash's do; a `tool` glob never matches an event without a tool,
        nor a `path` glob one without paths."""
        if self.tool is not None and (tool is None or not fnmatch.fnmatchcase(tool, self.tool)):
            return False
        return self.path is None or any(_glob(p, self.path) for p in paths)

    def to_dict(self) -> dict:
        match = {k: v for k, v in (("tool", self.tool), ("path", self.path)) if v is not None}
        return {"name": self.name or None, "event": self.event, "match": match, "command": list(self.command), "timeout": self.timeout}


@dataclass(frozen=True)
class Verdict:
    """One hook's answer to one event."""

    hook: Hook
    allowed: bool
    reason: str
    code: int | None = None  # the exit code; None: it did not finish (timeout) or could not start
    seconds: float = 0.0
    broken: str = ""  # why its program cannot be started at all ("" where it ran)

    @property
    def refusal(self) -> str:
        """What the model is told of a denial."""
        return f"Refused by a hook ({self.hook.rule}): {self.reason}."

    def to_dict(self) -> dict:
        return {**self.hook.to_dict(), "allowed": self.allowed, "reason": self.reason, "code": self.code, "seconds": round(self.seconds, 3)}


def _glob(path: str, pattern: str) -> bool:
    return fnmatch.fnmatch(path, pattern) or fnmatch.fnmatch(path, pattern.rstrip("/") + "/*")


# -- the config -----------------------------------------------------------------------------------


def parse(entries, where: str) -> tuple[Hook, ...]:
    """`[[hooks]]` as read from `where` (the file that set it); a mistake is one line naming the
    file, the entry and the key."""
    if not (isinstance(entries, list) and all(isinstance(e, dict) for e in entries)):
        raise ConfigError(f"{where}: hooks must be a list of tables, each written [[hooks]]")
    return tuple(_hook(entry, f"{where}: [[hooks]] #{n}") for n, entry in enumerate(entries, 1))


def _hook(entry: dict, at: str) -> Hook:
    if unknown := sorted(set(entry) - set(ENTRY_KEYS)):
        raise ConfigError(f"{at}: unknown key {unknown[0]!r} (known: {', '.join(ENTRY_KEYS)})")
    event = entry.get("event")
    if event not in EVENTS:
        raise ConfigError(f"{at}: event must be one of {', '.join(EVENTS)} (got {event!r})")
    match = entry.get("match", {})
    if not isinstance(match, dict) or set(match) - set(MATCH_KEYS) or not all(isinstance(v, str) and v for v in match.values()):
        raise ConfigError(f'{at}: match must be a table of tool and path globs, such as {{ tool = "write", path = "src/**" }}')
    timeout = entry.get("timeout", DEFAULT_TIMEOUT)
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not 0 < timeout < math.inf:
        raise ConfigError(f"{at}: timeout must be a number of seconds above 0 (got {timeout!r})")
    name = entry.get("name", "")
    if not isinstance(name, str):
        raise ConfigError(f"{at}: name must be a string (got {name!r})")
    return Hook(event, _command(entry.get("command"), at), match.get("tool"), match.get("path"), float(timeout), name.strip())


def _command(value, at: str) -> tuple[str, ...]:
    """A list of argv strings, or one string split as a shell would (no shell runs it)."""
    if isinstance(value, str):
        try:
            value = shlex.split(value)
        except ValueError as e:
            raise ConfigError(f"{at}: command cannot be split into words ({e})") from None
    if not (isinstance(value, list) and value and all(isinstance(v, str) for v in value) and value[0]):
        raise ConfigError(f'{at}: command must be a list of words such as ["python3", "check.py"], or one command line')
    return tuple(value)


# -- running them --------------------------------------------------------------------------------


class Hooks:
    """The hooks of one workspace; `start` binds them to a run. Without hooks every event costs nothing."""

    def __init__(
        self, hooks: Sequence[Hook] = (), root: str | Path = ".", *, env: tuple[str, ...] = (), sandbox: str = "auto", where: str = ""
    ):
        self.hooks, self.root = tuple(hooks), Path(os.path.realpath(root))
        self.env, self.sandbox = env, sandbox
        self.where = where or "your config"  # the file that set them, named by an error
        self.confined = sandbox != "off"  # `ready` decides it for a level
        self.run_id, self.level = "", lambda: ""
        self.log = None  # a run's RunLog
        self.on_event: Callable[..., None] = lambda kind, **data: None
        self.cancel: threading.Event | None = None

    @classmethod
    def from_config(cls, config: Config, root: str | Path) -> "Hooks":
        raw = config.extra.get("hooks")
        if not raw:
            return cls((), root)
        hooks = parse(raw, config.where("hooks"))
        verify = VerifySettings.from_config(config, Path(root), ())  # the sandbox and the environment checks get
        return cls(hooks, root, env=verify.env, sandbox=verify.sandbox, where=config.where("hooks"))

    def __bool__(self) -> bool:
        return bool(self.hooks)

    def __len__(self) -> int:
        return len(self.hooks)

    def ready(self, level: str) -> "Hooks":
        """Hooks run confined where a sandbox can be had. Where none can, `auto` and `agent` refuse
        to start, as for checks, unless the user chose `[verify] sandbox = "off"`; at lower levels a
        person sees each change before a hook could run it."""
        if not self.hooks or self.sandbox == "off":
            self.confined = False
        elif sandbox.bubblewrap() is not None:
            self.confined = True
        elif level in ("auto", "agent"):
            raise SandboxUnavailable(
                "hooks run sandboxed like checks, and no sandbox is available here (Linux with bubblewrap:"
                ' `apt-get install bubblewrap`); set [verify] sandbox = "off" in your config to run them unconfined'
            )
        else:
            self.confined = False
        return self

    def startable(self) -> "Hooks":
        """Every hook's program can be started as a run will look for it (the PATH hooks run with,
        a path with a slash from the workspace); else one error names the first that cannot, before
        any model call: a hook that cannot run would refuse every action it matches."""
        path = sandbox.environment(str(self.root), self.env)["PATH"]
        for hook in self.hooks:
            if problem := _unrunnable(self.root, hook.command[0], path):
                raise self._broken(hook, problem)
        return self

    def _broken(self, hook: Hook, problem: str) -> HookBroken:
        return HookBroken(f"{hook.rule} cannot run: {problem}; fix [[hooks]] in {self.where}")

    def start(self, run_id: str, level: Callable[[], str], log=None, on_event=None, cancel: threading.Event | None = None) -> None:
        """Bind the hooks to a run: its id and level go into every event, verdicts into its log."""
        self.run_id, self.level, self.log, self.cancel = run_id, level, log, cancel
        self.on_event = on_event or self.on_event

    # one call per event: None where every matching hook allows, else the first denial

    def before_tool(self, tool: str, target: str, **fields) -> Verdict | None:
        if tool in PATH_TOOLS:  # the path the leash matched: what the read or write really touches
            target = _real(self.root, target)
        return self.fire("before_tool", tool, target, [target] if tool in PATH_TOOLS else [], **fields)

    def after_edit(self, files: list[str], diff: str) -> Verdict | None:
        files = [_real(self.root, f) for f in files]
        return self.fire("after_edit", "write", ", ".join(files), files, files=files, diff=diff)

    def sees_writes(self, paths: Sequence[str]) -> bool:
        """Whether a write hook (before_tool `write`, after_edit) matches a write of `paths`: a
        command's writes are made ready for the hooks only where one would judge them."""
        return any(h.event in ("before_tool", "after_edit") and h.matches("write", paths) for h in self.hooks)

    def before_checks(self, commands: Sequence[str]) -> Verdict | None:
        return self.fire("before_checks", "run", "; ".join(commands), [], commands=list(commands))

    def stop(self, status: str, reason: str, again: bool = False) -> Verdict | None:
        """`again`: a stop hook already sent the model back to work once in this run."""
        return self.fire("stop", None, str(status), [], status=str(status), reason=reason, again=again)

    def fire(self, event: str, tool: str | None, target: str, paths: Sequence[str], **fields) -> Verdict | None:
        """Run each hook of `event` that matches, in order, until one denies; each verdict recorded."""
        matching = [h for h in self.hooks if h.event == event and h.matches(tool, paths)]
        if not matching:
            return None
        payload = self._payload(event, tool, target, paths, fields)
        for hook in matching:
            verdict = self.run(hook, payload, None if event == "stop" else self.cancel)  # a stopped run still says so
            self._record(event, tool, target, verdict)
            if verdict.broken:  # the config's error: the run ends here rather than be refused at every step
                raise self._broken(hook, verdict.broken)
            if not verdict.allowed:
                return verdict
        return None

    def trial(self, event: str, tool: str | None = None, target: str = "", level: str = "approve") -> "Trial":
        """Every hook of `event` that matches a sample event, each run (a denial does not stop the
        rest) and nothing logged: what `tether hooks test` shows."""
        if event not in EVENTS:
            raise TetherError(f"unknown hook event {event!r} (events: {', '.join(EVENTS)})")
        self.ready(level)
        self.run_id, self.level = "test", lambda: level
        tool, target, paths, fields = self._sample(event, tool, target)
        payload = self._payload(event, tool, target, paths, fields)
        matching = [h for h in self.hooks if h.event == event and h.matches(tool, paths)]
        return Trial(event, tool, target, tuple(self.run(h, payload) for h in matching))

    def _sample(self, event: str, tool: str | None, target: str) -> tuple[str | None, str, list[str], dict]:
        """A made-up event of each kind, as a run would send it."""
        if event == "before_tool":
            if not tool:
                raise TetherError("a before_tool event needs a tool: --tool read, search, write, run or mcp:SERVER:TOOL")
            target = _real(self.root, target) if target and tool in PATH_TOOLS else target
            return tool, target, [target] if target and tool in PATH_TOOLS else [], {"args": {}}
        if event == "after_edit":
            files = [_real(self.root, target)] if target else []
            return "write", ", ".join(files), files, {"files": files, "diff": ""}
        if event == "before_checks":
            return "run", target, [], {"commands": [target] if target else []}
        return None, "done", [], {"status": "done", "reason": "a sample end (tether hooks test)", "again": False}

    def _payload(self, event: str, tool: str | None, target: str, paths: Sequence[str], fields: dict) -> str:
        """The event as a hook reads it on stdin, every text redacted."""
        sent = {"event": event, "tool": tool, "target": target, "paths": list(paths), "run_id": self.run_id}
        return json.dumps(redact_all({**sent, "root": str(self.root), "level": self.level(), **fields}))

    def run(self, hook: Hook, payload: str, cancel: threading.Event | None = None) -> Verdict:
        """One hook on one event's JSON: its verdict (a Stop kills it and raises Cancelled)."""
        start = time.monotonic()
        with tempfile.TemporaryDirectory(prefix="tether-hook-") as tmp:  # its HOME and TMPDIR, gone after it
            env = sandbox.environment(tmp, self.env)
            if problem := _unrunnable(self.root, hook.command[0], env["PATH"]):
                return Verdict(hook, False, f"the hook cannot run: {problem}", None, 0.0, problem)
            argv = list(hook.command)
            if self.confined:
                argv = sandbox.wrap(argv, self.root, tmp, [self.root])  # the workspace read-only
            try:
                proc = subprocess.Popen(
                    argv,
                    cwd=self.root,
                    env=env,
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    start_new_session=True,
                )
            except OSError as e:
                problem = f"{hook.command[0]}: {e.strerror or e}"
                return Verdict(hook, False, f"the hook cannot run: {problem}", None, 0.0, problem)
            try:
                out, err, code = wait(proc, payload.encode(), hook.timeout, cancel)
            except BaseException:  # Stop or Ctrl-C: the hook goes with us
                kill(proc)
                raise
        allowed, reason = answer(hook, code, out, err)
        return Verdict(hook, allowed, reason, code, time.monotonic() - start)

    def _record(self, event: str, tool: str | None, target: str, v: Verdict) -> None:
        verdict = "allow" if v.allowed else "deny"
        if self.log is not None:
            self.log.step(
                "decision",
                event=event,
                tool=tool or event,
                target=target,
                verdict=verdict,
                rule=v.hook.rule,
                reason=v.reason,
                allowed=v.allowed,
                code=v.code,
            )
        what = f"{event} {tool or ''} {target}".replace("  ", " ").strip()
        said = f"{v.hook.rule} allowed {what}" if v.allowed else f"{v.hook.rule} refused {what}: {v.reason}"
        self.on_event("note", text=said)

    def to_dict(self) -> dict:
        return {"root": str(self.root), "hooks": [h.to_dict() for h in self.hooks]}


@dataclass(frozen=True)
class Trial:
    """The hooks of one event run on a sample of it (`tether hooks test`)."""

    event: str
    tool: str | None
    target: str
    verdicts: tuple[Verdict, ...]

    @property
    def allowed(self) -> bool:
        """Whether the action would go ahead: every matching hook allows (none matching allows too)."""
        return all(v.allowed for v in self.verdicts)

    def to_dict(self) -> dict:
        return {
            "event": self.event,
            "tool": self.tool,
            "target": self.target,
            "allowed": self.allowed,
            "verdicts": [v.to_dict() for v in self.verdicts],
        }


def _unrunnable(root: Path, program: str, path: str) -> str:
    """Why `program` cannot be started, or "" where it can: a name is looked for on `path`, a path
    with a slash taken from the workspace (an absolute one as it is)."""
    if "/" not in program:
        return "" if shutil.which(program, path=path) else f"{program} not found on the PATH hooks run with ({path})"
    found = root / program
    if not found.is_file():
        return f"{program} is not a file"
    return "" if os.access(found, os.X_OK) else f"{program} is not executable (chmod +x it, or name its interpreter first)"


def _real(root: Path, path: str) -> str:
    """A path the model gave, as the workspace-relative path a glob is matched against: the real
    one, links resolved as the leash resolves them (`workspace.resolve`), so that `alias/key.txt`
    with `alias` a link to `secret` is matched as `secret/key.txt`. A path the workspace refuses
    (the leash refused it already) is only made relative."""
    try:
        return resolve(root, path)[1]
    except PathRefused:
        pass
    p = Path(path)
    if p.is_absolute():
        try:
            return os.path.normpath(os.path.relpath(p, root))
        except ValueError:
            return path
    return os.path.normpath(path) if path else path
