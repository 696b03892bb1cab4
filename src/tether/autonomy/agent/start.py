"""Starting a run from options: the one place a run's leash, its checks and its agent are built.

`tether do`, the web app's Start button and anything else that starts a run hand `prepare` the
same `RunOptions` — what a person asked for, each field None or empty where the layered config
decides — and get back an `AgentRun`: the agent on its leash, ready to `run()`, with `stop()` and
`set_level()` for a face that runs it in another thread, and `to_dict()` saying what the run will
do (level, model, edit format, checks, limits) before it starts. A face parses its flags or its
form into options and renders what comes back; no rule about defaults, limits or models lives in
it. `RunOptions.from_fields` reads options from text fields (a form, a JSON body) with every
number checked, so each face refuses a bad limit with the same words."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from ...errors import TetherError
from ..guard.hooks import Hooks
from ..guard.leash import Leash
from ..guard.verify import VerifySettings
from .loop import Agent, Person
from .result import RunResult
from .resume import Resumed, find, over_budget
from .tools import ExternalTools

__all__ = ["AgentRun", "RunOptions", "default_level", "prepare", "resume"]

LIMITS = {"max_steps": ("steps", int), "max_seconds": ("seconds", float), "max_tokens": ("tokens", int), "max_usd": ("usd", float)}


@dataclass(frozen=True)
class RunOptions:
    """What a person asked of one run. None (or empty) leaves a value to the layered config:
    `level` to [leash] level (else approve), `checks` to [verify] commands (else the workspace's
    tests), `paths` to [leash] paths, each limit to [leash] budget (else the level's default)."""

    instruction: str
    root: Path
    level: str | None = None
    model: str = "default"
    checks: tuple[str, ...] | None = None  # commands run after each change; () runs none
    paths: tuple[str, ...] = ()  # globs the run may write
    max_steps: int | None = None
    max_seconds: float | None = None
    max_tokens: int | None = None
    max_usd: float | None = None
    candidates: int = 1  # at level agent: changes sampled for a turn that gained nothing
    edit_format: str | None = None  # None: what the model's catalogue entry says
    until_green: bool = False  # stop as soon as a change makes every check pass
    escalate: str | None = None  # None: the route's `escalate`

    def __post_init__(self):
        if not self.instruction.strip():
            raise TetherError("say what the agent should do")
        object.__setattr__(self, "root", Path(self.root))
        for name, (_, kind) in LIMITS.items():
            value = getattr(self, name)
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, kind if kind is int else (int, float)) or not 0 < value < math.inf
            ):  # nan and inf too
                raise TetherError(f"{name.replace('_', ' ')} must be {_a(kind)} > 0 (got {value!r:.60})")
        if isinstance(self.candidates, bool) or not isinstance(self.candidates, int) or self.candidates < 1:
            raise TetherError(f"candidates must be a whole number of 1 or more (got {self.candidates!r:.60})")

    @property
    def limits(self) -> dict:
        """The budget the person set, as `Leash.from_config` takes it (None: the config's)."""
        return {key: getattr(self, name) for name, (key, _) in LIMITS.items()}

    @classmethod
    def from_fields(cls, root: str | Path, fields: Mapping) -> "RunOptions":
        """Options from text fields named as the attributes (a form, a JSON body): `checks` and
        `paths` one per line or as a list (empty: the config's), numbers as text, blanks as not given."""

        def text(key: str) -> str | None:
            value = fields.get(key)
            return None if value is None or str(value).strip() == "" else str(value).strip()

        def lines(key: str) -> tuple[str, ...] | None:
            value = fields.get(key) or ""
            found = (str(v) for v in value) if isinstance(value, (list, tuple)) else str(value).splitlines()
            return tuple(line.strip() for line in found if line.strip()) or None

        numbers = {name: _number(text(name), name, kind) for name, (_, kind) in LIMITS.items()}
        until = fields.get("until_green")
        return cls(
            str(fields.get("instruction") or "").strip(),
            Path(root),
            level=text("level"),
            model=text("model") or "default",
            checks=lines("checks"),
            paths=lines("paths") or (),
            candidates=_number(text("candidates"), "candidates", int) or 1,
            edit_format=text("edit_format"),
            until_green=until is True or str(until).lower() in ("1", "true", "on", "yes"),
            escalate=text("escalate"),
            **numbers,
        )

    def to_dict(self) -> dict:
        return {
            **dataclasses.asdict(self),
            "root": str(self.root),
            "checks": None if self.checks is None else list(self.checks),
            "paths": list(self.paths),
        }


class AgentRun:
    """One run built from its options and not started yet: `run()` runs it (once), `stop()` and
    `set_level()` reach it from another thread while it goes on."""

    def __init__(self, options: RunOptions, agent: Agent, leash: Leash, verify: VerifySettings):
        self.options, self.agent, self.verify = options, agent, verify
        self.budget = leash.for_run(verify.commands, None, "").budget  # the limits as the run will have them
        self.format, self.escalation = agent.format.name, agent.escalation
        self.resumed: Resumed | None = None  # set by `resume`: the run goes on from where it stopped

    def run(self) -> RunResult:
        return self.agent.run(self.options.instruction, self.options.to_dict(), self.resumed)

    def stop(self) -> None:
        self.agent.stop()

    def set_level(self, level: str) -> None:
        self.agent.set_level(level)

    @property
    def stopping(self) -> bool:
        """Whether `stop()` was called."""
        return self.agent.cancel.is_set()

    @property
    def level(self) -> str:
        """The level in force now (the slider may have moved since the start)."""
        return self.agent.leash.level

    def to_dict(self) -> dict:
        """What the run will do, before it starts."""
        b = self.budget
        return {
            "resumes": self.resumed.id if self.resumed else None,
            "instruction": self.options.instruction,
            "root": str(self.agent.root),
            "level": self.level,
            "model": self.options.model,
            "escalate": self.escalation,
            "edit_format": self.format,
            "checks": list(self.verify.commands) if self.level in ("approve", "auto", "agent") else [],  # ask, suggest run none
            "limits": {"steps": b.steps, "seconds": b.seconds, "tokens": b.tokens, "usd": b.usd},
        }


def prepare(
    options: RunOptions,
    grid,
    *,
    person: Person | None = None,
    on_event: Callable[..., None] | None = None,
    tools: ExternalTools | None = None,
) -> AgentRun:
    """The run the options ask for, on the leash and with the checks of the workspace's layered
    config. An unknown model or route, a bad level, limit or edit format, or a check that cannot
    start is one clear error here, before any model is called. `tools` are other programs' the
    model may call, each call on the leash (a face builds them: mcp/client.py's `tools_for`); the
    run closes them when it ends."""
    for name in filter(None, (options.model, options.escalate)):
        grid.route(name)
    leash = Leash.from_config(options.root, grid.config, options.level, options.limits, options.paths)
    verify = VerifySettings.from_config(grid.config, options.root, options.checks)
    agent = Agent(
        grid,
        options.root,
        leash,
        model=options.model,
        verify=verify,
        person=person,
        on_event=on_event,
        candidates=options.candidates,
        edit_format=options.edit_format,
        stop_when_green=options.until_green,
        escalate=options.escalate,
        hooks=Hooks.from_config(grid.config, options.root),  # the user's [[hooks]]; none: nothing runs
        tools=tools,
    )
    return AgentRun(options, agent, leash, verify)


def resume(
    grid,
    root: Path,
    run_id: str | None,
    changes: Mapping,
    *,
    person: Person | None = None,
    on_event: Callable[..., None] | None = None,
    tools: ExternalTools | None = None,
) -> AgentRun:
    """The stopped, failed or killed run `run_id` (None: the workspace's last `tether do`) ready to
    go on with its conversation, leash and spending; `changes` are options the person sets anew
    (a higher limit, another level or model; None leaves the run's own). A limit it used up
    already is one clear error here, not a run that stops at once."""
    found = find(grid.store, Path(root), run_id)
    logged = {k: v for k, v in found.options.items() if k in RunOptions.__dataclass_fields__}
    fields = {**logged, **{k: v for k, v in changes.items() if v is not None}, "root": Path(root)}
    fields["checks"] = None if fields.get("checks") is None else tuple(fields["checks"])  # logged as JSON lists
    fields["paths"] = tuple(fields.get("paths") or ())
    run = prepare(RunOptions(**fields), grid, person=person, on_event=on_event, tools=tools)
    if used := over_budget(found.spent, run.budget):
        raise TetherError(f"run {found.id} cannot go on: {used}")
    run.resumed = found
    return run


def default_level(config, root: str | Path) -> str:
    """The level a run starts at when its options name none: [leash] level, else approve."""
    return Leash.from_config(root, config).level


def _number(value: str | None, name: str, kind):
    if value is None:
        return None
    try:
        return kind(value)
    except ValueError:
        raise TetherError(f"{name.replace('_', ' ')} must be {_a(kind)} (got {value!r:.60})") from None


def _a(kind) -> str:
    return "a whole number" if kind is int else "a number"
