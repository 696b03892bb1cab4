"""The agent on small coding tasks, against Aider driving the same local model.

    python benchmarks/agent.py [--tasks leap,bob] [--only tether|aider] [--model qwen2.5-coder-1.5b]
    python benchmarks/agent.py --exercism CHECKOUT [--set exercism|polyglot] [--sample 40 --seed 1] [--seconds 100]
    python benchmarks/agent.py --exercism CHECKOUT --split tune|held [--polyglot POLYGLOT/python] --sample 12 --seconds 100

Each task in benchmarks/agent_tasks/ (written for this benchmark in the style of Exercism
exercises) is a stub, instructions and tests. Both tools get the instructions and a scratch copy
of the folder; attempt 1 is one run, attempt 2 one more run after it that sees the failing tests
(tether's run reads them itself; Aider gets them in its message, as in Aider's own benchmark).
tether runs through its command line (`tether do --level agent --allow TASK.py --until-green`); Aider 0.86.2 talks to the same GGUF served by
`llama_cpp.server` on 127.0.0.1, run as in Aider's own benchmark (the second attempt's message holds
the test output). Results go to
results/agent.json (the run's name and one entry per task and tool, kept between runs, so a stopped
run of the same name goes on where it stopped) and results/agent.md, the newest run on top and the
earlier ones as rows of its history table (benchmarks/_results.py). Each failed
attempt is classed the same way for both tools (timeout, malformed, no edit, wrong code), and each
tool's share of well-formed replies is counted as Aider counts it."""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "src"))
sys.path.insert(0, str(HERE))

from _peers import python_peer  # noqa: E402
from _results import record  # noqa: E402

from tether.autonomy.agent.loop import MALFORMED  # noqa: E402

TASKS = HERE / "agent_tasks"
RESULTS = HERE / "results" / "agent.json"
TABLE = HERE / "results" / "agent.md"
PYTEST = f"{sys.executable} -m pytest -q --tb=short --no-header -p no:cacheprovider"


def tests_pass(task: Path, work: Path) -> tuple[bool, str]:
    """Judged by the task's own tests: a copy the tool may have edited is put back first."""
    shutil.copy(task / f"{task.name}_test.py", work / f"{task.name}_test.py")
    try:
        done = subprocess.run(PYTEST.split(), cwd=work, capture_output=True, text=True, timeout=120)
    except subprocess.TimeoutExpired:  # code that loops forever fails, and the run goes on
        return False, "the tests did not finish in 120 seconds"
    return done.returncode == 0, (done.stdout + done.stderr)[-3000:]


def tests_passed(output: str, task: Path) -> tuple[int, int]:
    """(tests passed, tests the task has) from pytest's summary line; a file that does not import
    or tests that never finish pass none of them."""
    total = len(re.findall(r"^\s*def test_", (task / f"{task.name}_test.py").read_text(), re.M))
    counts = dict((word, int(n)) for n, word in re.findall(r"(\d+) (passed|failed|errors?)", output[-500:]))
    return min(counts.get("passed", 0), total), total


def task_message(task: Path) -> str:
    """What both tools are asked: the instructions, and which file is theirs to change."""
    return (
        (task / "instructions.md").read_text() + f"\nChange only {task.name}.py; the tests in {task.name}_test.py are correct and "
        "must not change. Use only the Python standard library.\n"
    )


def scratch(task: Path) -> Path:
    work = Path(tempfile.mkdtemp(prefix=f"agent-{task.name}-"))
    for f in task.iterdir():
        if f.name != "instructions.md":
            shutil.copy(f, work / f.name)
    return work


# -- tether -------------------------------------------------------------------------------------


def run_tether(task: Path, model: str, seconds: float, escalate: str | None = None) -> dict:
    """tether as a user runs it: `tether do` on the command line, the task's file the only one
    it may write, stopping as soon as the tests pass (and, with `escalate`, going on with that
    model where the first is stuck)."""
    work = scratch(task)
    instructions = task_message(task)
    stub = f"{task.name}.py"
    result = {"tool": "tether", "task": task.name, "attempts": []}
    for _ in (1, 2):
        started, original = time.monotonic(), (work / stub).read_text()
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "tether.cli",
                "do",
                instructions,
                "-C",
                str(work),
                "-m",
                f"local/{model}",
                "--level",
                "agent",
                "--allow",
                f"{task.name}.py",
                "--verify",
                PYTEST,
                "--until-green",
                "--max-seconds",
                str(seconds),
                "--json",
                *(["--escalate", escalate] if escalate else []),
            ],
            capture_output=True,
            text=True,
            timeout=seconds + 120,
        )
        try:
            run = json.loads(done.stdout)
        except json.JSONDecodeError:
            run = {
                "status": "crashed",
                "steps": 0,
                "usage": {"input_tokens": 0, "output_tokens": 0},
                "run": "",
                "reason": done.stderr[-300:],
            }
        took = round(time.monotonic() - started, 1)
        passed, output = tests_pass(task, work)
        replies, malformed = tether_replies(run["run"])
        result["attempts"].append(
            {
                "passed": passed,
                "tests": tests_passed(output, task),
                "seconds": took,
                "status": run["status"],
                "steps": run["steps"],
                "tokens": run["usage"]["input_tokens"] + run["usage"]["output_tokens"],
                "anew": run["usage"]["input_tokens"] - run["usage"].get("cached_tokens", 0) + run["usage"]["output_tokens"],
                "run": run["run"],
                "reason": run.get("reason", ""),
                "replies": replies,
                "malformed": malformed,
                "failure": failure(
                    passed, run["status"] in ("budget", "crashed"), replies, malformed, (work / stub).read_text() != original
                ),
            }
        )
        if passed:
            break
    shutil.rmtree(work, ignore_errors=True)
    return result


def tether_replies(run_id: str) -> tuple[int, int]:
    """How many replies the run's model gave, and how many of them were malformed: no edit, tool
    line or DONE in it, or an edit that could not be applied (Aider counts the same two)."""
    if not run_id:
        return 0, 0
    done = subprocess.run([sys.executable, "-m", "tether.cli", "log", run_id, "--json"], capture_output=True, text=True)
    steps = json.loads(done.stdout)["steps"] if done.returncode == 0 else []
    replies = sum(s["kind"] == "reply" for s in steps)
    malformed = sum(
        (s["kind"] == "note" and s.get("text") == MALFORMED) or (s["kind"] == "diff" and s.get("applied") is False) for s in steps
    )
    return replies, malformed


def failure(passed: bool, timed_out: bool, replies: int, malformed: int, edited: bool) -> str | None:
    """Why an attempt failed, in the same words for both tools."""
    if passed:
        return None
    if timed_out:
        return "timeout"
    if replies and malformed == replies:
        return "malformed"
    return "wrong code" if edited else "no edit"


SETS = {"exercism": "exercism/python", "polyglot": "the python/ folder of Aider-AI/polyglot-benchmark (its hard tier)"}


# The samples of exercism/python that earlier runs measured, and tuned prompts on: (size, seed).
TUNED_ON = ((40, 1), (16, 11), (12, 5), (12, 3), (12, 1))


def split(names: list[str], half: str) -> list[str]:
    """Issue 42's split: the exercises outside every sample used before (TUNED_ON), halved by a
    hash of the name, so the halves stay the same whatever the checkout adds: `tune` to choose
    levers on, `held` to report on once."""
    import hashlib
    import random

    used = {n for size, seed in TUNED_ON for n in random.Random(seed).sample(names, min(size, len(names)))}
    fresh = [n for n in names if n not in used]
    return [n for n in fresh if (hashlib.sha256(n.encode()).digest()[0] % 2 == 0) == (half == "tune")]


def exercism(root: Path, sample: int, seed: int, half: str = "", polyglot: Path | None = None) -> list[Path]:
    """A seeded sample of the practice exercises of a checkout of exercism/python (or the
    `python/` folder of Aider-AI/polyglot-benchmark), each copied into the layout of agent_tasks:
    instructions.md, NAME.py (the stub), NAME_test.py; with `half`, of that half of the split
    (`split`). `polyglot`: that folder, whose exercises (its hard tier, all of them exercism's)
    are taken in its version where the sample holds them. Nothing of it is committed."""
    import random

    practice = root / "exercises" / "practice"
    names = sorted(p.name for p in practice.iterdir() if (p / ".docs" / "instructions.md").exists())
    names = split(names, half) if half else names
    chosen = sorted(random.Random(seed).sample(names, min(sample, len(names)))) if sample else names
    out = Path(tempfile.mkdtemp(prefix="exercism-"))
    tasks = []
    for name in chosen:
        module = name.replace("-", "_")
        hard = polyglot / "exercises" / "practice" / name if polyglot else None
        src = hard if hard and hard.is_dir() else practice / name
        if not (src / f"{module}.py").exists() or not (src / f"{module}_test.py").exists():
            continue
        task = out / ("polyglot" if src == hard else "") / module  # the folder names the tier
        task.mkdir(parents=True)
        docs = (src / ".docs" / "instructions.md").read_text()
        extra = src / ".docs" / "instructions.append.md"
        (task / "instructions.md").write_text(docs + ("\n" + extra.read_text() if extra.exists() else ""))
        for f in src.iterdir():  # the stub, its tests and any helper they import (test_utils.py)
            if f.is_file():
                shutil.copy(f, task / f.name)
        tasks.append(task)
    return tasks


# -- aider --------------------------------------------------------------------------------------


# llama_cpp.server with the weights in plain CPU buffers, as tether loads them by default: on machines
# whose CPU advertises AMX without granting it, the repacked buffers segfault at the first decode (and
# Aider then only ever saw connection errors); on AVX2 they read prompts slower.
# Each prompt it evaluates is logged with the prefix its KV cache already held (llama-cpp-python's
# own rule, as tether's provider counts it), and each token it writes. Aider prints "Tokens: … sent"
# only for replies that finished, so its own count leaves out the call in flight at a timeout,
# which tether's ledger counts; the server's log counts both alike.
PLAIN_SERVER = """
import runpy, sys
import llama_cpp, llama_cpp.llama_cpp as low
original = low.llama_model_default_params
def plain():
    params = original()
    params.use_extra_bufts = False
    return params
low.llama_model_default_params = plain
generate, log = llama_cpp.Llama.generate, sys.argv.pop(1)
def metered(self, tokens, *args, **kwargs):
    tokens = list(tokens)
    shared = self.longest_token_prefix(self._input_ids.tolist() if self.n_tokens else [], tokens)
    with open(log, "a") as f:
        f.write(f"{len(tokens)} {shared - 1 if shared and shared == len(tokens) else shared}\\n")
    for token in generate(self, tokens, *args, **kwargs):
        with open(log, "a") as f:  # as it is written: a reply cut off is counted up to the cut
            f.write("+\\n")
        yield token
llama_cpp.Llama.generate = metered
runpy.run_module("llama_cpp.server", run_name="__main__")
"""


class LlamaServer:
    """The same GGUF behind llama_cpp.server's OpenAI-compatible API, for Aider."""

    def __init__(self, model_path: Path):
        bin_dir = python_peer("llama-server", "llama-cpp-python[server]==0.3.36")
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.prompts = Path(tempfile.mkstemp(prefix="llama-server-prompts-")[1])
        self.proc = subprocess.Popen(
            [
                str(bin_dir / "python"),
                "-c",
                PLAIN_SERVER,
                str(self.prompts),
                "--model",
                str(model_path),
                "--model_alias",
                "qwen",
                "--n_ctx",
                "8192",
                "--n_threads",
                str(os.cpu_count() or 2),
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        import httpx

        for _ in range(240):
            try:
                if httpx.get(f"http://127.0.0.1:{self.port}/v1/models", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.5)
        else:
            raise SystemExit("llama_cpp.server did not start")
        try:  # one token, so that a server that cannot decode fails here and not as Aider's "connection error"
            httpx.post(
                f"http://127.0.0.1:{self.port}/v1/chat/completions",
                timeout=300,
                json={"model": "qwen", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 1},
            ).raise_for_status()
            return
        except httpx.HTTPError as e:
            raise SystemExit(f"llama_cpp.server cannot answer: {e}") from None

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait()
        self.prompts.unlink(missing_ok=True)

    def quiet(self) -> None:
        """Wait until the server is idle: a request whose client is gone (Aider stopped at its time
        limit while the server read its prompt; a chat summary Aider sends in the background, which
        the server writes to the end) goes on, on the cores the next attempt needs, and two models
        on two cores slow each other far more than twice: in the both-tools runs before this, a
        tether attempt after such an Aider run wrote 9 tokens in 97 s (hamming; alone it passed in
        33 s). Idle: under 5 % of a core for half a second (a reply paused at a client that is gone
        takes none; one being written, all of two)."""
        stat = Path(f"/proc/{self.proc.pid}/stat")

        def ticks() -> int:  # user and system time of all its threads, in clock ticks
            fields = stat.read_text().rsplit(")", 1)[1].split()
            return int(fields[11]) + int(fields[12])

        before = ticks()
        while self.proc.poll() is None:
            time.sleep(0.5)
            now = ticks()
            if now - before < 0.05 * 0.5 * os.sysconf("SC_CLK_TCK"):
                return
            before = now

    def usage(self) -> tuple[int, int, int]:
        """Since the last call: prompt tokens received, of them those its KV cache held, tokens written."""
        taken = self.prompts.with_suffix(".read")
        try:
            os.replace(self.prompts, taken)  # the server opens the log by name for each line: the next goes to a new file
        except FileNotFoundError:
            return 0, 0, 0
        lines = taken.read_text().splitlines()
        taken.unlink()
        prompts = [tuple(map(int, line.split())) for line in lines if line != "+"]
        return sum(n for n, _ in prompts), sum(c for _, c in prompts), lines.count("+")


def run_aider(task: Path, server: LlamaServer, seconds: float) -> dict:
    bin_dir = python_peer("aider", "aider-chat==0.86.2")
    work = scratch(task)
    stub = f"{task.name}.py"
    env = {**os.environ, "HOME": str(work), "LITELLM_LOCAL_MODEL_COST_MAP": "True", "AIDER_ANALYTICS": "false"}
    base = [
        str(bin_dir / "aider"),
        "--model",
        "openai/qwen",
        "--openai-api-base",
        f"http://127.0.0.1:{server.port}/v1",
        "--openai-api-key",
        "local",
        "--yes-always",
        "--no-git",
        "--no-auto-commits",
        "--no-show-model-warnings",
        "--no-check-update",
        "--analytics-disable",
        "--no-pretty",
        "--no-fancy-input",
        "--map-tokens",
        "0",
    ]
    result = {"tool": "aider", "task": task.name, "attempts": []}
    message = task_message(task)
    for _ in (1, 2):
        started, original = time.monotonic(), (work / stub).read_text()
        server.usage()
        try:
            done = subprocess.run([*base, "--message", message, stub], cwd=work, env=env, capture_output=True, text=True, timeout=seconds)
            output, status = done.stdout + done.stderr, f"exit {done.returncode}"
        except subprocess.TimeoutExpired as e:
            output, status = (e.stdout or b"").decode(errors="replace") if isinstance(e.stdout, bytes) else (e.stdout or ""), "timeout"
        took = round(time.monotonic() - started, 1)
        server.quiet()  # off the clock
        passed, test_output = tests_pass(task, work)
        sent = sum(_k(m.group(1)) for m in re.finditer(r"Tokens: ([\d.]+k?) sent", output))
        received = sum(_k(m.group(1)) for m in re.finditer(r"sent, ([\d.]+k?) received", output))
        fmt = re.search(r"with (\S+) edit format", output)
        replies, malformed = len(re.findall(r"Tokens: [\d.]+k? sent", output)), output.count("did not conform to the edit format")
        prompt, cached, written = server.usage()
        result["attempts"].append(
            {
                "passed": passed,
                "tests": tests_passed(test_output, task),
                "seconds": took,
                "status": status,
                "tokens": prompt + written,
                "anew": prompt - cached + written,
                "reported": sent + received,
                "edit_format": fmt.group(1) if fmt else None,
                "replies": replies,
                "malformed": malformed,
                "failure": failure(passed, status == "timeout", replies, malformed, (work / stub).read_text() != original),
            }
        )
        if passed:
            break
        message = f"{test_output}\n\nSee the testing errors above. The tests are correct. Fix the code in {stub} to resolve the errors."
    shutil.rmtree(work, ignore_errors=True)
    return result


def _k(value: str) -> int:
    return int(float(value[:-1]) * 1000) if value.endswith("k") else int(float(value))


# -- table --------------------------------------------------------------------------------------


def cpu() -> str:
    """The CPU's name and its widest vector unit: prompt speed, so every time in a table, depends on it."""
    try:
        info = Path("/proc/cpuinfo").read_text()
    except OSError:
        return "an unknown CPU"
    name = re.search(r"^model name\s*:\s*(.+)$", info, re.M)
    flags = set(re.search(r"^flags\s*:(.*)$", info, re.M).group(1).split()) if "flags" in info else set()
    unit = next((u for u in ("amx_tile", "avx512f", "avx2") if u in flags), "no AVX2")
    return f"{name.group(1).strip() if name else 'an unknown CPU'} ({unit.split('_')[0].upper()})"


def table(results: list[dict], model: str, source: str = "") -> str:
    where = source or ("small Python tasks written for this benchmark in the style of Exercism exercises (benchmarks/agent_tasks/)")
    tools = {r["tool"] for r in results}
    drivers = " and ".join(
        d for t, d in (("tether", "by tether at level `agent`"), ("aider", "by Aider 0.86.2 through `llama_cpp.server`")) if t in tools
    )
    lines = [
        f"# Agent benchmark\n\n`python benchmarks/agent.py` on {time.strftime('%Y-%m-%d')}: {len({r['task'] for r in results})} {where}, the embedded "
        f"`{model}` (Q4_K_M, llama.cpp, {os.cpu_count()} cores of {cpu()}) driven {drivers}. Attempt 2 runs only when attempt 1 left a test failing.\n",
        "Tokens / task counts every call's whole prompt and reply, a call cut off at the time limit included (tether's ledger counts "
        "it; for Aider, which prints its count only for replies that finished, the server's log does); read anew counts only the prompt "
        "tokens the model evaluated (llama.cpp's KV cache held the rest: from the call before, or for tether from the cache its last "
        "process saved) and the reply: the work, and the time.\n",
        "| tool | tasks | pass@1 | pass@2 | tests passed after attempt 1 | after attempt 2 | wall s / task (mean) | wall s / task (median) | tokens / task | read anew / task | well-formed replies | failed attempts |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for tool in ("tether", "aider"):
        mine = [r for r in results if r["tool"] == tool]
        if not mine:
            continue
        p1 = sum(r["attempts"][0]["passed"] for r in mine)
        p2 = sum(any(a["passed"] for a in r["attempts"]) for r in mine)
        walls = sorted(sum(a["seconds"] for a in r["attempts"]) for r in mine)
        toks = sum(sum(a["tokens"] for a in r["attempts"]) for r in mine) / len(mine)
        counted = [r for r in mine if all("anew" in a for a in r["attempts"])]  # runs before 2026-11-27 did not count it
        anew = f"{sum(a['anew'] for r in counted for a in r['attempts']) / len(counted):,.0f}" if len(counted) == len(mine) else "-"
        attempts = [a for r in mine for a in r["attempts"] if "replies" in a]  # runs before 2026-11-26 did not count replies
        replies = sum(a["replies"] for a in attempts)
        formed = f"{1 - sum(a['malformed'] for a in attempts) / replies:.1%} of {replies}" if replies else "-"
        kinds = Counter(a["failure"] for a in attempts if a.get("failure"))
        failed = ", ".join(f"{kind} {n}" for kind, n in kinds.most_common()) or "-"
        t1, t2 = tests_after(mine, 0), tests_after(mine, -1)
        lines.append(
            f"| {tool} | {len(mine)} | {p1} ({p1 / len(mine):.0%}) | {p2} ({p2 / len(mine):.0%}) | {t1} | {t2} | {sum(walls) / len(walls):.0f} | "
            f"{walls[len(walls) // 2]:.0f} | {toks:,.0f} | {anew} | {formed} | {failed} |"
        )
    hard = [r for r in results if r.get("tier") == "polyglot"]
    if hard:
        lines.append(
            f"\nOf these, the {len({r['task'] for r in hard})} exercises of the polyglot benchmark's python tier (its versions): tests passed "
            + "; ".join(
                f"{t} {tests_after(mine, 0)} after attempt 1, {tests_after(mine, -1)} after 2"
                for t in ("tether", "aider")
                if (mine := [r for r in hard if r["tool"] == t])
            )
            + "."
        )
    missing = [] if source else sorted(p.name for p in TASKS.iterdir() if p.is_dir() and p.name not in {r["task"] for r in results})
    if missing:
        lines.append(f"\nNot run yet: {', '.join(missing)}.")
    lines += ["", "| task | tether | aider |", "|---|---|---|"]
    for task in sorted({r["task"] for r in results}):
        cells = []
        for tool in ("tether", "aider"):
            r = next((r for r in results if r["task"] == task and r["tool"] == tool), None)
            cells.append(
                "-"
                if r is None
                else " → ".join(("pass" if a["passed"] else a.get("failure") or "fail") + f" {a['seconds']:.0f}s" for a in r["attempts"])
            )
        lines.append(f"| {task} | {' | '.join(cells)} |")
    why = [
        f"- {r['tool']} {r['task']}: " + "; ".join(f"{a['status']} ({a.get('reason', '')[:90]})" for a in r["attempts"])
        for r in results
        if r["tool"] == "tether" and not any(a["passed"] for a in r["attempts"])
    ]
    if why:
        lines += ["", "Where tether failed (the run's status and reason per attempt):", *why]
    return "\n".join(lines) + "\n"


def tests_after(rows: list[dict], attempt: int) -> str:
    """Tests passed after an attempt (the last one: -1), summed over the tasks, "-" where a run
    did not count them (before 2026-12-07)."""
    if not all("tests" in r["attempts"][attempt] for r in rows):
        return "-"
    return f"{sum(r['attempts'][attempt]['tests'][0] for r in rows)} of {sum(r['attempts'][attempt]['tests'][1] for r in rows)}"


def headline(results: list[dict]) -> dict[str, str]:
    """The run's numbers for its history row: each tool's pass@2 and seconds a task, tether's tokens sent and read anew over Aider's."""
    tools = [t for t in ("tether", "aider") if any(r["tool"] == t for r in results)]

    def mean(tool: str, key: str) -> float:
        mine = [r for r in results if r["tool"] == tool]
        return sum(a.get(key, 0) for r in mine for a in r["attempts"]) / len(mine)

    out = {
        "pass@2 " + " / ".join(t.replace("aider", "Aider") for t in tools): " / ".join(
            str(sum(any(a["passed"] for a in r["attempts"]) for r in results if r["tool"] == t)) for t in tools
        ),
        "tests after attempt 1 / 2": "; ".join(
            f"{tests_after(mine, 0)} / {tests_after(mine, -1)}" for t in tools if (mine := [r for r in results if r["tool"] == t])
        ),
        "s a task": " / ".join(f"{mean(t, 'seconds'):.0f}" for t in tools),
    }
    if len(tools) == 2:
        out["tokens sent"] = f"{mean('tether', 'tokens') / max(mean('aider', 'tokens'), 1):.2f}×"
        if all("anew" in a for r in results for a in r["attempts"]):
            out["read anew"] = f"{mean('tether', 'anew') / max(mean('aider', 'anew'), 1):.2f}×"
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tasks", default="", help="comma-separated task names (default: all)")
    parser.add_argument("--only", choices=("tether", "aider"), default=None)
    parser.add_argument("--model", default="qwen2.5-coder-1.5b")
    parser.add_argument("--escalate", default=None, help="tether only: the model a stuck run goes on with (e.g. local/qwen2.5-coder-1.5b)")
    parser.add_argument("--seconds", type=float, default=180, help="wall-time limit of one attempt")
    parser.add_argument("--fresh", action="store_true", help="forget earlier results")
    parser.add_argument("--exercism", type=Path, help="a checkout of exercism/python (or polyglot-benchmark's python/): use its exercises")
    parser.add_argument("--sample", type=int, default=40, help="with --exercism: how many exercises, a seeded sample (0: all)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--set", choices=sorted(SETS), default="exercism", help="with --exercism: which set the checkout is")
    parser.add_argument(
        "--split",
        choices=("tune", "held"),
        default=None,
        help="with --exercism: only exercises outside every sample measured before, the tuning or the held-out half (issue 42)",
    )
    parser.add_argument(
        "--polyglot",
        type=Path,
        help="with --exercism: the python/ folder of Aider-AI/polyglot-benchmark, whose versions of its exercises are used",
    )
    parser.add_argument(
        "--name",
        default="",
        help="the run's name (default: agent, with --exercism agent_SET): a run of the same name goes "
        "on where it stopped; a name is shown in the run's row of results/agent.md",
    )
    args = parser.parse_args()
    from tether import config
    from tether.llm import weights

    os.environ.setdefault("TETHER_MODELS_DIR", str(config.models_dir()))  # the weights stay where they are
    os.environ.setdefault("XDG_DATA_HOME", tempfile.mkdtemp(prefix="agent-bench-data-"))  # runs and checkpoints do not

    if args.exercism:
        tasks = exercism(args.exercism, args.sample, args.seed, args.split or "", args.polyglot)
    else:
        tasks = [TASKS / t for t in args.tasks.split(",")] if args.tasks else sorted(p for p in TASKS.iterdir() if p.is_dir())
    source = ""
    name = args.name or (f"agent_{args.set}" if args.exercism else "agent")
    if args.exercism:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=args.exercism, capture_output=True, text=True).stdout.strip()
        which = (f"a sample of {args.sample} with seed {args.seed}" if args.sample else "all of them") + (
            f" of the {args.split} half of the exercises no earlier run used" if args.split else ""
        )
        source = (
            f"exercises of {SETS[args.set]} at {commit} ({which}, fetched at run time, "
            f"`--exercism PATH --set {args.set} --sample {args.sample} --seed {args.seed} --seconds {args.seconds:g}"
            + (f" --split {args.split}" if args.split else "")
            + (" --polyglot PATH" if args.polyglot else "")
            + (f" --name {args.name}" if args.name else "")
            + (f" --escalate {args.escalate}" if args.escalate else "")
            + "`)"
        )
    kept = {} if args.fresh or not RESULTS.exists() else json.loads(RESULTS.read_text())
    kept = {"run": "", "results": kept} if isinstance(kept, list) else kept  # a file of before 2026-12: no run name
    resumed = kept.get("run") == name
    results = kept["results"] if resumed else []
    tools = [args.only] if args.only else ["tether", "aider"]
    server = LlamaServer(weights.ensure(args.model)) if "aider" in tools else None
    try:
        for task in tasks:  # the tools take turns, so both meet the same machine load
            for tool in tools:
                if not args.fresh and any(x["tool"] == tool and x["task"] == task.name for x in results):
                    continue  # measured already (--fresh measures everything again)
                r = run_tether(task, args.model, args.seconds, args.escalate) if tool == "tether" else run_aider(task, server, args.seconds)
                r["tier"] = task.parent.name if task.parent.name == "polyglot" else args.set
                results = [x for x in results if not (x["tool"] == tool and x["task"] == task.name)] + [r]
                RESULTS.write_text(json.dumps({"run": name, "results": results}, indent=1) + "\n")
                print(
                    f"{tool:7} {task.name:14} "
                    + " → ".join(f"{'pass' if a['passed'] else 'fail'} {a['seconds']:.0f}s" for a in r["attempts"]),
                    flush=True,
                )
    finally:
        if server:
            server.close()
    setting = (
        f"{len({r['task'] for r in results})} "
        + (f"exercises of {SETS[args.set]}, seed {args.seed}" if args.exercism else "own tasks")
        + f", {os.cpu_count()} cores of {cpu()}"
        + (f", --only {args.only}" if args.only else "")
    )
    record("agent", table(results, args.model, source), headline(results), setting=setting, run=name, resumed=resumed)
    print(TABLE.read_text())


if __name__ == "__main__":
    main()
