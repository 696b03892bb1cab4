"""python -m examples.three_paradigms [--limit N] [--model provider/name]

One task — is this movie-review snippet positive or negative? — as six programs from three
paradigms, scored on the same seeded test split; prints the table and writes results.md and
chart.png beside this file."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from rich.console import Console
from rich.progress import Progress

from . import data, learned, prompted, rules, vader
from .evaluate import Row, chart, code_lines, macro_f1, markdown, run

HERE = Path(__file__).resolve().parent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m examples.three_paradigms", description=__doc__.split("\n\n")[1])
    parser.add_argument("--limit", type=int, default=None, help="score only the first N test items (a quick run)")
    parser.add_argument("--model", default="local/qwen2.5-coder-1.5b", help="the LLM for the 3.0 programs (any catalogue model or route)")
    parser.add_argument("--shots", type=int, default=8, help="examples in the few-shot prompt")
    parser.add_argument("--out", type=Path, default=HERE, help="where results.md and chart.png go")
    args = parser.parse_args(argv)
    console = Console(stderr=True)
    started = time.perf_counter()
    split = data.split(data.load())
    test = split.test[: args.limit] if args.limit else split.test
    gold = [e.label for e in test]
    rows: list[Row] = []

    from tether import Grid

    grid = Grid.from_config()
    programs = [
        ("hand-written rules", "1.0", lambda: rules.classify, lambda: code_lines(rules), ""),
        ("VADER", "1.0", lambda: vader.classify, lambda: code_lines(vader), "plus VADER's own lexicon of 7,500 rated words and its rules"),
        (
            "TF-IDF + logistic regression",
            "2.0",
            lambda: learned.Learned("logreg").fit(split.train),
            lambda: code_lines(learned.Learned),
            "",
        ),
        (
            "TF-IDF + neural net (64 hidden)",
            "2.0",
            lambda: learned.Learned("mlp").fit(split.train),
            lambda: code_lines(learned.Learned),
            "",
        ),
        (
            "LLM, zero-shot",
            "3.0",
            lambda: prompted.Prompted(grid, args.model),
            lambda: code_lines(prompted.PROMPT),
            f"the program is the prompt; {code_lines(prompted.Prompted)} lines of glue call tether's grid",
        ),
        (
            f"LLM, {args.shots}-shot",
            "3.0",
            lambda: prompted.Prompted(grid, args.model, prompted.shots(split.train, args.shots)),
            lambda: code_lines(prompted.PROMPT),
            f"the prompt plus {args.shots} examples drawn from the train split",
        ),
    ]
    with Progress(console=console, transient=True, disable=not sys.stderr.isatty()) as bar:
        for name, paradigm, build, lines, note in programs:
            task = bar.add_task(name, total=len(test))
            built_at = time.perf_counter()
            program = build()
            build_seconds = getattr(program, "train_seconds", time.perf_counter() - built_at)
            classify = program if callable(program) else program.classify
            since = time.time()
            predicted, ms = run(classify, test, progress=lambda task=task: bar.advance(task))
            usd = 0.0
            if paradigm == "3.0":  # what the grid metered, read back from tether's ledger
                ms, usd = ledger_figures(grid, since, len(test))
            accuracy = sum(g == p for g, p in zip(gold, predicted, strict=False)) / len(gold)
            rows.append(Row(name, paradigm, accuracy, macro_f1(gold, predicted), ms, usd, lines(), build_seconds, note))
            console.print(f"{name}: {accuracy:.1%}")
    table = markdown(rows, len(test), args.model, time.perf_counter() - started)
    print(table)
    args.out.mkdir(parents=True, exist_ok=True)
    command = (
        "python -m examples.three_paradigms"
        + (f" --limit {args.limit}" if args.limit else "")
        + (f" --model {args.model}" if args.model != "local/qwen2.5-coder-1.5b" else "")
    )
    (args.out / "results.md").write_text(f"# Results\n\n`{command}` on {time.strftime('%Y-%m-%d')}, 2 CPU cores.\n\n{table}")
    chart(rows, args.out / "chart.png")
    console.print(f"wrote {args.out / 'results.md'} and {args.out / 'chart.png'}")
    return 0


def ledger_figures(grid, since: float, items: int) -> tuple[float, float | None]:
    """Mean latency per call (ms) and USD per 1,000 items, from the ledger rows since `since`."""
    grid.ledger.flush()
    rows = grid.store.query("SELECT latency_ms, cost_usd FROM ledger WHERE ts >= ? AND outcome = 'ok'", (since,))
    if not rows:
        return 0.0, None
    latency = sum(r["latency_ms"] or 0 for r in rows) / len(rows)
    cost = None if any(r["cost_usd"] is None for r in rows) else sum(r["cost_usd"] for r in rows) * 1000 / max(1, items)
    return latency, cost


if __name__ == "__main__":
    sys.exit(main())
