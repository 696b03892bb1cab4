"""tether digest against gitingest and repomix on one repository, all three with exact token
counts, in one run: wall time and peak memory (median of --runs, interleaved).

Usage: python benchmarks/digest.py PATH_TO_A_CHECKOUT [--runs 5]
Peers: gitingest 0.3.1 (PyPI, scratch venv) and repomix 1.18.1 (npm, scratch folder).
Writes benchmarks/results/digest.md (the newest run on top, earlier runs as history rows)."""

from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _peers import ROOT, measure, node_peer, python_peer, tiktoken_cache  # noqa: E402
from _results import record  # noqa: E402

GITINGEST = "gitingest==0.3.1"
REPOMIX = ("repomix", "1.18.1")


def tokens_reported(name: str, out: str, err: str, output: Path) -> str:
    text = out + err
    if name == "tether":
        m = re.search(r"([\d,]+) tokens", text)
        return m.group(1) if m else "?"
    if name == "gitingest":
        m = re.search(r"Estimated tokens: ([\d.,]+[kM]?)", output.read_text(errors="replace")[:2000] + text)
        return m.group(1) if m else "none"
    m = re.search(r"Total Tokens:\s*([\d,]+)", re.sub(r"\x1b\[[0-9;]*m", "", text))
    return m.group(1) if m else "?"


def files_reported(name: str, out: str, err: str, output: Path) -> str:
    text = re.sub(r"\x1b\[[0-9;]*m", "", out + err)
    pattern = {"tether": r"(\d+) files", "gitingest": r"Files analyzed: (\d+)", "repomix": r"Total Files:\s*([\d,]+)"}[name]
    m = re.search(pattern, text) or re.search(pattern, output.read_text(errors="replace")[:3000])
    return m.group(1) if m else "?"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("repo", type=Path)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    repo = args.repo.resolve()
    gitingest_bin = python_peer("gitingest", GITINGEST)
    repomix_bin = node_peer(*REPOMIX)
    env = {**os.environ, "TIKTOKEN_CACHE_DIR": str(tiktoken_cache()), "NO_COLOR": "1"}
    tmp = Path(tempfile.mkdtemp(prefix="tether-bench-"))
    tools = {
        "tether": ([str(ROOT / ".venv" / "bin" / "tether"), "digest", str(repo), "-o", str(tmp / "tether.txt")], tmp / "tether.txt"),
        "gitingest": ([str(gitingest_bin / "gitingest"), str(repo), "-o", str(tmp / "gitingest.txt")], tmp / "gitingest.txt"),
        "repomix": ([str(repomix_bin / "repomix"), str(repo), "-o", str(tmp / "repomix.xml")], tmp / "repomix.xml"),
    }
    warm_home = tmp / "warm-data"
    variants = {  # tether cold: an empty cache every run; warm: the file-content cache of the run before
        "tether (cold cache)": lambda run: {**env, "XDG_DATA_HOME": str(tmp / f"cold-{run}")},
        "tether (warm cache)": lambda run: {**env, "XDG_DATA_HOME": str(warm_home)},
        "gitingest": lambda run: env,
        "repomix": lambda run: env,
    }
    command = {"tether (cold cache)": "tether", "tether (warm cache)": "tether", "gitingest": "gitingest", "repomix": "repomix"}
    for name, env_for in variants.items():  # warm the page cache, and tether's warm cache
        measure(tools[command[name]][0], env_for(-1), sample=False)
    walls: dict[str, list[float]] = {name: [] for name in variants}
    last: dict[str, tuple[str, str]] = {}
    for run in range(args.runs):  # timing runs, interleaved, with no memory sampler competing for the cores
        for name, env_for in variants.items():
            wall, _, out, err = measure(tools[command[name]][0], env_for(run), sample=False)
            walls[name].append(wall)
            last[name] = (out, err)
    rows = []
    for name, env_for in variants.items():
        cmd, output = tools[command[name]]
        _, peak, _, _ = measure(cmd, env_for(args.runs), sample=True)  # one more run for memory
        out, err = last[name]
        rows.append(
            (
                name,
                statistics.median(walls[name]),
                peak,
                files_reported(command[name], out, err, output),
                tokens_reported(command[name], out, err, output),
                output.stat().st_size,
            )
        )
    cold, warm = rows[0], rows[1]
    fastest = min(rows[2:], key=lambda r: r[1])
    lines = [
        "# Digest benchmark",
        "",
        f"`python benchmarks/digest.py {repo.name} --runs {args.runs}` on {time.strftime('%Y-%m-%d')}, {os.cpu_count()} cores: "
        f"{sum(1 for _ in repo.rglob('*') if _.is_file() and '.git' not in _.parts)} files in the checkout.",
        "Each tool as a user runs it (defaults, token counting on, output to a file), page cache warm; median wall time of"
        " interleaved runs. tether caches each file's token count and redaction by the hash of its bytes: *cold* runs"
        " start with an empty cache, *warm* ones after a digest of the same checkout.",
        "Memory is the peak of the summed PSS of the tool's whole process tree (forked workers' shared pages count once),"
        " from a separate run so that the sampler does not slow the timed ones.",
        "",
        "| tool | wall s | peak MiB | files in output | tokens reported | output bytes |",
        "|---|---:|---:|---:|---:|---:|",
        *[f"| {n} | {w:.2f} | {p:.0f} | {f} | {t} | {b:,} |" for n, w, p, f, t, b in rows],
        "",
        f"Against the faster peer ({fastest[0]}): tether is **{fastest[1] / cold[1]:.1f}x** faster with an empty cache and "
        f"**{fastest[1] / warm[1]:.1f}x** faster once it has seen the files (any later digest of the same content), using "
        f"**{cold[2] / fastest[2] * 100:.0f}%** and **{warm[2] / fastest[2] * 100:.0f}%** of its peak memory.",
    ]
    text = "\n".join(lines) + "\n"
    record(
        "digest",
        text,
        {
            "tether cold / warm s": f"{cold[1]:.2f} / {warm[1]:.2f}",
            f"{fastest[0]} s": f"{fastest[1]:.2f}",
            "faster, cold / warm": f"{fastest[1] / cold[1]:.1f}x / {fastest[1] / warm[1]:.1f}x",
            "peak memory, cold / warm": f"{cold[2] / fastest[2] * 100:.0f}% / {warm[2] / fastest[2] * 100:.0f}%",
        },
        setting=f"{repo.name}, {os.cpu_count()} cores",
    )
    print(text)


if __name__ == "__main__":
    main()
