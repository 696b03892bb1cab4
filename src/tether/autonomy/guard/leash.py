"""The leash: what the agent may do on its own, what needs a person's yes, what it may never do.

One policy guards every face (CLI, web, MCP, the agent loop): each proposed action is checked
here and gets a verdict — allow, ask or deny — with the rule that decided it, and every decision
is recorded. The autonomy slider sets the default; limits bound `auto` and `agent`; rules in
`tether.toml` refine both. Deny wins over everything, and what no rule covers is asked."""

from __future__ import annotations

import dataclasses
import fnmatch
import math
import os
import re
import shlex
import time
from dataclasses import dataclass, field
from pathlib import Path

from ...config import Config
from ...errors import ConfigError, TetherError
from ...layering import DEFAULTS, KEYS, LEVELS, STEPS
from ...store import Schema, register
from ..edits.workspace import PathRefused, protected, resolve
from . import tamper

TOOLS = ("read", "search", "propose", "write", "run")
MCP = re.compile(r"mcp:[A-Za-z0-9_-]+:[A-Za-z0-9_.-]+")  # a tool of another program (an MCP server), checked as a tool of its own
MCP_RULE = re.compile(r"mcp(?::[A-Za-z0-9_.*?\[\]-]+:[A-Za-z0-9_.*?\[\]-]+|:\*)?")  # mcp, mcp:*, mcp:NAME:TOOL (globs)
SCHEMA = register(
    Schema(
        "decisions",
        [
            """
    CREATE TABLE decisions (
        id      INTEGER PRIMARY KEY,
        ts      REAL NOT NULL,
        run_id  TEXT,
        level   TEXT NOT NULL,
        tool    TEXT NOT NULL,
        target  TEXT NOT NULL,
        verdict TEXT NOT NULL,
        rule    TEXT NOT NULL,
        reason  TEXT NOT NULL
    );
    CREATE INDEX decisions_run ON decisions(run_id);
    """
        ],
        legacy=(3,),
    )
)  # every check's verdict, under its run (written only here)
VERDICTS = ("allow", "ask", "deny")
SHELL_OPERATORS = (";", "&&", "||", "|", "`", "$(", ">", "<", "&", "\n")


@dataclass(frozen=True)
class Rule:
    tool: str  # one of TOOLS, "*", or an MCP tool: "mcp" (every one), "mcp:NAME:TOOL" (globs)
    pattern: str  # a path glob (read, write), a command glob (run) or a glob of an MCP call's JSON arguments (any case)
    action: str  # allow | ask | deny

    def __str__(self) -> str:
        return f"rule {self.action} {self.tool} {self.pattern!r}"


@dataclass(frozen=True)
class RunBudget:
    usd: float | None = None
    tokens: int | None = None
    steps: int | None = None
    seconds: float | None = None


@dataclass(frozen=True)
class Decision:
    verdict: str
    rule: str  # what decided it: a rule, a level, a limit
    reason: str

    @property
    def allowed(self) -> bool:
        return self.verdict == "allow"


@dataclass
class Spent:
    """What a run has spent: the one tally (the agent, its log and its result read it from here)."""

    usd: float | None = 0.0  # None: some call had no known price, so the total is unknown
    input_tokens: int = 0
    output_tokens: int = 0
    cached_tokens: int = 0  # of input_tokens, those read from the provider's prompt cache
    steps: int = 0
    started: float = field(default_factory=time.monotonic)

    @property
    def tokens(self) -> int:
        return self.input_tokens + self.output_tokens

    @property
    def seconds(self) -> float:
        return time.monotonic() - self.started


class Leash:
    def __init__(
        self,
        root: str | Path,
        level: str = "approve",
        *,
        paths: tuple[str, ...] = ("**",),
        max_files: int = 10,
        max_lines: int = 400,
        commands: tuple[str, ...] = (),
        budget: RunBudget = RunBudget(),
        rules: tuple[Rule, ...] = (),
        store=None,
        run_id: str | None = None,
        checks: tuple[str, ...] = (),
    ):
        if level not in LEVELS:
            raise TetherError(f"unknown autonomy level {level!r} (levels: {', '.join(LEVELS)})")
        self.root = Path(os.path.realpath(root))
        self.level, self.paths, self.max_files, self.max_lines = level, tuple(paths), max_files, max_lines
        self.commands, self.budget, self.rules = tuple(commands), budget, tuple(rules)
        self.checks = frozenset(_normal(c) for c in checks)  # the run's checks: the model may run each as written, never as a glob
        self.store, self.run_id = (None if store is None else store.ensure(SCHEMA)), run_id
        self.spent = Spent()

    def for_run(self, commands: tuple[str, ...], store, run_id: str) -> "Leash":
        """This leash for one run, made once and never changed after: the level's default step
        and time limits where none is set, the checks the person chose allowed as commands, and
        every decision recorded under the run."""
        b = self.budget
        budget = dataclasses.replace(b, steps=b.steps or STEPS[self.level], seconds=b.seconds or DEFAULTS["leash"]["budget"]["seconds"])
        return Leash(
            self.root,
            self.level,
            paths=self.paths,
            max_files=self.max_files,
            max_lines=self.max_lines,
            commands=self.commands,
            checks=commands,
            budget=budget,
            rules=self.rules,
            store=store,
            run_id=run_id,
        )

    def at_level(self, level: str) -> "Leash":
        """This run's leash at another level (the slider moved): same limits, rules and spending."""
        moved = Leash(
            self.root,
            level,
            paths=self.paths,
            max_files=self.max_files,
            max_lines=self.max_lines,
            commands=self.commands,
            budget=self.budget,
            rules=self.rules,
            store=self.store,
            run_id=self.run_id,
            checks=tuple(self.checks),
        )
        moved.spent = self.spent
        return moved

    @classmethod
    def from_config(
        cls, root, config: Config, level: str | None = None, limits: dict | None = None, paths: tuple[str, ...] = (), **kwargs
    ) -> "Leash":
        """The [leash] of the config; `level`, `paths` and the non-None `limits` (e.g. from flags) win."""
        spec = dict(config.extra.get("leash", {}))
        where = f"{config.where('leash')}: [leash]"
        known = set(KEYS["leash"])
        unknown = sorted(set(spec) - known)
        if unknown:
            raise ConfigError(f"{where} has an unknown key {unknown[0]!r} (known: {', '.join(sorted(known))})")
        rules = []
        for n, r in enumerate(spec.get("rules", []), start=1):
            if (
                not isinstance(r, dict)
                or not (r.get("tool") in (*TOOLS, "*") or isinstance(r.get("tool"), str) and MCP_RULE.fullmatch(r["tool"]))
                or r.get("action") not in VERDICTS
                or not isinstance(r.get("pattern", "*"), str)
            ):
                raise ConfigError(
                    f"{where} rule {n} needs tool ({', '.join(TOOLS)}, *, mcp or mcp:SERVER:TOOL), pattern and action (allow, ask or deny)"
                )
            rules.append(Rule(r["tool"], r.get("pattern", "*"), r["action"]))
        budget = spec.get("budget", {})
        if not isinstance(budget, dict) or set(budget) - {"usd", "tokens", "steps", "seconds"}:
            raise ConfigError(f"{where} budget takes usd, tokens, steps and seconds")
        for key, value in budget.items():
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
                raise ConfigError(f"{where} budget.{key} must be a number > 0 (got {value!r})")
        for key in ("max_files", "max_lines"):
            if key in spec and (isinstance(spec[key], bool) or not isinstance(spec[key], int) or spec[key] < 1):
                raise ConfigError(f"{where} {key} must be a whole number >= 1 (got {spec[key]!r})")
        for key in ("paths", "commands"):
            if key in spec and not (isinstance(spec[key], list) and all(isinstance(p, str) for p in spec[key])):
                raise ConfigError(f"{where} {key} must be a list of globs")
        default = DEFAULTS["leash"]
        return cls(
            root,
            level or spec.get("level", default["level"]),
            paths=tuple(paths or spec.get("paths", ["**"])),
            max_files=int(spec.get("max_files", default["max_files"])),
            max_lines=int(spec.get("max_lines", default["max_lines"])),
            commands=tuple(spec.get("commands", [])),
            rules=tuple(rules),
            **kwargs,
            budget=RunBudget(**{**budget, **{k: v for k, v in (limits or {}).items() if v is not None}}),
        )

    # -- checks -------------------------------------------------------------------------------

    def may_write(self, path: str) -> bool:
        """Would a write to `path` be allowed without asking? (Nothing is recorded.)"""
        store, self.store = self.store, None
        try:
            return self.check("write", path).allowed
        finally:
            self.store = store

    def check(self, tool: str, target: str) -> Decision:
        """May the agent use `tool` on `target` (a path, a command line for `run`, the JSON arguments of an MCP tool)?"""
        if tool not in TOOLS and not MCP.fullmatch(tool):
            return self._record(tool, target, Decision("deny", "tools", f"unknown tool {tool!r}"))
        if tool in ("read", "write"):
            try:
                _, target = resolve(self.root, target)  # rules see, and the record keeps, the real path
            except PathRefused as e:
                return self._record(tool, target, Decision("deny", "workspace", str(e)))
            if tool == "write" and (reason := protected(self.root, target)):
                return self._record(tool, target, Decision("deny", "protected", reason))
        matched = [r for r in self.rules if _covers(r, tool) and self._matches(r, tool, target)]
        denies = [r for r in matched if r.action == "deny"]
        if denies:
            return self._record(tool, target, Decision("deny", str(denies[0]), f"{tool} {_shown(target)} is denied by the config"))
        level_decision = self._level(tool, target)
        if level_decision.verdict == "deny":
            return self._record(tool, target, level_decision)
        asks = [r for r in matched if r.action == "ask"]
        if asks:
            return self._record(tool, target, Decision("ask", str(asks[0]), f"{tool} {_shown(target)} needs a yes (config)"))
        allows = [r for r in matched if r.action == "allow"]
        if allows and level_decision.verdict == "ask" and self.level in ("auto", "agent") and not _chained(tool, target):
            return self._record(tool, target, Decision("allow", str(allows[0]), f"{tool} {_shown(target)} is allowed by the config"))
        return self._record(tool, target, level_decision)

    def check_change(self, files: dict[str, int], texts: tuple[tuple[str, str | None, str | None], ...] = ()) -> Decision:
        """A whole change (path -> changed lines) against the path and size limits of the level;
        with its `texts` ((path, before, after) per file), one that weakens the tests is asked at
        every level, with what it weakens as the reason."""
        verdicts = [self.check("write", path) for path in files]
        if any(d.verdict == "deny" for d in verdicts):
            return next(d for d in verdicts if d.verdict == "deny")
        if found := tamper.weakened(texts):
            return self._record("write", ", ".join(files), Decision("ask", tamper.RULE, tamper.reason(found)))
        if any(d.verdict == "ask" for d in verdicts):
            return next(d for d in verdicts if d.verdict == "ask")
        lines = sum(files.values())
        if len(files) > self.max_files:
            return self._record(
                "write", ", ".join(files), Decision("ask", "limit max_files", f"{len(files)} files in one step (limit {self.max_files})")
            )
        if lines > self.max_lines:
            return self._record(
                "write", ", ".join(files), Decision("ask", "limit max_lines", f"{lines} changed lines in one step (limit {self.max_lines})")
            )
        return Decision("allow", "limits", f"{len(files)} files, {lines} lines: within the limits")

    def charge(
        self, usd: float | None = 0.0, input_tokens: int = 0, output_tokens: int = 0, steps: int = 0, cached_tokens: int = 0
    ) -> Decision:
        """Count spending; the verdict says whether the run may go on."""
        b, s = self.budget, self.spent
        if usd is None and b.usd is not None:  # an unpriced call: what it cost is unknown, never $0
            return self._record(
                "budget",
                "usd",
                Decision("deny", "budget usd", f"the model's price is unknown, so the run's limit of ${b.usd:g} cannot be kept"),
            )
        s.usd = None if usd is None or s.usd is None else s.usd + usd
        s.input_tokens += input_tokens
        s.output_tokens += output_tokens
        s.cached_tokens += cached_tokens
        s.steps += steps
        for name, used, limit in (
            ("usd", s.usd, b.usd),
            ("tokens", s.tokens, b.tokens),
            ("steps", s.steps, b.steps),
            ("seconds", s.seconds, b.seconds),
        ):
            if limit is not None and used is not None and used > limit:
                if name == "steps":  # a step is charged before it is taken: the one refused never was
                    s.steps -= steps
                why = (
                    f"the run used its {limit:g} step{'' if limit == 1 else 's'}"
                    if name == "steps"
                    else f"the run used {used:g} {name} of its {limit:g}"
                )
                return self._record("budget", name, Decision("deny", f"budget {name}", why))
        return Decision("allow", "budget", "within budget")

    # -- helpers ------------------------------------------------------------------------------

    def _level(self, tool: str, target: str) -> Decision:
        level = self.level
        if tool in ("read", "search", "propose"):
            if tool == "propose" and level == "ask":
                return Decision("deny", "level ask", "level ask only answers; it proposes no changes")
            return Decision("allow", f"level {level}", f"{tool} is allowed at every level")
        if MCP.fullmatch(tool):
            return _mcp_level(level, tool)
        if level in ("ask", "suggest"):
            return Decision(
                "deny", f"level {level}", f"level {level} {'reads only' if level == 'ask' else 'proposes diffs and applies nothing'}"
            )
        if level == "approve":
            return Decision("ask", "level approve", f"level approve asks before every {tool}")
        if tool == "write":
            if any(fnmatch.fnmatch(target, p) for p in self.paths):
                return Decision("allow", f"level {level} paths", f"{target} is inside the paths {level} may write")
            return Decision("ask", f"level {level} paths", f"{target} is outside the paths {level} may write ({', '.join(self.paths)})")
        if _chained(tool, target):
            return Decision("ask", "shell operators", "a command that chains or redirects always needs a yes")
        if _normal(target) in self.checks:
            return Decision("allow", f"level {level} checks", f"{target} is one of the run's checks")
        if any(fnmatch.fnmatch(_normal(target), p) for p in self.commands):
            return Decision("allow", f"level {level} commands", f"{target} matches the commands {level} may run")
        return Decision("ask", f"level {level} commands", f"{target} is not among the commands {level} may run")

    def _matches(self, rule: Rule, tool: str, target: str) -> bool:
        if tool == "run":
            return fnmatch.fnmatch(_normal(target), rule.pattern)
        if MCP.fullmatch(tool):  # the whole JSON arguments, case-blind: a deny of *delete* also stops "DELETE"
            return fnmatch.fnmatchcase(target.casefold(), rule.pattern.casefold())
        return fnmatch.fnmatch(target, rule.pattern) or fnmatch.fnmatch(target, rule.pattern.rstrip("/") + "/*")

    def _record(self, tool: str, target: str, decision: Decision) -> Decision:
        if self.store is not None:
            self.store.write(
                "INSERT INTO decisions (ts, run_id, level, tool, target, verdict, rule, reason) VALUES (?,?,?,?,?,?,?,?)",
                (time.time(), self.run_id, self.level, tool, target, decision.verdict, decision.rule, decision.reason),
            )
        return decision


def _shown(target: str, most: int = 300) -> str:
    """A target as a reason quotes it: an MCP call's arguments can be long (the rules saw them whole)."""
    return target if len(target) <= most else f"{target[:most]}… ({len(target) - most} more characters)"


def _normal(command: str) -> str:
    try:
        return " ".join(shlex.split(command))
    except ValueError:
        return command


def _covers(rule: Rule, tool: str) -> bool:
    """Whether `rule` speaks of `tool`. An MCP tool is covered by rules that name MCP (mcp, mcp:NAME:TOOL
    globs), and by `*` rules that deny or ask: a `*` allow written for tether's own tools allows no other program's."""
    if not MCP.fullmatch(tool):
        return rule.tool in (tool, "*")
    if rule.tool == "*":
        return rule.action != "allow"
    return rule.tool == "mcp" or fnmatch.fnmatchcase(tool, rule.tool)


def _mcp_level(level: str, tool: str) -> Decision:
    """An MCP tool can do anything its server can (write files, send mail, drop a table), so no level calls one unasked."""
    if level in ("ask", "suggest"):
        what = "reads only" if level == "ask" else "proposes diffs and changes nothing"
        return Decision("deny", f"level {level}", f"level {level} {what}, and {tool} is another program that may change things")
    return Decision("ask", f"level {level} mcp", f"{tool} is another program's tool: level {level} asks before each call")


def _chained(tool: str, target: str) -> bool:
    return tool == "run" and any(op in target for op in SHELL_OPERATORS)
