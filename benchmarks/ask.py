"""`tether ask` on a real repository no one here wrote, through its command line, on the default
embedded model: share of claims verified, share of questions whose answer cites the defining file
and lines (a verified citation in the right file overlapping the definition), time to a full
answer. Questions: benchmarks/ask_questions.toml (about pallets/click), ask_questions_rich.toml
(about Textualize/rich).

Run: .venv/bin/python benchmarks/ask.py --repo /path/to/click [--questions ask_questions.toml] [--model local/qwen2.5-coder-1.5b]
     [--limit N] [--context-tokens N] [--out ask.md]
(writes benchmarks/results/ask.md: the newest run on top, earlier runs as history rows; another --out name labels the run there)"""

from __future__ import annotations

import argparse
import ast
import json
import os
import statistics
import subprocess
import sys
import time
import tomllib
from pathlib import Path

from _results import record  # benchmarks/, the script's folder

HERE = Path(__file__).resolve().parent
TETHER = [sys.executable, "-m", "tether.cli"]


def spans(path: Path, symbol: str) -> list[tuple[int, int]]:
    """Where `symbol` is defined in a Python file (every def or class of that name)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [
        (n.lineno, n.end_lineno or n.lineno)
        for n in ast.walk(tree)
        if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and n.name == symbol
    ]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repo", required=True, type=Path)
    ap.add_argument("--model", default="local/qwen2.5-coder-1.5b")
    ap.add_argument("--limit", type=int, default=0)
    ap.add_argument("--questions", default="ask_questions.toml", help="a question file in benchmarks/")
    ap.add_argument("--context-tokens", type=int, help="passed to tether ask (default: its own)")
    ap.add_argument(
        "--out",
        default="ask.md",
        help="the run's name: the run goes into benchmarks/results/ask.md, a name other than ask.md labels its row",
    )
    args = ap.parse_args()
    questions = tomllib.loads((HERE / args.questions).read_text())["q"][: args.limit or None]
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=args.repo, capture_output=True, text=True).stdout.strip()
    subprocess.run(
        [*TETHER, "search", "warm the index", "-C", str(args.repo), "--embed-seconds", "-1", "--json"], capture_output=True, check=True
    )
    rows = []
    for q in questions:
        started = time.monotonic()
        done = subprocess.run(
            [
                *TETHER,
                "ask",
                q["question"],
                "-C",
                str(args.repo),
                "-m",
                args.model,
                "--json",
                *(["--context-tokens", str(args.context_tokens)] if args.context_tokens else []),
            ],
            capture_output=True,
            text=True,
            timeout=900,
            env=os.environ.copy(),
        )
        seconds = time.monotonic() - started
        if done.returncode:
            rows.append({"question": q["question"], "error": done.stderr.strip()[-300:], "seconds": seconds})
            continue
        answer = json.loads(done.stdout)
        wanted = spans(args.repo / q["path"], q["symbol"])
        claims = answer["claims"]

        def defines(c, q=q, wanted=wanted) -> bool:
            return any(x["path"] == q["path"] and any(x["start"] <= b and x["end"] >= a for a, b in wanted) for x in c["citations"])

        found = any(c["verified"] and defines(c) for c in claims)
        rows.append(
            {
                "question": q["question"],
                "claims": len(claims),
                "verified": sum(c["verified"] for c in claims),
                "defining": found,
                "cited": any(defines(c) for c in claims),
                "seconds": seconds,
                "tokens": answer["usage"]["input_tokens"] + answer["usage"]["output_tokens"],
                "shown": [
                    (
                        c.get("state", "verified" if c["verified"] else "unverified"),
                        c["text"],
                        " ".join(f"{x['path']}:{x['start']}-{x['end']}" for x in c["citations"]),
                    )
                    for c in claims
                ],
            }
        )
        print(json.dumps(rows[-1]), flush=True)
    ok = [r for r in rows if "error" not in r]
    claims = sum(r["claims"] for r in ok)
    verified = sum(r["verified"] for r in ok)
    table = ["| # | question | claims | verified | defining file and lines cited | seconds |", "|---|---|---|---|---|---|"]
    for n, r in enumerate(rows, start=1):
        if "error" in r:
            table.append(f"| {n} | {r['question']} | error: {r['error'][:80]} | | | {r['seconds']:.0f} |")
        else:
            table.append(
                f"| {n} | {r['question']} | {r['claims']} | {r['verified']} | {'yes' if r['defining'] else 'no'} | {r['seconds']:.0f} |"
            )
    summary = (
        f"- claims verified: **{verified} of {claims} ({100 * verified / max(claims, 1):.0f} %)** (goal ≥ 90 %)\n"
        f"- questions whose answer cites the defining file and lines: **{sum(r['defining'] for r in ok)} of {len(rows)} "
        f"({100 * sum(r['defining'] for r in ok) / max(len(rows), 1):.0f} %)** by a verified claim, "
        f"**{sum(r['cited'] for r in ok)} of {len(rows)}** by any claim (goal ≥ 70 %)\n"
        f"- median time to a full answer: **{statistics.median(r['seconds'] for r in rows):.1f} s** (goal ≤ 30 s); "
        f"median tokens {statistics.median(r['tokens'] for r in ok) if ok else 0:.0f}\n"
    )
    shown = ["", "Every claim as the person sees it (state, claim, cited lines), to be judged by reading the lines:", ""]
    for n, r in enumerate(ok, start=1):
        shown += [f"{n}. {r['question']}"] + [f"   - {state}: {text} [{where}]" for state, text, where in r["shown"]]
    text = (
        f"# tether ask: answers that cite by construction\n\n`.venv/bin/python benchmarks/ask.py --repo {args.repo.name.upper()} "
        f"--questions {args.questions} --model {args.model}"
        f"{f' --context-tokens {args.context_tokens}' if args.context_tokens else ''}{f' --limit {args.limit}' if args.limit else ''}`"
        f" — {args.repo.name} at {commit}, {len(rows)} questions (benchmarks/{args.questions}), this machine ({os.cpu_count()} cores), "
        f"each answer a separate `tether ask` process (model load included).\n\n{summary}\n" + "\n".join(table + shown) + "\n"
    )
    record(
        "ask",
        text,
        {
            "claims verified": f"{verified} of {claims}",
            "defining lines cited": f"{sum(r['defining'] for r in ok)} of {len(rows)}",
            "median s": f"{statistics.median(r['seconds'] for r in rows):.1f}",
        },
        setting=f"{args.repo.name} at {commit}, {args.questions}, {os.cpu_count()} cores",
        run=args.out,
    )
    print(text)


if __name__ == "__main__":
    main()
