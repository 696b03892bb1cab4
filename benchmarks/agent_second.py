"""What a second reply of the model does where its first failed, read from an agent benchmark's
run store: per exercise whose first reply failed the tests, three ways to spend one more reply,
each graded on the pristine tests —

- follow-up, whole file: the conversation goes on with the failing checks, as `tether do` sends them;
- follow-up, SEARCH/REPLACE: the same, asking for blocks that replace only the lines at fault;
- fresh sample: the opening prompt again, sampled at a temperature (a candidate).

It answers where more passes could come from on a model, per failure, not by a guess.

    python benchmarks/agent_second.py --store DATA/tether/tether.db --exercism PATH --sample 40 --seed 1

`--store`: the tether.db under the XDG_DATA_HOME an `agent.py` run used; the exercises must be
the same sample. Writes results/agent_second.md (the newest run on top, earlier runs as history rows)."""

from __future__ import annotations

import argparse
import re
import shutil
import sys
import time
from pathlib import Path

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))

import agent as bench  # noqa: E402  (the same exercises, tests and grading)
from _results import record  # noqa: E402


def cases(store, tasks: dict[str, Path]) -> list[dict]:
    """Each exercise's first run whose first reply was an edit that failed the checks."""
    from tether.autonomy.history import runlog

    seen, found = set(), []
    for run in runlog.runs(store, limit=100_000):
        name = re.sub(r"^agent-|-[^-]*$", "", Path(run["root"]).name)
        if run["command"] != "do" or name in seen or name not in tasks:
            continue
        seen.add(name)
        steps = runlog.replay(store, run["id"])[1]
        prompt = next((s for s in steps if s["kind"] == "prompt"), None)
        replies = [i for i, s in enumerate(steps) if s["kind"] == "reply"] + [len(steps)]
        reply = replies[0] if len(replies) > 1 else None
        checks = [s for s in steps[reply : replies[1]] if s["kind"] == "verify"] if reply is not None else []
        if prompt and checks and checks[0]["code"] != 0:
            found.append(
                {
                    "task": name,
                    "system": prompt["system"],
                    "user": prompt["user"],
                    "reply": steps[reply]["text"],
                    "check": checks[0],
                    "model": steps[reply]["model"],
                }
            )
    return found


def applied(task: Path, base: str, reply: str, formats: tuple[str, ...]) -> str | None:
    """The file after the reply's edits are applied to `base` as tether applies them; None if they do not apply."""
    from tether.autonomy.edits.apply import apply_text

    work = bench.scratch(task)
    try:
        (work / f"{task.name}.py").write_text(base)
        return (work / f"{task.name}.py").read_text() if apply_text(work, reply, formats).applied else None
    finally:
        shutil.rmtree(work, ignore_errors=True)


def graded(task: Path, text: str) -> str:
    work = bench.scratch(task)
    try:
        (work / f"{task.name}.py").write_text(text)
        return "pass" if bench.tests_pass(task, work)[0] else "fail"
    finally:
        shutil.rmtree(work, ignore_errors=True)


def second_replies(grid, case: dict, task: Path) -> dict:
    from tether.autonomy.agent.proposal import checks_fail
    from tether.autonomy.edits import search_replace
    from tether.autonomy.edits.formats import FORMATS
    from tether.autonomy.guard.untrusted import Fence
    from tether.autonomy.guard.verify import CommandResult, raised, wrong_values

    whole, path = FORMATS["whole"], f"{task.name}.py"
    stub = (task / path).read_text()
    before = applied(task, stub, case["reply"], whole.parsers) or stub
    tag = re.search(r"<data-([0-9a-f]{8})", case["system"])
    fence = Fence(tag.group(1) if tag else None)
    check = CommandResult(case["check"]["command"], case["check"]["code"], case["check"]["output"], case["check"]["seconds"])
    failing = f"Applied to {path}. {checks_fail([check], fence.wrap)}"
    opening = [{"role": "system", "content": case["system"]}, {"role": "user", "content": case["user"]}]
    follow = [*opening, {"role": "assistant", "content": case["reply"]}]
    exception = next((name for name in raised(check.output) if name != "AssertionError"), "other")
    failure = "timeout" if check.code is None else "wrong answers" if wrong_values([check]) else exception
    row = {"task": task.name, "failure": failure, "tokens": 0, "model": case["model"]}

    def ask(messages, grammar, **opts):
        reply = grid.complete(case["model"], messages, max_tokens=1536, grammar=grammar, **{"seed": 0, **opts})
        row["tokens"] += reply.usage.input_tokens + reply.usage.output_tokens
        return reply.text

    def outcome(after: str | None, base: str, unapplied: str) -> str:
        return unapplied if after is None else "copy" if after.strip() == base.strip() else graded(task, after)

    # 1. the conversation goes on, as tether sends it
    text = ask([*follow, {"role": "user", "content": failing + "Fix the code. " + whole.ask}], whole.grammar(path, before))
    row["whole"] = outcome(applied(task, before, text, whole.parsers), before, "no edit")
    # 2. the same, in SEARCH/REPLACE blocks on the failed file
    text = ask(
        [
            *follow,
            {
                "role": "user",
                "content": failing + "\n" + search_replace.PROMPT + f"\nFix {path} with SEARCH/REPLACE "
                "blocks: each SEARCH copies the few lines at fault exactly, its REPLACE holds them fixed.",
            },
        ],
        search_replace.grammar(path, before),
    )
    row["blocks"] = outcome(applied(task, before, text, ("search-replace",)), before, "no match")
    # 3. a fresh sample of the opening prompt (the file as the run found it)
    text = ask(opening, whole.grammar(path, stub), temperature=0.7, seed=1)
    row["fresh"] = outcome(applied(task, stub, text, whole.parsers), before, "no edit")
    return row


def table(rows: list[dict], source: str) -> str:
    kinds = ("whole", "blocks", "fresh")
    models = ", ".join(sorted({f"`{r['model']}`" for r in rows}))
    out = [
        "# What a second reply does where the first failed",
        "",
        f"`python benchmarks/agent_second.py` on {time.strftime('%Y-%m-%d')}: {source}. "
        f"The run's model ({models}), each reply graded on the pristine tests. *follow-up*: the conversation goes on with the failing checks as "
        "`tether do` shows them (one failure report), asking for the whole file again, or for SEARCH/REPLACE blocks on "
        "the failed file; *fresh*: the opening prompt sampled again at temperature 0.7. "
        "copy: the reply gave back the failed file unchanged; no match: its SEARCH text is not in the file.",
        "",
        "| exercise | first reply failed on | follow-up, whole file | follow-up, SEARCH/REPLACE | fresh sample |",
        "|---|---|---|---|---|",
    ]
    out += [f"| {r['task']} | {r['failure']} | {r['whole']} | {r['blocks']} | {r['fresh']} |" for r in rows]
    out += ["", "| | replies | passed | gave the failed file back |", "|---|---:|---:|---:|"]
    for kind, label in zip(kinds, ("follow-up, whole file", "follow-up, SEARCH/REPLACE", "fresh sample (T 0.7)"), strict=False):
        got = [r[kind] for r in rows]
        out.append(f"| {label} | {len(got)} | {got.count('pass')} | {got.count('copy')} |")
    wrong = [r for r in rows if r["failure"] == "wrong answers"]
    for what, part in (("wrong answers", wrong), ("exceptions", [r for r in rows if r not in wrong])):
        passes = sum(r[k] == "pass" for r in part for k in kinds)
        out.append(f"| first reply failed on {what}: {len(part)} exercises | {3 * len(part)} | {passes} | |")
    out += ["", f"Tokens of all these replies: {sum(r['tokens'] for r in rows):,}.", ""]
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--store", type=Path, required=True, help="the tether.db of an agent.py run")
    parser.add_argument("--exercism", type=Path, required=True)
    parser.add_argument("--sample", type=int, default=40)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--tasks", default="", help="only these exercises (comma-separated)")
    parser.add_argument("--run", default="", help="the results name of the agent.py run the store holds (for the table's header)")
    parser.add_argument("--name", default="agent_second", help="the run's name, shown in its row of results/agent_second.md")
    args = parser.parse_args()
    from tether import Grid
    from tether.store import Store

    tasks = {t.name: t for t in bench.exercism(args.exercism, args.sample, args.seed)}
    store = Store(args.store)
    found = [c for c in cases(store, tasks) if not args.tasks or c["task"] in args.tasks.split(",")]
    print(f"{len(found)} exercises whose first reply failed", flush=True)
    grid = Grid.from_config()
    rows = []
    for case in found:
        rows.append(second_replies(grid, case, tasks[case["task"]]))
        print(rows[-1], flush=True)
    run = f" ({args.run}, in [agent.md](agent.md))" if args.run else ""
    source = (
        f"the first replies of tether's try 1 in an `agent.py` run{run} on {args.sample} exercism/python exercises "
        f"(seed {args.seed}; `--store DATA/tether/tether.db --exercism PATH --sample {args.sample} --seed {args.seed}"
        + (f" --run {args.run}" if args.run else "")
        + "`)"
    )
    text = table(rows, source)
    kinds = {"follow-up, whole file": "whole", "follow-up, SEARCH/REPLACE": "blocks", "fresh sample": "fresh"}
    record(
        "agent_second",
        text,
        {k: f"{sum(r[v] == 'pass' for r in rows)} of {len(rows)} passed" for k, v in kinds.items()},
        setting=f"{args.sample} exercises, seed {args.seed}" + (f", the store of {args.run}" if args.run else ""),
        run=args.name,
    )
    print(text)


if __name__ == "__main__":
    main()
