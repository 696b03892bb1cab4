"""An MCP `search` round trip over stdio, as a client sees it.

    python benchmarks/mcp_search.py PATH [PATH …] [--calls 50]

Each PATH is a repository no one here wrote (e.g. a checkout of pallets/click or sqlalchemy).
The repository is indexed first, embeddings included (`tether search --embed-seconds -1`, timed
apart), then `tether mcp -C PATH` is started as a real process and driven by the official SDK's
stdio client: one warm-up call, then `--calls` searches with the queries of
benchmarks/search_queries.toml (any repository's: they are only words), each timed from the
client's call to its parsed result. Results go to results/mcp_search.md (the newest run on top, earlier runs as history rows). There is no peer to run: no
MCP server on the registry searches code offline the way this one does; the goal is absolute
(p50 at most 50 ms)."""

from __future__ import annotations

import argparse
import asyncio
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
TABLE = HERE / "results" / "mcp_search.md"


def queries() -> list[str]:
    data = tomllib.loads((HERE / "search_queries.toml").read_text())
    return [q["q"] for repo in data["repos"].values() for q in repo["queries"]]


async def round_trips(root: Path, asked: list[str]) -> list[float]:
    from mcp import Client, StdioServerParameters

    params = StdioServerParameters(command=sys.executable, args=["-m", "tether", "mcp", "-C", str(root)], env=dict(os.environ))
    async with Client(params) as client:
        await client.call_tool("search", {"query": "warm up", "k": 5})
        times = []
        for q in asked:
            started = time.perf_counter()
            result = await client.call_tool("search", {"query": q, "k": 5})
            json.loads(result.content[0].text)
            times.append((time.perf_counter() - started) * 1000)
        return times


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("paths", type=Path, nargs="+")
    parser.add_argument("--calls", type=int, default=50)
    args = parser.parse_args()
    asked = (queries() * 10)[: args.calls]
    rows = []
    for root in args.paths:
        root = root.resolve()
        started = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "tether", "search", "x", "-C", str(root), "--embed-seconds", "-1", "--json"],
            capture_output=True,
            check=True,
        )
        indexed = time.perf_counter() - started
        times = sorted(asyncio.run(round_trips(root, asked)))
        files = sum(1 for _ in root.rglob("*.py"))
        rows.append((root.name, files, indexed, statistics.median(times), times[int(len(times) * 0.95) - 1], times[-1]))
        print(rows[-1], flush=True)
    lines = [
        f"# MCP search over stdio\n\n`python benchmarks/mcp_search.py {' '.join(sys.argv[1:])}` on {time.strftime('%Y-%m-%d')}, 2 CPU cores: "
        f"{args.calls} `search` calls (k=5) through the official MCP SDK's stdio client to `tether mcp`, each timed from the call "
        "to its parsed JSON result, after one warm-up call on an index built beforehand.\n",
        "| repository | .py files | index brought up to date first (s) | p50 ms | p95 ms | max ms |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    lines += [
        f"| {name} | {files} | {indexed:.0f} | {p50:.1f} | {p95:.1f} | {worst:.1f} |" for name, files, indexed, p50, p95, worst in rows
    ]
    record(
        "mcp_search",
        "\n".join(lines) + "\n",
        {name: f"p50 {p50:.1f} ms, p95 {p95:.1f} ms" for name, _, _, p50, p95, _ in rows},
        setting=f"{args.calls} calls",
    )
    print(TABLE.read_text())


if __name__ == "__main__":
    main()
