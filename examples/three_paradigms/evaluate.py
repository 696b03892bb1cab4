"""Scoring the six programs the same way: accuracy and macro-F1 on the test split, latency per
item, cost per 1,000 items, lines of code, and the compute it took to build."""

from __future__ import annotations

import ast
import inspect
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from .data import LABELS, Example


@dataclass
class Row:
    program: str
    paradigm: str
    accuracy: float
    macro_f1: float
    ms_per_item: float
    usd_per_1000: float | None  # None: the model's price is unknown
    lines: int
    build_seconds: float
    note: str = ""


def macro_f1(gold: list[str], predicted: list[str]) -> float:
    scores = []
    for label in LABELS:
        tp = sum(g == p == label for g, p in zip(gold, predicted, strict=False))
        fp = sum(p == label != g for g, p in zip(gold, predicted, strict=False))
        fn = sum(g == label != p for g, p in zip(gold, predicted, strict=False))
        precision = tp / (tp + fp) if tp + fp else 0.0
        recall = tp / (tp + fn) if tp + fn else 0.0
        scores.append(2 * precision * recall / (precision + recall) if precision + recall else 0.0)
    return sum(scores) / len(scores)


def run(classify: Callable[[str], str], test: list[Example], progress=None) -> tuple[list[str], float]:
    """Predictions, and milliseconds per item."""
    predicted = []
    started = time.perf_counter()
    for example in test:
        predicted.append(classify(example.text))
        if progress:
            progress()
    return predicted, (time.perf_counter() - started) * 1000 / max(1, len(test))


def code_lines(*objects) -> int:
    """Lines of code a person wrote for the program: no blank lines, comments or docstrings."""
    total = 0
    for obj in objects:
        if isinstance(obj, str):  # a prompt: its lines are the program
            total += sum(1 for line in obj.splitlines() if line.strip())
            continue
        source = inspect.getsource(obj)
        tree = ast.parse(source)
        docstrings = {
            n.body[0].value.lineno
            for n in ast.walk(tree)
            if isinstance(n, (ast.Module, ast.ClassDef, ast.FunctionDef))
            and n.body
            and isinstance(n.body[0], ast.Expr)
            and isinstance(n.body[0].value, ast.Constant)
            and isinstance(n.body[0].value.value, str)
        }
        spans = set()
        for n in ast.walk(tree):
            if isinstance(n, ast.Expr) and n.lineno in docstrings:
                spans |= set(range(n.lineno, n.end_lineno + 1))
        total += sum(
            1
            for number, line in enumerate(source.splitlines(), start=1)
            if line.strip() and not line.strip().startswith("#") and number not in spans
        )
    return total


def markdown(rows: list[Row], items: int, model: str, seconds: float) -> str:
    lines = [
        "| program | paradigm | accuracy | macro-F1 | ms / item | $ / 1,000 items | lines of code | build (compute) |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        cost = "unknown" if r.usd_per_1000 is None else f"${r.usd_per_1000:.4f}"
        lines.append(
            f"| {r.program} | {r.paradigm} | {r.accuracy:.1%} | {r.macro_f1:.3f} | {r.ms_per_item:,.2f} | {cost} | {r.lines} | "
            f"{r.build_seconds:.1f} s |"
        )
    notes = [f"- {r.program}: {r.note}" for r in rows if r.note]
    return (
        f"Test split: {items} items (seeded, disjoint from train and dev). LLM: `{model}`. Whole run: {seconds:.0f} s.\n\n"
        + "\n".join(lines)
        + "\n"
        + ("\n" + "\n".join(notes) + "\n" if notes else "")
    )


def chart(rows: list[Row], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    colours = {"1.0": "#8c6d31", "2.0": "#3182bd", "3.0": "#31a354"}
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    names = [r.program for r in rows]
    left.barh(names, [r.accuracy * 100 for r in rows], color=[colours[r.paradigm] for r in rows])
    left.set_xlabel("accuracy on the test split (%)")
    left.set_xlim(50, 100)
    left.invert_yaxis()
    right.barh(names, [max(r.ms_per_item, 0.001) for r in rows], color=[colours[r.paradigm] for r in rows])
    right.set_xscale("log")
    right.set_xlabel("latency per item (ms, log scale)")
    right.invert_yaxis()
    right.set_yticklabels([])
    fig.suptitle("Sentiment of Rotten Tomatoes snippets: Software 1.0 (brown), 2.0 (blue), 3.0 (green)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
