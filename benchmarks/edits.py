"""Applying model edits: tether against Aider's own SEARCH/REPLACE applier, in one run.

The corpus is built at run time from the git history of real repositories — tether's own and any
whose path is given — one case per diff hunk, each turned into a SEARCH/REPLACE reply with one of
the kinds of drift that real models produce. Nothing of another repository is committed.

Usage: python benchmarks/edits.py [--repo PATH]... [--cases 400]
Aider (pip aider-chat) is installed into benchmarks/.venv-aider. Writes benchmarks/results/edits.md (the newest run on top, earlier runs as history rows)."""

from __future__ import annotations

import argparse
import difflib
import json
import random
import re
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(HERE))

from _peers import python_peer  # noqa: E402
from _results import record  # noqa: E402

from tether.autonomy.edits import apply_text  # noqa: E402

DRIFTS = (
    "clean",
    "trailing-whitespace",
    "indentation",
    "respaced-context",
    "stale-context",
    "blank-lines",
    "blank-lines-both",
    "elision",
    "elision-twin",
)
AIDER_APPLY = r"""
import json, sys
from aider.coders.editblock_coder import find_original_update_blocks, do_replace
out = []
for case in json.load(sys.stdin):
    try:
        content = case["pre"]
        for path, original, updated in find_original_update_blocks(case["reply"]):
            content = do_replace(path, content, original, updated, ("```", "```"))  # the fence aider's coder passes
            if content is None:
                break
        out.append(content)
    except Exception as e:
        out.append(None)
print(json.dumps(out))
"""


@dataclass
class Case:
    source: str
    path: str
    drift: str
    pre: str
    expected: str
    reply: str


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, errors="replace").stdout


def hunks(repo: Path, limit_commits: int) -> list[tuple[str, str, list[str], list[str], int, int, int, int]]:
    out = []
    for commit in git(repo, "log", "--no-merges", "--format=%H", f"-n{limit_commits}").split():
        for line in git(repo, "diff-tree", "-r", "--no-commit-id", "--name-status", commit).splitlines():
            status, _, path = line.partition("\t")
            if status != "M" or not path.endswith((".py", ".js", ".ts", ".go", ".rs", ".java", ".c", ".md", ".rst", ".toml")):
                continue
            pre, post = git(repo, "show", f"{commit}^:{path}"), git(repo, "show", f"{commit}:{path}")
            if not pre or not post or len(pre) > 400_000:
                continue
            a, b = pre.splitlines(keepends=True), post.splitlines(keepends=True)
            for group in difflib.SequenceMatcher(None, a, b, autojunk=False).get_grouped_opcodes(3):
                out.append((path, pre, a, b, group[0][1], group[-1][2], group[0][3], group[-1][4]))
    return out


def drift(kind: str, search: list[str], replace: list[str], rng: random.Random) -> tuple[list[str], list[str]] | None:
    if kind == "clean":
        return search, replace
    if kind == "trailing-whitespace":
        return [s.rstrip("\n") + "  \n" if rng.random() < 0.5 and s.strip() else s for s in search], replace
    if kind == "indentation":
        indents = [len(s) - len(s.lstrip(" ")) for s in search + replace if s.strip()]
        if not indents or min(indents) < 4:
            return [("    " + s) if s.strip() else s for s in search], [("    " + s) if s.strip() else s for s in replace]
        return [s[4:] if s.strip() else s for s in search], [s[4:] if s.strip() else s for s in replace]
    if kind == "respaced-context":  # the first line quoted with its spacing changed
        if len(search) < 4 or not search[0].strip():
            return None
        line = search[0]
        return [line.rstrip("\n").replace(" ", "  ", 1) + "\n" if " " in line.strip() else line.rstrip("\n") + " #\n"] + search[1:], replace
    if kind == "stale-context":
        # the model remembers an older version of a line it does not change: stale in SEARCH and
        # REPLACE alike, while the file holds the current one (which must survive)
        context = [
            (i, j)
            for i, j, n in _same_blocks(search, replace)
            for i, j in zip(range(i, i + n), range(j, j + n), strict=False)
            if search[i].strip() and len(search[i].strip()) > 3
        ]
        if len(search) < 4 or not context:
            return None
        i, j = rng.choice(context)
        stale = _stale(search[i], rng)
        return search[:i] + [stale] + search[i + 1 :], replace[:j] + [stale] + replace[j + 1 :]
    if kind == "blank-lines":
        if not any(not s.strip() for s in search):
            return None
        return [s for s in search if s.strip()], replace  # blank lines left out of the quote only
    if kind == "blank-lines-both":  # blank lines inside unchanged context left out of SEARCH and REPLACE alike
        blank = {(i + k, j + k) for i, j, n in _same_blocks(search, replace) for k in range(1, n - 1) if not search[i + k].strip()}
        if not blank:
            return None
        drop_s, drop_r = {i for i, _ in blank}, {j for _, j in blank}
        return [s for i, s in enumerate(search) if i not in drop_s], [r for j, r in enumerate(replace) if j not in drop_r]
    if kind in ("elision", "elision-twin"):
        # the middle of the longest run of lines both sides share, written as `...` (a line of
        # context kept on each side of it as an anchor)
        runs = []
        for i, j, n in _same_blocks(search, replace):
            kept = [k for k in range(n) if search[i + k].strip()]  # anchors are lines with text
            if len(kept) >= 2 and kept[-1] - kept[0] >= 3:
                runs.append((i + kept[0], j + kept[0], kept[-1] - kept[0] + 1))
        if not runs:
            return None
        i, j, n = max(runs, key=lambda run: run[2])
        dots = search[i][: len(search[i]) - len(search[i].lstrip())] + "...\n"
        return search[: i + 1] + [dots] + search[i + n - 1 :], replace[: j + 1] + [dots] + replace[j + n - 1 :]
    raise ValueError(kind)


def _same_blocks(a: list[str], b: list[str]) -> list[tuple[int, int, int]]:
    return [m for m in difflib.SequenceMatcher(None, a, b, autojunk=False).get_matching_blocks() if m[2]]


def _stale(line: str, rng: random.Random) -> str:
    """An older-looking version of a line: a comment that is gone now, or a renamed word."""
    body = line.rstrip("\n")
    words = [m for m in re.finditer(r"[A-Za-z_]{3,}", body)]
    if words and rng.random() < 0.5:
        w = rng.choice(words)
        return body[: w.end()] + "_old" + body[w.end() :] + "\n"
    return body + "  # old\n"


def build(repos: list[Path], cases_wanted: int, seed: int = 7) -> list[Case]:
    rng = random.Random(seed)
    pool = []
    for repo in repos:
        pool += [(repo.name, *h) for h in hunks(repo, 400)]
    rng.shuffle(pool)
    cases = []
    for n, (source, path, pre, a, b, i1, i2, j1, j2) in enumerate(pool):
        search, replace = a[i1:i2], b[j1:j2]
        if not search or pre.count("".join(search)) != 1:
            continue  # a clean block that matches twice is ambiguous for anyone
        if any(re.match(r"\s*(<{7}|={7}|>{7})", line) for line in search + replace):
            continue  # text that holds edit markers itself cannot be quoted in a block
        if not (search[-1].endswith("\n") and (not replace or replace[-1].endswith("\n"))):
            continue  # the end of a file without a final newline cannot be written as a block
        kind = DRIFTS[n % len(DRIFTS)]
        if kind == "elision-twin" and not any(pre.count(line) > 1 for line in search if line.strip()):
            continue  # an anchor that also fits somewhere else in the file
        drifted = drift(kind, search, replace, rng)
        if drifted is None:
            continue
        s, r = drifted
        reply = f"Here is the change.\n\n{path}\n```\n<<<<<<< SEARCH\n{''.join(s)}=======\n{''.join(r)}>>>>>>> REPLACE\n```\n"
        cases.append(Case(source, path, kind, pre, "".join(a[:i1] + b[j1:j2] + a[i2:]), reply))
        if len(cases) >= cases_wanted:
            break
    return cases


def judge(pre: str, expected: str, result: str | None) -> str:
    if result is None or result == pre:
        return "refused"
    if result == expected:
        return "applied right"
    if len(result.splitlines()) < 0.8 * len(expected.splitlines()):
        return "corrupted"
    return "wrong place"


def run_tether(cases: list[Case]) -> tuple[list[str | None], float]:
    results, started = [], time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        for n, case in enumerate(cases):
            work = Path(tmp) / str(n)
            target = work / case.path
            target.parent.mkdir(parents=True)
            target.write_text(case.pre)
            report = apply_text(work, case.reply)
            results.append(target.read_text() if report.applied else None)
    return results, time.perf_counter() - started


def run_aider(cases: list[Case]) -> tuple[list[str | None], float]:
    bin_dir = python_peer("aider", "aider-chat==0.86.2")
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as scratch:  # aider may touch files named in blocks, relative to its cwd
        done = subprocess.run(
            [str(bin_dir / "python"), "-c", AIDER_APPLY],
            input=json.dumps([asdict(c) for c in cases]),
            capture_output=True,
            text=True,
            cwd=scratch,
        )
    if done.returncode != 0:
        raise SystemExit(f"aider's applier failed: {done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1]), time.perf_counter() - started


def checkpoint_timing(files: int = 1000, runs: int = 7) -> str:
    """The time to take a checkpoint of a 1,000-file workspace after a one-file change."""
    import os
    import statistics

    from tether.autonomy.history.checkpoints import Checkpoints

    with tempfile.TemporaryDirectory() as tmp:
        os.environ["XDG_DATA_HOME"] = str(Path(tmp) / "data")
        work = Path(tmp) / "work"
        for n in range(files):
            (work / f"pkg{n % 20}").mkdir(parents=True, exist_ok=True)
            (work / f"pkg{n % 20}" / f"mod{n}.py").write_text(f"VALUE = {n}\n" * 40)
        checkpoints = Checkpoints(work)
        timings, last = [], None
        for run in range(runs):
            (work / "pkg0" / "mod0.py").write_text(f"VALUE = {run}\n" * 40)
            started = time.perf_counter()
            last = checkpoints.snapshot(f"change {run}", ["pkg0/mod0.py"], last)
            timings.append((time.perf_counter() - started) * 1000)
    return (
        f"A checkpoint of a one-file change in a {files}-file workspace takes **{statistics.median(timings):.0f} ms**"
        f" (median of {runs}); checkpoints hold only the files a change touches, so this does not grow with the workspace."
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repo", action="append", type=Path, default=[])
    parser.add_argument("--cases", type=int, default=420)
    args = parser.parse_args()
    repos = [ROOT, *[r.resolve() for r in args.repo]]
    cases = build(repos, args.cases)
    outcomes = {}
    timing = {}
    for name, runner in (("tether", run_tether), ("aider", run_aider)):
        results, seconds = runner(cases)
        outcomes[name] = [judge(c.pre, c.expected, r) for c, r in zip(cases, results, strict=False)]
        timing[name] = seconds
    kinds = ("applied right", "refused", "wrong place", "corrupted")
    lines = [
        "# Edit benchmark",
        "",
        f"`python benchmarks/edits.py {' '.join('--repo ' + r.name for r in args.repo)}` on {time.strftime('%Y-%m-%d')}: "
        f"{len(cases)} SEARCH/REPLACE replies built from the git history of {', '.join(r.name for r in repos)}"
        " (one hunk each, in a reply with prose and a fence), each with one kind of drift; applied by tether's"
        " `apply_text` and by Aider's own parser and applier (aider-chat 0.86.2, `find_original_update_blocks` +"
        " `do_replace`).",
        "",
        "*applied right*: the file equals the commit's post-image for that hunk; *refused*: the file is left as it"
        " was (the model gets an error to retry with); *wrong place*: changed, but not as the commit did;"
        " *corrupted*: a fifth or more of the file's lines lost.",
        "",
        "| applier | " + " | ".join(kinds) + " | seconds |",
        "|---|" + "---:|" * (len(kinds) + 1),
    ]
    for name in outcomes:
        count = Counter(outcomes[name])
        lines.append(f"| {name} | " + " | ".join(f"{count[k]} ({count[k] / len(cases):.0%})" for k in kinds) + f" | {timing[name]:.1f} |")
    lines += [
        "",
        "By kind of drift (right / refused / wrong: wrong place or corrupted):",
        "",
        "| drift | cases | tether right | tether refused | tether wrong | aider right | aider refused | aider wrong |",
        "|---|" + "---:|" * 7,
    ]
    by = defaultdict(list)
    for n, case in enumerate(cases):
        by[case.drift].append(n)
    for kind in DRIFTS:
        idx = by.get(kind, [])
        cells = []
        for name in ("tether", "aider"):
            got = Counter(outcomes[name][i] for i in idx)
            cells += [got["applied right"], got["refused"], got["wrong place"] + got["corrupted"]]
        lines.append(f"| {kind} | {len(idx)} | " + " | ".join(str(c) for c in cells) + " |")
    lines += ["", "## Checkpoints", "", checkpoint_timing(), ""]
    text = "\n".join(lines) + "\n"
    counts = {name: Counter(outcomes[name]) for name in outcomes}
    record(
        "edits",
        text,
        {f"{k} tether / Aider": f"{counts['tether'][k]} / {counts['aider'][k]} of {len(cases)}" for k in kinds},
        setting=", ".join(r.name for r in repos),
    )
    print(text)


if __name__ == "__main__":
    main()
