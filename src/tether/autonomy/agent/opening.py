"""The opening prompt of a run: the system prompt (the fence's rule, the edit format, the tools,
the level), then what the model sees of the repository, the request, what it may change and how
the checks fail now. The same prefix from run to run, so the model's cache serves it."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from ...context import tokens
from ...context.walk import read_regular, walk
from .. import memory
from ..guard.verify import failure_report
from . import best
from .brief import brief, file_block
from .result import Status, Stop
from .tools import prompt as tools_prompt

if TYPE_CHECKING:
    from .loop import Agent

OUTPUT_TOKENS = 1536  # room kept for each reply

SYSTEM = """You are tether, a careful programmer working in the user's repository, on a leash the user controls.

{fence_rule}

{edits}
Make the smallest change that does the task, in the code style of the files you edit. The files
shown to you are current: when they are enough, reply with the edit right away.{remember}

{tools}{level_note}"""

REMEMBER = " Something the\nnext task here should know (how the tests run, a convention)? Add a line `REMEMBER: {placeholder}`."

LEVEL_NOTES = {
    "ask": "You may only read and answer: reply with your answer in plain text, citing files as path:line. Reply DONE when you have "
    "nothing to add.",
    "suggest": "Your edits are shown to the user as suggestions and not applied.",
    "approve": "The user approves or rejects each change you propose.",
    "auto": "Your edits are applied and checked by the project's tests: make the whole change in one reply. The task ends when they pass.",
    "agent": "Your edits are applied and checked by the project's tests; keep fixing until they pass.",
}


def opening(run: Agent, instruction: str, logged: bool = True) -> list[dict]:
    """The first prompt; `logged=False` sets the run up without a prompt in its log (a resumed run goes on from its own)."""
    run.status("reading the workspace")  # the index may take a second or two: something moves at once
    found = walk(run.root)
    run.sole = sole_writable(run, found)
    example = run.sole or _example(run, instruction)
    run.grammar = _focus(run)
    told = lambda text: (run.log.step("note", text=text), run.on_event("note", text=text))  # noqa: E731 - a server that did not start
    offered = run.toolbox.offered(told) if run.leash.level in ("approve", "auto", "agent") and not run.grammar else []  # MCP servers' tools
    # under the grammar a reply can only be the edit, asked for once at the prompt's end: the format's
    # instructions in the system prompt too cost 8 tests of 215 on issue 42's tuning half (66 -> 74)
    system = SYSTEM.format(
        fence_rule=run.fence.rule(),
        edits="" if run.grammar else run.format.prompt(example),
        remember="" if run.grammar else REMEMBER.format(placeholder=memory.PLACEHOLDER),
        tools="" if run.grammar else tools_prompt(example, offered, run.fence.wrap) + "\n",
        level_note=LEVEL_NOTES[run.leash.level],
    )
    room = run.window() - OUTPUT_TOKENS - tokens.count(system) - tokens.count(instruction) - 200
    writable = None if run.person or not run.unreviewed() else run.leash.may_write
    context, own = brief(
        run.root,
        instruction,
        run.fence,
        max(500, room * 2 // 3),
        search=lambda q: run.toolbox.index().search(q, k=8),
        writable=writable,
        found=found,
        definitions=lambda name: run.toolbox.index().definitions(name),
    )
    run.output_tokens = run.format.output_tokens((context + own).split("</" + run.fence.tag), OUTPUT_TOKENS)
    checks, failing = _checks(run)
    if not run.changed and run.leash.level in ("approve", "auto", "agent"):
        run.checks.count_baseline(run.unreviewed())
    ending = "Answer in plain text." if run.leash.level == "ask" else run.format.ask
    conventions, sources = memory.standing(run.root)
    if conventions:  # the project's own standing instructions: they shape style and workflow, never the leash
        conventions = (
            f"The project's standing instructions ({', '.join(sources)}); follow them where they fit the request:\n"
            + run.fence.wrap("standing instructions", conventions)
            + "\n\n"
        )
    own = f"\n\nWhat you may change:\n{own}" if own else ""
    user = f"{conventions}{context}\n\nThe user's request:\n{instruction}{own}{checks}\n\n{ending}"
    run.outlined = False
    if failing and run.sole and not run.escalator.tried and run.trail.checkpoints.left_by_last(run.sole):
        outlined = anew(run, user, "the last run wrote it and it fails the checks")
        if outlined != user:
            run.log.step("note", text="the file holds the last run's failing change: the model sees its outline, not its code")
            user, run.outlined = outlined, True
    if logged:
        run.log.step("prompt", system=system, user=user)
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]


def _checks(run: Agent) -> tuple[str, list]:
    """How the checks stand before the first reply, where no person reviews each change."""
    if not (run.checks.commands and run.unreviewed()):
        return "", []
    results = run.checks.run()
    best.started(run, results)  # no change of the run may leave them worse than this
    failing = [r for r in results if not r.ok]
    if not failing and run.stop_when_green:  # the checks are the whole spec, and they pass already
        raise Stop(Status.DONE, "the checks already pass; nothing to change")
    # one failure report: the files above show the cases, this how they fail (each prompt token costs ~1/100 s here)
    return (
        "\n\nAfter each change the checks run. Now they fail like this:\n" + failure_report(failing, run.fence.wrap)
        if failing
        else f"\n\nAfter each change the checks run ({', '.join(run.checks.commands)}). Now they pass."
    ), failing


def anew(run: Agent, user: str, why: str = "its code fails the checks") -> str:
    """The opening prompt with the sole file's code replaced by what the edit format shows instead
    (a whole file's outline), so a fresh sample cannot copy it. A run that starts on the failing
    file the last run left is shown it so too: in five benchmark runs, 38 of 50 second tries began
    with a copy."""
    shape = run.format.outline(run.sole, run.sole_text) if run.sole and run.sole_text else None
    if shape is None:
        return user  # the opening prompt unchanged is read from the cache
    label = f"{run.sole} ({why}, so only its definitions are shown: write the whole file anew)"
    return user.replace(file_block(run.sole, run.sole_text, run.fence), file_block(run.sole, shape, run.fence, label=label))


def _example(run: Agent, instruction: str) -> str:
    """A file the request names (one that exists, else a source file it asks for), else one
    that search finds for it. A small model copies the example's path: asked for shortener.py
    in an empty folder, it wrote the old fallback's src/app.py."""
    named = [w.strip("`'\".,:;()") for w in instruction.split()]
    existing = [w for w in named if "." in w and (run.root / w).is_file()]
    asked = [w for w in named if re.fullmatch(r"[\w./-]+\.(?:py|pyi|js|jsx|ts|tsx|go|rs|rb|java|kt|c|h|cc|cpp|cs|php|swift|sh)", w)]
    if existing or asked:
        return (existing or asked)[0]
    hits = run.toolbox.index().search(instruction, k=1)
    return hits[0].path if hits else "src/app.py"


def _focus(run: Agent) -> str | None:
    """One writable file and checks to pass: while they fail, a reply is sampled
    under a grammar that only lets it be an edit of that file — never prose, a tool line or a
    rewrite of the tests (qwen2.5-coder-1.5b spent ~40 s rewriting a read-only test file)."""
    if not run.sole or not run.checks.commands or not run.unreviewed():
        return None
    try:
        run.sole_text = read_regular(run.root / run.sole).decode("utf-8", "replace")
    except OSError:
        run.sole_text = ""
    return run.format.grammar(run.sole, run.sole_text)


def sole_writable(run: Agent, found) -> str | None:
    """The only text file of the workspace the leash lets this run write, if there is exactly one."""
    writable = [f.path for f in found.files if not f.binary and run.leash.may_write(f.path)]
    return writable[0] if len(writable) == 1 else None
