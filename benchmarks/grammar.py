"""Constrained replies on the embedded model, in one process: output tokens a second free, under a
grammar with llama-cpp-python's own sampler chain (the grammar checks every token of the
vocabulary at each step), and with tether's (the grammar is asked about the token drawn, and scans
the vocabulary only when it refuses it). The same cached prompt, greedy, the best of three each.

Run: .venv/bin/python benchmarks/grammar.py [--model qwen2.5-coder-1.5b] [--tokens 160]
(writes benchmarks/results/grammar.md: the newest run on top, earlier runs as history rows)"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from _results import record  # benchmarks/, the script's folder

from tether.autonomy.answers.ask import _schema
from tether.autonomy.edits import whole
from tether.llm.providers import local
from tether.llm.router import Grid
from tether.store import Store

HERE = Path(__file__).resolve().parent
FILE = "Write leap.py: a function leap_year(year) with a docstring and helper functions with comments."
CLAIMS = "Give three claims about Python's `len` builtin, each citing snippet S1."


def speed(grid: Grid, model: str, prompt: str, n: int, **constraint) -> tuple[float, str]:
    """The best of three: output tokens a second (the prompt is cached, so this is writing), and the text."""
    best, text = 0.0, ""
    for _ in range(3):
        r = grid.complete(model, prompt, max_tokens=n, temperature=0, **constraint)
        best, text = max(best, r.usage.output_tokens / (r.latency_ms / 1000)), r.text
    return best, text


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="qwen2.5-coder-1.5b")
    ap.add_argument("--tokens", type=int, default=160)
    args = ap.parse_args()
    model = f"local/{args.model}"
    grid = Grid.from_config(store=Store())
    rows = []
    for name, prompt, constraint in [
        ("whole file (GBNF)", FILE, {"grammar": whole.grammar("leap.py")}),
        ("ask's claims (JSON schema)", CLAIMS, {"schema": _schema(["S1"])}),
    ]:
        grid.complete(model, prompt, max_tokens=1, temperature=0)  # reads the prompt once: what follows is writing
        free, _ = speed(grid, model, prompt, args.tokens)
        ours, ours_text = speed(grid, model, prompt, args.tokens, **constraint)
        llm = next(llm for (n, _), (llm, _) in local._loaded.items() if n == args.model)
        del llm._init_sampler  # llama-cpp-python's own chain
        try:
            theirs, theirs_text = speed(grid, model, prompt, args.tokens, **constraint)
        finally:
            local._grammar_last(llm)
        rows.append((name, free, theirs, ours, ours_text == theirs_text))
        print(rows[-1], flush=True)
    grid.close()
    table = [
        "| reply | free | llama-cpp-python's chain | tether | tether / llama-cpp-python | same text |",
        "|---|---:|---:|---:|---:|---|",
    ]
    table += [f"| {n} | {f:.1f} | {t:.1f} | {o:.1f} | {o / t:.2f}× | {'yes' if same else 'no'} |" for n, f, t, o, same in rows]
    text = (
        f"# Constrained replies on the embedded model\n\n`.venv/bin/python benchmarks/grammar.py --model {args.model} --tokens {args.tokens}`"
        f" — output tokens a second (greedy, prompt cached, best of three), this machine ({os.cpu_count()} cores).\n\n"
        + "\n".join(table)
        + "\n"
    )
    record(
        "grammar",
        text,
        {f"tether / llama-cpp-python, {n}": f"{o / t:.2f}×" for n, f, t, o, same in rows},
        setting=f"{args.model}, {args.tokens} tokens, {os.cpu_count()} cores",
    )
    print(text)


if __name__ == "__main__":
    main()
