"""How fast `tether ui` verifies: Debian's chromium driven by Playwright against a real server.

- review: a proposal of 40 files and 2,000 changed lines (200 hunks) at level approve: navigation
  to every hunk on screen, then each decision key to its decision stored (p50/p95);
- a run step from being recorded to reaching the page (p50/p95), over a 30-step run;
- a 3,000-line file opened in the file view, coloured (navigation to its last line on screen);
- Stop to stopped in each phase of a run, five times each (p95): waiting for the first token,
  a review open, a check running, and on the real local model (qwen2.5-coder-1.5b) reading the
  prompt and writing the reply;
- the server's memory (this process's RSS) with the 30-step run open, with the local model
  loaded, and a minute after the model was left idle (idle_unload = 10 s here).

No peer ships a comparable review page to run here; the issue's anchors (Cline's diff view at
minutes for large files, Continue's apply failing over 1,000 lines) are cited in the results.
Run: .venv/bin/python benchmarks/ui.py  (writes benchmarks/results/ui.md: the newest run on top, earlier runs as history rows)"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "tests" / "web"), str(ROOT)]  # test_ui (its chromium and toml), which imports tests.conftest

from _results import record  # noqa: E402  (benchmarks/, the script's folder)

FILES, HUNKS_PER_FILE, LINES_PER_HUNK = 40, 5, 10
REPEAT = 5  # stops per phase
LOCAL = "local/qwen2.5-coder-1.5b"
IDLE = 10  # seconds the local model may sit unused here before it is freed


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


def workspace(tmp: Path) -> tuple[Path, str]:
    root = tmp / "ws"
    (root / "pkg").mkdir(parents=True)
    blocks = []
    for f in range(FILES):
        lines = [f"value_{f}_{n} = {n}\n" for n in range(HUNKS_PER_FILE * LINES_PER_HUNK * 3)]
        (root / f"pkg/m{f:02}.py").write_text("".join(lines))
        for h in range(HUNKS_PER_FILE):
            start = h * LINES_PER_HUNK * 3
            old = "".join(lines[start : start + LINES_PER_HUNK])
            blocks.append(f"pkg/m{f:02}.py\n```python\n<<<<<<< SEARCH\n{old}=======\n{old.replace(' = ', ' = 1 + ')}>>>>>>> REPLACE\n```\n")
    big = (ROOT / "src/tether/autonomy/history/checkpoints.py").read_text().splitlines(keepends=True)
    (root / "pkg/big.py").write_text("".join((big * (3000 // len(big) + 1))[:3000]))  # 3,000 lines of real Python
    for n in range(REPEAT):
        (root / f"pkg/c{n}.py").write_text("x = 1\n")
    subprocess.run(["git", "init", "-q"], cwd=root, check=True)
    return root, "".join(blocks)


def one_hunk(path: str) -> str:
    return f"{path}\n```python\n<<<<<<< SEARCH\nx = 1\n=======\nx = 2\n>>>>>>> REPLACE\n```\n"


def start(page, origin: str, instruction: str, level: str, model: str = "", verify: str = "", max_steps: str = "") -> None:
    page.goto(f"{origin}/runs")
    page.fill("textarea[name=instruction]", instruction)
    page.check(f"input[name=level][value={level}]")
    page.fill("input[name=model_other]", model)
    page.fill("textarea[name=verify]", verify)
    page.fill("input[name=max_steps]", max_steps)
    page.click("#start button[type=submit]")
    page.wait_for_url("**/runs/r*")


def stop_ms(page) -> float:
    t = time.perf_counter()
    page.click("#stop")
    page.wait_for_selector("#final")
    return (time.perf_counter() - t) * 1000


def status_has(page, text: str) -> None:
    page.locator("#status", has_text=text).wait_for(timeout=600_000)  # no script evaluated: the page's CSP forbids eval


def stops(page, origin: str) -> dict[str, list[float]]:
    """Stop in each phase, REPEAT times: the scripted model's phases first, then the local model's."""
    times: dict[str, list[float]] = {}
    for n in range(REPEAT):
        start(page, origin, f"wait {n}", "auto")
        status_has(page, "waiting for its first token")
        times.setdefault("waiting for the first token", []).append(stop_ms(page))
    for n in range(REPEAT):
        start(page, origin, f"review {n}", "approve")
        page.wait_for_selector("#hunk-0")
        times.setdefault("a review open", []).append(stop_ms(page))
    for n in range(REPEAT):
        start(page, origin, f"check {n}", "auto", verify="sleep 120")
        status_has(page, "running sleep 120")
        times.setdefault("a check running", []).append(stop_ms(page))
    filler = " ".join(f"note {k}: keep every value as it is unless the request says otherwise." for k in range(120))
    for phase, shows in (("local model reading the prompt", "reading the prompt"), ("local model writing", "writing:")):
        for n in range(REPEAT):
            start(page, origin, f"{time.time_ns()} {phase} {n}: {filler} Set x to 2 in pkg/c0.py.", "suggest", model=LOCAL)
            status_has(page, shows)
            times.setdefault(phase, []).append(stop_ms(page))
    return times


def coloured_file(page, origin: str) -> list[float]:
    """A 3,000-line file opened in the file view: navigation to its last line coloured on screen."""
    loads = []
    for _ in range(REPEAT):
        t = time.perf_counter()
        page.goto(f"{origin}/file?path=pkg/big.py")
        page.wait_for_selector("#L3000")
        loads.append((time.perf_counter() - t) * 1000)
    if page.locator(".file i.k").count() == 0:
        raise SystemExit("the file view is not coloured")
    return loads


def idle_memory(pid: int) -> tuple[float, float, float]:
    """RSS with the local model loaded, then polled once a second: the seconds until it is
    ≤ 150 MB (or the end of the wait) and the RSS a minute after the model's idle time ran out."""
    loaded, t = rss_mb(pid), time.monotonic()
    came_down = float("nan")
    while time.monotonic() - t < IDLE + 60:
        if came_down != came_down and rss_mb(pid) <= 150:
            came_down = time.monotonic() - t
        time.sleep(1)
    return loaded, came_down, rss_mb(pid)


def main() -> None:
    argparse.ArgumentParser(description=__doc__.split("\n\n")[0]).parse_args()
    from playwright.sync_api import sync_playwright
    from test_ui import CHROMIUM, toml

    tmp = Path(tempfile.mkdtemp())
    root, edit = workspace(tmp)
    tool = 'TOOL read_file {"path": "pkg/m00.py"}'
    slow = {"text": "DONE", "delay": 600}
    replies = [edit, "DONE", *([tool] * 29), slow, *([slow] * REPEAT), *([one_hunk("pkg/c0.py")] * REPEAT)]
    replies += [one_hunk(f"pkg/c{n}.py") for n in range(REPEAT)]
    (tmp / "config/tether").mkdir(parents=True)
    (tmp / "config/tether/config.toml").write_text(  # the user's own config: a project's may only narrow
        f'[providers.s]\nkind = "scripted"\noptions = {{ replies = {toml(replies)} }}\n'
        f'[providers.local]\nkind = "local"\ntimeout = 600\noptions = {{ idle_unload = {IDLE} }}\n'
        '[routes.default]\nmodels = ["s/m"]\n[verify]\nsandbox = "off"\n'
    )
    data = Path(os.environ.get("XDG_DATA_HOME", Path.home() / ".local/share"))  # the model weights `make up` fetched
    (tmp / "data/tether").mkdir(parents=True)
    (tmp / "data/tether/models").symlink_to(data / "tether/models")
    env = {**os.environ, "XDG_DATA_HOME": str(tmp / "data"), "XDG_CONFIG_HOME": str(tmp / "config")}
    proc = subprocess.Popen(
        [str(ROOT / ".venv/bin/tether"), "ui", "-C", str(root), "--port", "0", "--json"], stdout=subprocess.PIPE, text=True, env=env
    )
    lines = [proc.stdout.readline()]
    while lines[-1] and lines[-1] != "}\n":
        lines.append(proc.stdout.readline())
    url = json.loads("".join(lines))["url"]
    origin = url.split("/?")[0]
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        page = browser.new_page()
        page.set_default_timeout(120_000)
        page.goto(url)
        page.fill("textarea[name=instruction]", "add one to every value")
        page.check("input[name=level][value=approve]")
        started = time.perf_counter()
        page.click("#start button[type=submit]")
        page.wait_for_selector(f"#hunk-{FILES * HUNKS_PER_FILE - 1}")
        to_review = (time.perf_counter() - started) * 1000
        loads, filled = [], []
        for _ in range(5):  # the review open in a fresh navigation: what a person waits for
            started = time.perf_counter()
            page.reload()
            page.wait_for_selector(f"#hunk-{FILES * HUNKS_PER_FILE - 1}")
            loads.append((time.perf_counter() - started) * 1000)
            page.wait_for_selector("#hunks[data-filled=all]", state="attached")  # every hunk's coloured rows in the page
            filled.append((time.perf_counter() - started) * 1000)
        keys = []
        for n in range(FILES * HUNKS_PER_FILE):
            t = time.perf_counter()
            page.keyboard.press("y" if n % 2 else "n")
            if n < FILES * HUNKS_PER_FILE - 1:
                page.wait_for_selector(f"#hunk-{n}[data-stored={'true' if n % 2 else 'false'}]")
            else:
                page.wait_for_selector("#final")
            keys.append((time.perf_counter() - t) * 1000)
        stored = page.evaluate("window.tetherStored")  # the same decisions timed inside the page: key to the server's answer
        changed = sum(1 for f in range(FILES) if "1 + " in (root / f"pkg/m{f:02}.py").read_text())
        page.goto(f"{origin}/runs")  # a second run: 29 tool steps, then a reply that takes ten minutes
        page.fill("textarea[name=instruction]", "read a file thirty times")
        page.check("input[name=level][value=auto]")
        page.fill("input[name=max_steps]", "40")
        page.click("#start button[type=submit]")
        deadline = time.monotonic() + 300
        while (
            page.evaluate("window.tetherArrivals ? window.tetherArrivals.length : 0") < 100
            and not page.query_selector("#final")
            and time.monotonic() < deadline
        ):
            page.wait_for_timeout(200)
        if page.query_selector("#final") or time.monotonic() >= deadline:
            raise SystemExit(f"the 30-step run ended early: {page.text_content('#result')}")
        arrivals = [a * 1000 for a in page.evaluate("window.tetherArrivals")]
        memory = rss_mb(proc.pid)
        first_stop = stop_ms(page)
        final = page.text_content("#final")
        files = coloured_file(page, origin)
        phases = stops(page, origin)
        loaded, came_down, idle = idle_memory(proc.pid)
        browser.close()
    proc.terminate()
    proc.wait(30)
    shutil.rmtree(tmp, ignore_errors=True)
    rows = [
        ("review: navigation → all 200 hunks on screen (median of 5)", f"{statistics.median(loads):.0f} ms", "≤ 300 ms", ""),
        (
            "review: navigation → every hunk's coloured rows in the page (median of 5)",
            f"{statistics.median(filled):.0f} ms",
            "",
            "the first 12 before the first frame, the rest a batch a task",
        ),
        ("start of the run → review on screen", f"{to_review:.0f} ms", "", "the agent's start: brief, index and embeddings of 40 files"),
        ("decision key → decision stored, p50", f"{statistics.median(keys):.1f} ms", "", ""),
        (
            "decision key → decision stored, p95",
            f"{pct(keys, 0.95):.1f} ms",
            "≤ 50 ms",
            "as Playwright sees it: its polling of a 200-hunk page included",
        ),
        ("decision key → server's answer in the page, p50", f"{statistics.median(stored):.1f} ms", "", "timed by the page itself"),
        ("decision key → server's answer in the page, p95", f"{pct(stored, 0.95):.1f} ms", "≤ 50 ms", "timed by the page itself"),
        ("run step recorded → on the page, p50", f"{statistics.median(arrivals):.1f} ms", "", f"{len(arrivals)} steps"),
        ("run step recorded → on the page, p95", f"{pct(arrivals, 0.95):.1f} ms", "≤ 200 ms", ""),
        ("Stop → stopped (waiting for a reply, after 30 steps)", f"{first_stop:.0f} ms", "≤ 1 s", f"final status: {final}"),
        *(
            (f"Stop → stopped: {phase}, p95 of {len(ms)}", f"{pct(ms, 0.95):.0f} ms", "≤ 1 s", f"median {statistics.median(ms):.0f} ms")
            for phase, ms in phases.items()
        ),
        (
            "3,000-line file → coloured on screen (median of 5)",
            f"{statistics.median(files):.0f} ms",
            "≤ 500 ms",
            f"slowest {max(files):.0f} ms",
        ),
        (
            "server RSS with a 30-step run open",
            f"{memory:.0f} MB",
            "≤ 150 MB beside the model",
            "`tether ui` process, embedding model for search included",
        ),
        ("server RSS with the local model loaded", f"{loaded:.0f} MB", "", LOCAL),
        (
            f"server RSS a minute after the model sat idle {IDLE} s",
            f"{idle:.0f} MB",
            "≤ 150 MB",
            f"≤ 150 MB after {came_down:.0f} s" if came_down == came_down else "never ≤ 150 MB in the wait",
        ),
    ]
    worst_stop = max(pct(ms, 0.95) for ms in phases.values())
    table = "| measure | tether ui | goal | note |\n|---|---|---|---|\n" + "".join(f"| {' | '.join(r)} |\n" for r in rows)
    text = (
        f"# tether ui: speed of verification\n\n`.venv/bin/python benchmarks/ui.py` — Debian chromium {chromium_version(CHROMIUM)} "
        f"headless, Playwright, on this machine. A proposal of {FILES} files, {FILES * HUNKS_PER_FILE} hunks, "
        f"{FILES * HUNKS_PER_FILE * LINES_PER_HUNK} changed lines; the scripted provider stands in for the model so that "
        f"only tether is timed. {changed} of {FILES} files got their taken hunks.\n\n{table}\n"
        "Anchors (from the issue, not run here): Cline's diff view has been reported at minutes for large files; "
        "Continue's apply fails on files over 1,000 lines.\n"
    )
    record(
        "ui",
        text,
        {
            "review on screen": rows[0][1],
            "decision p95": rows[4][1],
            "decision p95 in the page": rows[6][1],
            "step on the page p95": rows[8][1],
            "Stop p95, worst phase": f"{worst_stop:.0f} ms",
            "3,000-line file coloured": f"{statistics.median(files):.0f} ms",
            "idle RSS": f"{idle:.0f} MB",
        },
        setting=f"chromium {chromium_version(CHROMIUM)}, {os.cpu_count()} cores",
    )
    print(text)
    print(json.dumps({"keys_ms": keys[:5]}))


def chromium_version(path: str) -> str:
    try:
        return subprocess.run([path, "--version"], capture_output=True, text=True, timeout=30).stdout.strip().split()[-1]
    except (OSError, subprocess.SubprocessError, IndexError):
        return "?"


if __name__ == "__main__":
    main()
