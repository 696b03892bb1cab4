"""Vibe coding: small programs asked for in plain English, built by `tether do` at level `agent`
in an empty folder, as a user would run it — and built again plan-then-do: `tether plan` writes
the steps, `tether do --plan` carries them out one run a step (each step with the same options and
time limit as the one-shot run, each checked by its own check: with the whole suite as every step's
check, a first step whose tests a later step writes cannot pass).

    python benchmarks/vibe.py [--programs todo,rpn] [--model qwen2.5-coder-1.5b] [--seconds 300] [--modes do,plan]

Each program names the files it wants and asks for pytest tests of its own. tether runs with
`--verify "python -m pytest -q" --until-green`, so the run ends when its own tests pass (or at
the time limit). Then three things are judged, as the person who asked would: are the requested
files there, do the program's own tests pass, and does it do what was asked — an acceptance check
written here, never shown to the model. Results go to results/vibe.json and results/vibe.md (the newest run on top, earlier runs as history rows)."""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

from _results import record  # benchmarks/, the script's folder

HERE = Path(__file__).resolve().parent
RESULTS, TABLE = HERE / "results" / "vibe.json", HERE / "results" / "vibe.md"
PYTEST = f"{sys.executable} -m pytest -q -p no:cacheprovider"

# name: (the request, the files it names, an acceptance check run in the folder: exit 0 is a pass)
PROGRAMS = {
    "todo": (
        "Write a command-line todo app in todo.py that keeps its items in todo.json in the current folder. "
        "`python todo.py add TEXT` adds an item; `python todo.py list` prints one line per item, `N. [ ] TEXT` or "
        "`N. [x] TEXT` when it is done, N counting from 1; `python todo.py done N` marks item N done. "
        "Write pytest tests for it in test_todo.py.",
        ("todo.py", "test_todo.py"),
        """
        import os, subprocess, sys
        if os.path.exists("todo.json"):
            os.remove("todo.json")  # whatever the program's own tests left
        run = lambda *a: subprocess.run([sys.executable, "todo.py", *a], capture_output=True, text=True, check=True).stdout
        run("add", "buy milk"); run("add", "call mom"); run("done", "1")
        lines = [x.strip() for x in run("list").splitlines() if x.strip()]
        assert lines == ["1. [x] buy milk", "2. [ ] call mom"], lines
        """,
    ),
    "shortener": (
        "Write a URL shortener library in shortener.py: a class Shortener whose shorten(url) returns a code of "
        "6 letters and digits (the same URL always gets the same code, different URLs different codes) and whose "
        "expand(code) returns the URL, raising KeyError for a code it never gave. Write pytest tests in "
        "test_shortener.py.",
        ("shortener.py", "test_shortener.py"),
        """
        from shortener import Shortener
        s = Shortener()
        a, b = s.shorten("https://example.com/a"), s.shorten("https://example.com/b")
        assert len(a) == 6 and a.isalnum() and a != b and s.shorten("https://example.com/a") == a
        assert s.expand(a) == "https://example.com/a" and s.expand(b) == "https://example.com/b"
        try:
            s.expand("zzzzzz" if "zzzzzz" not in (a, b) else "yyyyyy")
        except KeyError:
            pass
        else:
            raise AssertionError("an unknown code expanded")
        """,
    ),
    "csvsummary": (
        "Write csvsummary.py with a function summarise(path) that reads a CSV file with a header row and returns "
        "a dict that maps each numeric column's name to a dict with the keys count, min, max and mean; a column "
        "with any value that is not a number is left out. `python csvsummary.py FILE` prints that dict as JSON. "
        "Write pytest tests in test_csvsummary.py.",
        ("csvsummary.py", "test_csvsummary.py"),
        """
        import json, subprocess, sys
        from pathlib import Path
        Path("people.csv").write_text("name,age,score\\nann,30,1.5\\nbob,40,2.5\\ncid,50,5\\n")
        from csvsummary import summarise
        got = summarise("people.csv")
        assert set(got) == {"age", "score"}, got
        assert got["age"]["count"] == 3 and got["age"]["min"] == 30 and got["age"]["max"] == 50 and got["age"]["mean"] == 40, got
        assert abs(got["score"]["mean"] - 3.0) < 1e-9, got
        out = subprocess.run([sys.executable, "csvsummary.py", "people.csv"], capture_output=True, text=True, check=True).stdout
        assert json.loads(out)["age"]["max"] == 50, out
        """,
    ),
    "wordfreq": (
        "Write wordfreq.py with a function top_words(text, n) that returns the n most common words of text as "
        "(word, count) tuples, most common first and equal counts in alphabetical order; a word is a lower-cased "
        "run of letters and apostrophes. Write pytest tests in test_wordfreq.py.",
        ("wordfreq.py", "test_wordfreq.py"),
        """
        from wordfreq import top_words
        assert [tuple(x) for x in top_words("The cat and the hat. THE end, and don't stop", 3)] == [("the", 3), ("and", 2), ("cat", 1)]
        assert [tuple(x) for x in top_words("b a", 5)] == [("a", 1), ("b", 1)]
        """,
    ),
    "rpn": (
        "Write rpn.py with a function evaluate(expression) that evaluates a reverse Polish notation expression of numbers "
        "and the operators + - * / separated by spaces and returns the result as a float; it raises ValueError for a "
        "malformed expression and for division by zero. Write pytest tests in test_rpn.py.",
        ("rpn.py", "test_rpn.py"),
        """
        from rpn import evaluate
        assert evaluate("3 4 + 2 *") == 14.0 and evaluate("5 1 2 + 4 * + 3 -") == 14.0 and evaluate("7 2 /") == 3.5
        for bad in ("1 0 /", "1 +", "1 2", "2 x +"):
            try:
                evaluate(bad)
            except ValueError:
                continue
            raise AssertionError(f"{bad!r} did not raise ValueError")
        """,
    ),
}


def build(name: str, model: str, seconds: float, mode: str = "do") -> dict:
    request, files, acceptance = PROGRAMS[name]
    work = Path(tempfile.mkdtemp(prefix=f"vibe-{name}-"))
    started, steps = time.monotonic(), None
    if mode == "plan":  # plan-then-do: the plan as written, carried out as is (no person edits it here)
        planned = subprocess.run(
            [sys.executable, "-m", "tether.cli", "plan", request, "-C", str(work), "-m", f"local/{model}", "--json"],
            capture_output=True,
            text=True,
            timeout=seconds + 120,
        )
        try:
            steps = len(json.loads(planned.stdout)["steps"])
        except (json.JSONDecodeError, KeyError):
            steps = 0
    # each step is checked by its own check: the whole suite as every step's check fails a first step whose tests come later
    what = ["--plan", str(work / ".tether" / "plan.md")] if mode == "plan" else [request]
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "tether.cli",
            "do",
            *what,
            "-C",
            str(work),
            "-m",
            f"local/{model}",
            "--level",
            "agent",
            *([] if mode == "plan" else ["--verify", PYTEST]),  # a plan's steps are checked by their own checks
            "--until-green",
            "--max-seconds",
            str(seconds),
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=(seconds + 120) * (steps or 1),
    )
    took = round(time.monotonic() - started, 1)
    try:
        run = json.loads(done.stdout)
    except json.JSONDecodeError:
        run = {"status": "crashed", "reason": done.stderr.strip()[-300:], "usage": {"input_tokens": 0, "output_tokens": 0}, "changed": []}
    present = [f for f in files if (work / f).is_file()]
    own = (
        subprocess.run(PYTEST.split() + [files[1]], cwd=work, capture_output=True, text=True, timeout=120) if files[1] in present else None
    )
    check = work / "_acceptance.py"
    check.write_text(textwrap.dedent(acceptance))
    accepted = subprocess.run([sys.executable, check.name], cwd=work, capture_output=True, text=True, timeout=120)
    return {
        "program": name,
        "mode": mode,
        "plan_steps": steps if steps is not None else len(run.get("plan", {}).get("steps", [])) or None,
        "plan_done": sum(s["status"] == "done" for s in run.get("plan", {}).get("steps", [])),
        "status": run["status"],
        "reason": run.get("reason", ""),
        "seconds": took,
        "tokens": run["usage"]["input_tokens"] + run["usage"]["output_tokens"],
        "files": present,
        "wanted": list(files),
        "written": sorted(run.get("changed", [])),
        "own_tests": own is not None and own.returncode == 0,
        "accepted": accepted.returncode == 0,
        "why": _error(accepted.stderr),
    }


def _error(stderr: str) -> str:
    """The exception line of a traceback (its message can span lines: a dict's repr)."""
    lines = stderr.strip().splitlines()
    found = next((x for x in reversed(lines) if re.match(r"^[\w.]+(Error|Exception)\b", x)), lines[-1] if lines else "")
    return found[:160]


def table(results: list[dict], model: str, seconds: float) -> str:
    lines = [
        f"# Vibe coding\n\n`python benchmarks/vibe.py --seconds {seconds:g}` on {time.strftime('%Y-%m-%d')}: each program asked for in "
        f"plain English in an empty folder, built by `tether do --level agent --verify 'python -m pytest -q' --until-green` on the "
        f'embedded `{model}` (2 CPU cores). "Does what was asked" is an acceptance check written for this benchmark and never '
        "shown to the model.\n",
        "Plan-then-do rows (`tether plan`, then `tether do --plan` with the same options but `--verify`: each step is checked by "
        "the check its plan gives it, and is its own run with the same time limit) say how many of the plan's steps ended done.\n",
        "| program | mode | requested files present | its own tests pass | does what was asked | status | s | tokens | files written |",
        "|---|---|---|---|---|---|---:|---:|---|",
    ]
    for r in results:
        mode = "do" if r.get("mode", "do") == "do" else f"plan ({r.get('plan_done', 0)} of {r.get('plan_steps') or 0} steps done)"
        lines.append(
            f"| {r['program']} | {mode} | {len(r['files'])} of {len(r['wanted'])} | {'yes' if r['own_tests'] else 'no'} | "
            f"{'yes' if r['accepted'] else 'no: ' + r['why'].replace('|', '/')} | {r['status']} | {r['seconds']:.0f} | "
            f"{r['tokens']:,} | {', '.join(r['written']) or '-'} |"
        )
    lines.append("")
    for mode in dict.fromkeys(r.get("mode", "do") for r in results):
        rows = [r for r in results if r.get("mode", "do") == mode]
        lines.append(
            f"{'tether do' if mode == 'do' else 'plan-then-do'}: {sum(r['accepted'] for r in rows)} of {len(rows)} do what was asked; "
            f"{sum(r['own_tests'] for r in rows)} pass their own tests; {sum(len(r['files']) == len(r['wanted']) for r in rows)} have "
            "every requested file."
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--programs", default="", help=f"comma-separated (default: all of {', '.join(PROGRAMS)})")
    parser.add_argument("--model", default="qwen2.5-coder-1.5b")
    parser.add_argument("--seconds", type=float, default=300, help="wall-time limit of one run")
    parser.add_argument("--modes", default="do,plan", help="do (one run), plan (tether plan, then do --plan), or both")
    args = parser.parse_args()
    sys.path.insert(0, str(HERE.parent / "src"))
    from tether import config

    os.environ.setdefault("TETHER_MODELS_DIR", str(config.models_dir()))
    os.environ.setdefault("XDG_DATA_HOME", tempfile.mkdtemp(prefix="vibe-bench-data-"))
    results = []
    modes = [m for m in args.modes.split(",") if m in ("do", "plan")] or ["do"]
    for name in args.programs.split(",") if args.programs else PROGRAMS:
        for mode in modes:
            results.append(build(name, args.model, args.seconds, mode))
            print(json.dumps(results[-1]), flush=True)
    RESULTS.write_text(json.dumps(results, indent=1) + "\n")
    record(
        "vibe",
        table(results, args.model, args.seconds),
        {
            f"{mode}: {what}": f"{sum(test(r) for r in rows)} of {len(rows)}"
            for mode in modes
            for rows in [[r for r in results if r["mode"] == mode]]
            for what, test in (
                ("do what was asked", lambda r: r["accepted"]),
                ("pass their own tests", lambda r: r["own_tests"]),
                ("every requested file", lambda r: len(r["files"]) == len(r["wanted"])),
            )
        },
        setting=f"{args.model}, {args.seconds:g} s a program, {os.cpu_count()} cores",
    )
    print(TABLE.read_text())


if __name__ == "__main__":
    main()
