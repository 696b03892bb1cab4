"""The person in the loop, measured: how soon something moves after a request, how soon Stop
lands in each phase, and how long a small change takes from command to checked change.

- first sight: from `Agent.run` to its first event, and to its first `reading` event (the prompt
  being read, with how far), on the embedded model;
- Stop: from `Agent.stop()` to `run()` returning, stopped in each phase, driven by the run's own
  events: while the prompt is read, while the reply is written, while a check runs, and while a
  hosted call is in flight (a fake OpenAI server on 127.0.0.1 that holds the request);
- a small change: "add a 5-line property or method to a 10-40-line file" in a real repository at
  level auto with one check, on the default model: wall time, prompt tokens read anew, model calls,
  whether the check passes after it; with every lever, and without each (the prompt focused on
  what the request names; the KV cache a command saves for the next).

The repository is a checkout no one here wrote, named at run time (e.g. Textualize/rich, whose
`rich/region.py` is a 10-line NamedTuple). Run:
  .venv/bin/python benchmarks/loop.py --repo /path/to/rich [--stops 24] [--changes 3]
It writes benchmarks/results/loop.md (newest run on top, older runs as rows of its history table)."""

from __future__ import annotations

import argparse
import contextlib
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

from _results import record  # noqa: E402  (benchmarks/, the script's folder)

from tether import config  # noqa: E402
from tether.autonomy.agent.brief import _named as _NAMED  # noqa: E402
from tether.autonomy.agent.loop import Agent  # noqa: E402
from tether.autonomy.guard.leash import Leash  # noqa: E402
from tether.autonomy.guard.verify import VerifySettings  # noqa: E402
from tether.llm.providers.local import unload_all  # noqa: E402
from tether.llm.router import Grid  # noqa: E402

PY = sys.executable
# (file, request, a check that fails until the change is made): 10-40-line files of Textualize/rich, the requests name no file
TASKS = (
    (
        "rich/region.py",
        "Add a read-only property `area` to the Region class that returns its width times its height.",
        f'{PY} -c "from rich.region import Region; assert Region(1, 2, 3, 4).area == 12"',
    ),
    (
        "rich/_stack.py",
        "Add a read-only property `is_empty` to the Stack class that is True when the stack holds no items.",
        f'{PY} -c "from rich._stack import Stack; s = Stack(); assert s.is_empty; s.push(1); assert not s.is_empty"',
    ),
    (
        "rich/color_triplet.py",
        "Add a method `inverted` to ColorTriplet that returns a new ColorTriplet with each component subtracted from 255.",
        f'{PY} -c "from rich.color_triplet import ColorTriplet as C; assert C(0, 10, 255).inverted() == C(255, 245, 0)"',
    ),
)
TASK, CHECK = TASKS[0][1], TASKS[0][2]
STOP_TASK = "Make the pager that the console uses easier to configure."  # names nothing: a long prompt of search hits, to stop in
SLOW_CHECK = f'{sys.executable} -c "import time; time.sleep(120)"'


def pct(values: list[float | None], q: float) -> float:
    """The q-th quantile; a Stop that never fired (its phase never came) counts as infinitely late."""
    values = sorted(float("inf") if v is None else v for v in values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


def workspace(repo: Path, into: Path) -> Path:
    """A copy of the repository's tracked files, as a person's clone would be."""
    shutil.copytree(repo, into, ignore=shutil.ignore_patterns(".git"))
    subprocess.run(["git", "init", "-q"], cwd=into, check=True)
    return into


def timed_run(grid, root: Path, model: str, level: str, checks: tuple[str, ...], stop_on=None, sandbox="auto", task=TASK, edit_format=None):
    """(result, events with their seconds since start, seconds from stop() to the end or None)."""
    events, stopped = [], {}
    started = time.perf_counter()

    def on_event(kind, **data):
        events.append((time.perf_counter() - started, kind, data))
        if stop_on is not None and "at" not in stopped and stop_on(kind, data, events):
            stopped["at"] = time.perf_counter()
            agent.stop()

    agent = Agent(
        grid,
        root,
        Leash(root, level),
        model=model,
        verify=VerifySettings(checks, timeout=300, sandbox=sandbox),
        on_event=on_event,
        edit_format=edit_format,
    )
    result = agent.run(task)
    ended = time.perf_counter()
    return result, events, (ended - stopped["at"]) if "at" in stopped else None


@contextlib.contextmanager
def focus_off(off: bool):
    """The brief as it was before it focused on what a request names: search hits and a repo map up to its budget."""
    from tether.autonomy.agent import brief

    named = brief.named_in
    if off:
        brief.named_in = lambda text: []
        brief._named = lambda path, request: False
    try:
        yield
    finally:
        brief.named_in = named
        brief._named = _NAMED


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

            def press(agent_box, seen=seen):
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
    parser.add_argument("--changes", type=int, default=3, help="small-change runs per lever setting, over the tasks in turn")
    parser.add_argument(
        "--out",
        default="loop.md",
        help="the run's name: the run goes into benchmarks/results/loop.md, a name other than loop.md labels its row",
    )
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="tether-loop-"))
    rows: list[str] = []
    try:
        grid = Grid(config.from_dict({"providers": {"local": {"kind": "local", "options": {"prompt_cache": False}}}}))  # every read cold
        per_phase = max(1, args.stops // 4)

        # first sight and Stop while reading / writing, from a cold model each time
        sight, first_read, reading, writing, checking = [], [], [], [], []
        for n in range(per_phase):
            unload_all()
            root = workspace(args.repo, scratch / f"read{n}")
            _, events, latency = timed_run(grid, root, args.model, "suggest", (), nth("reading", 2 + n % 4), task=STOP_TASK)
            sight.append(events[0][0])
            first_read.append(next(t for t, k, _ in events if k == "reading"))
            reading.append(latency)
            print("stop while reading", latency, flush=True)
        for n in range(per_phase):
            unload_all()
            root = workspace(args.repo, scratch / f"write{n}")
            _, _, latency = timed_run(grid, root, args.model, "suggest", (), nth("writing", 1 + n % 3), task=STOP_TASK)
            writing.append(latency)
            print("stop while writing", latency, flush=True)
        for n in range(per_phase):
            root = workspace(args.repo, scratch / f"check{n}")
            _, _, latency = timed_run(
                grid, root, args.model, "approve", (SLOW_CHECK,), check_started
            )  # its first check runs before the model
            checking.append(latency)
            print("stop while checking", latency, flush=True)
        hosted = hosted_stops(per_phase)
        stops = reading + writing + checking + hosted

        # the small change, at level auto with one check: with every lever, then without each one
        levers = {
            "every lever": ({}, False),
            "whole prompt (no focus on the named symbol)": ({}, True),
            "no saved KV cache (a cold start per command)": ({"prompt_cache": False}, False),
        }
        changes: dict[str, list] = {}
        for lever, (name, (options, unfocused)) in enumerate(levers.items()):
            lever_grid = Grid(config.from_dict({"providers": {"local": {"kind": "local", "options": options}}}))
            for n in range(args.changes):
                path, task, check = TASKS[n % len(TASKS)]
                unload_all()  # as a new `tether do` process: the weights and the saved cache are read again
                root = workspace(args.repo, scratch / f"change{lever}-{n}")
                with focus_off(unfocused):
                    started = time.perf_counter()
                    result, events, _ = timed_run(lever_grid, root, args.model, "auto", (check,), task=task)
                wall = time.perf_counter() - started
                calls = sum(1 for _, k, _ in events if k == "reply")
                passed = subprocess.run(check, shell=True, cwd=root, capture_output=True).returncode == 0
                print(name, path, f"{wall:.1f}s", result.status, flush=True)
                changes.setdefault(name, []).append(
                    (path, wall, result.status, result.input_tokens - result.cached_tokens, calls, passed, result.output_tokens)
                )
            lever_grid.close()

        head = (
            f"## {time.strftime('%Y-%m-%d')} · {subprocess.run(['git', 'rev-parse', '--short', 'HEAD'], cwd=ROOT, capture_output=True, text=True).stdout.strip()}"
            f" · {args.model} · {args.repo.name}"
        )
        rows += [
            head,
            "",
            "| measure | p50 | p95 | n | goal |",
            "|---|---:|---:|---:|---|",
            f"| first event after the request | {pct(sight, 0.5):.2f} s | {pct(sight, 0.95):.2f} s | {len(sight)} | ≤ 1 s |",
            f"| first prompt-reading progress | {pct(first_read, 0.5):.2f} s | {pct(first_read, 0.95):.2f} s | {len(first_read)} | ≤ 1 s |",
        ]
        for name, values in (
            ("Stop while the prompt is read", reading),
            ("Stop while the reply is written", writing),
            ("Stop while a check runs", checking),
            ("Stop while a hosted call is in flight", hosted),
            ("Stop, every phase", stops),
        ):
            rows.append(f"| {name} | {pct(values, 0.5):.2f} s | {pct(values, 0.95):.2f} s | {len(values)} | ≤ 1 s p95 |")
        rows += [
            "",
            "| small change (level auto, one check) | file | wall | status | check passes | prompt tokens read anew | model calls |",
            "|---|---|---:|---|---|---:|---:|",
        ]
        for name, runs in changes.items():
            rows += [
                f"| {name}, run {n + 1} | {p} | {w:.0f} s | {s} | {'yes' if ok else 'no'} | {t:,} | {c} |"
                for n, (p, w, s, t, c, ok, _) in enumerate(runs)
            ]
            rows.append(
                f"| **{name}: median** | | **{statistics.median(r[1] for r in runs):.0f} s** | | {sum(r[5] for r in runs)} of {len(runs)} |"
                f" {statistics.median(r[3] for r in runs):,.0f} | {statistics.median(r[4] for r in runs):.0f} |"
            )
        rows += [
            "",
            "Goals (issue: the person in the loop never waits blind): ≤ 30 s median, ≤ 1,500 prompt tokens read anew, "
            "one model call when the check passes.",
            "",
        ]
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    text = "\n".join(rows)
    print(text)
    lever = changes["every lever"]
    record(
        "loop",
        f"# The loop: progress, Stop and a small change\n\n{text}",
        {
            "first event p50": f"{pct(sight, 0.5):.2f} s",
            "Stop p95": f"{pct(stops, 0.95):.2f} s",
            "small change median": f"{statistics.median(r[1] for r in lever):.0f} s, {sum(r[5] for r in lever)} of {len(lever)} pass",
            "read anew (median)": f"{statistics.median(r[3] for r in lever):,.0f}",
        },
        setting=f"{args.model}, {args.repo.name}",
        run=args.out,
    )


if __name__ == "__main__":
    main()
