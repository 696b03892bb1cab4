"""The person in the loop, measured: how soon something moves after a request, how soon Stop
lands in each phase, and how long a small change takes from command to checked change.

- first sight: from `Agent.run` to its first event, and to its first `reading` event (the prompt
  being read, with how far), on the embedded model;
- Stop: from `Agent.stop()` to `run()` returning, stopped in each phase, driven by the run's own
  events: while the prompt is read, while the reply is written, while a check runs, and while a
  hosted call is in flight (a fake OpenAI server on 127.0.0.1 that holds the request);
- a small change: "add a 5-line property to a 10-40-line file" in a real repository at level auto
  with one check, on the default model: wall time, prompt tokens read anew, model calls.

The repository is a checkout no one here wrote, named at run time (e.g. Textualize/rich, whose
`rich/region.py` is a 10-line NamedTuple). Run:
  .venv/bin/python benchmarks/loop.py --repo /path/to/rich [--stops 24] [--changes 3]
It writes benchmarks/results/loop.md (newest run on top, older runs kept below)."""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tether import config  # noqa: E402
from tether.autonomy.agent import Agent  # noqa: E402
from tether.autonomy.leash import Leash  # noqa: E402
from tether.autonomy.verify import VerifySettings  # noqa: E402
from tether.llm.providers.local import unload_all  # noqa: E402
from tether.llm.router import Grid  # noqa: E402

TASK = "Add a read-only property `area` to the Region class that returns its width times its height."
CHECK = f"{sys.executable} -c \"from rich.region import Region; assert Region(1, 2, 3, 4).area == 12\""  # fails until the change is made
SLOW_CHECK = f"{sys.executable} -c \"import time; time.sleep(120)\""


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


def workspace(repo: Path, into: Path) -> Path:
    """A copy of the repository's tracked files, as a person's clone would be."""
    shutil.copytree(repo, into, ignore=shutil.ignore_patterns(".git"))
    subprocess.run(["git", "init", "-q"], cwd=into, check=True)
    return into


def timed_run(grid, root: Path, model: str, level: str, checks: tuple[str, ...], stop_on=None, sandbox="auto"):
    """(result, events with their seconds since start, seconds from stop() to the end or None)."""
    events, stopped = [], {}
    started = time.perf_counter()

    def on_event(kind, **data):
        events.append((time.perf_counter() - started, kind, data))
        if stop_on is not None and "at" not in stopped and stop_on(kind, data, events):
            stopped["at"] = time.perf_counter()
            agent.stop()

    agent = Agent(grid, root, Leash(root, level), model=model, verify=VerifySettings(checks, timeout=300, sandbox=sandbox),
                  on_event=on_event, edit_format="search-replace")
    result = agent.run(TASK)
    ended = time.perf_counter()
    return result, events, (ended - stopped["at"]) if "at" in stopped else None


def nth(kind: str, n: int):
    return lambda k, data, events: k == kind and sum(1 for _, e, _ in events if e == kind) == n


def check_started(k, data, events):
    return k == "status" and str(data.get("doing", "")).startswith("running") and "sleep" in str(data.get("doing"))


def hosted_stops(count: int) -> list[float]:
    """Stop while a hosted call is in flight: a fake server on 127.0.0.1 that holds every request."""
    from tests.upstream import Upstream

    latencies = []
    with Upstream(hang=60) as server, tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "a.py").write_text("x = 1\n")
        raw = {"providers": {"up": {"kind": "openai", "base_url": server.url + "/v1", "timeout": 120}}}
        grid = Grid(config.from_dict(raw))
        for _ in range(count):
            seen = len(server.requests)

            def press(agent_box):
                while len(server.requests) == seen:
                    time.sleep(0.005)
                agent_box["at"] = time.perf_counter()
                agent_box["agent"].stop()

            box: dict = {}
            agent = Agent(grid, root, Leash(root, "suggest"), model="up/fault-hang", verify=VerifySettings(()))
            box["agent"] = agent
            presser = threading.Thread(target=press, args=(box,), daemon=True)
            presser.start()
            agent.run("say hi")
            latencies.append(time.perf_counter() - box["at"])
        grid.close()
    return latencies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repo", required=True, type=Path, help="a checkout of Textualize/rich (or any repo with rich/region.py)")
    parser.add_argument("--model", default="local/qwen2.5-coder-1.5b")
    parser.add_argument("--stops", type=int, default=24, help="stops in all, spread over the four phases")
    parser.add_argument("--changes", type=int, default=3, help="small-change runs (the median is reported)")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "loop.md")
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="tether-loop-"))
    rows: list[str] = []
    try:
        grid = Grid(config.from_dict({}))
        per_phase = max(1, args.stops // 4)

        # first sight and Stop while reading / writing, from a cold model each time
        sight, first_read, reading, writing, checking = [], [], [], [], []
        for n in range(per_phase):
            unload_all()
            root = workspace(args.repo, scratch / f"read{n}")
            _, events, latency = timed_run(grid, root, args.model, "suggest", (), nth("reading", 2 + 3 * n))
            sight.append(events[0][0])
            first_read.append(next(t for t, k, _ in events if k == "reading"))
            reading.append(latency)
        for n in range(per_phase):
            root = workspace(args.repo, scratch / f"write{n}")
            _, _, latency = timed_run(grid, root, args.model, "suggest", (), nth("writing", 1 + 2 * n))
            writing.append(latency)
        for n in range(per_phase):
            root = workspace(args.repo, scratch / f"check{n}")
            _, _, latency = timed_run(grid, root, args.model, "approve", (SLOW_CHECK,), check_started)  # its first check runs before the model
            checking.append(latency)
        hosted = hosted_stops(per_phase)
        stops = reading + writing + checking + hosted

        # the small change, at level auto with one check
        changes = []
        for n in range(args.changes):
            unload_all()
            root = workspace(args.repo, scratch / f"change{n}")
            started = time.perf_counter()
            result, events, _ = timed_run(grid, root, args.model, "auto", (CHECK,))
            calls = sum(1 for _, k, _ in events if k == "reply")
            changes.append((time.perf_counter() - started, result.status, result.input_tokens - result.cached_tokens, calls))

        head = (f"## {time.strftime('%Y-%m-%d')} · {subprocess.run(['git', 'rev-parse', '--short', 'HEAD'], cwd=ROOT, capture_output=True, text=True).stdout.strip()}"
                f" · {args.model} · {args.repo.name}")
        rows += [head, "", "| measure | p50 | p95 | n | goal |", "|---|---:|---:|---:|---|",
                 f"| first event after the request | {pct(sight, .5):.2f} s | {pct(sight, .95):.2f} s | {len(sight)} | ≤ 1 s |",
                 f"| first prompt-reading progress | {pct(first_read, .5):.2f} s | {pct(first_read, .95):.2f} s | {len(first_read)} | ≤ 1 s |"]
        for name, values in (("Stop while the prompt is read", reading), ("Stop while the reply is written", writing),
                             ("Stop while a check runs", checking), ("Stop while a hosted call is in flight", hosted),
                             ("Stop, every phase", stops)):
            rows.append(f"| {name} | {pct(values, .5):.2f} s | {pct(values, .95):.2f} s | {len(values)} | ≤ 1 s p95 |")
        rows += ["", "| small change (rich/region.py, level auto, one check) | wall | status | prompt tokens read anew | model calls |",
                 "|---|---:|---|---:|---:|"]
        rows += [f"| run {n + 1} | {w:.0f} s | {s} | {t:,} | {c} |" for n, (w, s, t, c) in enumerate(changes)]
        walls = [w for w, *_ in changes]
        rows += [f"| **median** | **{statistics.median(walls):.0f} s** | | {statistics.median(t for _, _, t, _ in changes):,.0f} | "
                 f"{statistics.median(c for *_, c in changes):.0f} |", "",
                 "Goals (issue: the person in the loop never waits blind): ≤ 30 s median, ≤ 1,500 prompt tokens read anew, "
                 "one model call when the check passes.", ""]
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    text = "\n".join(rows)
    print(text)
    old = args.out.read_text() if args.out.exists() else "# The loop: progress, Stop and a small change\n\n"
    title, _, rest = old.partition("\n\n")
    args.out.write_text(f"{title}\n\n{text}\n{rest}")


if __name__ == "__main__":
    main()
