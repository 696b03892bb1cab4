"""One results file per benchmark, read like a changelog: benchmarks/results/NAME.md holds the
newest run's full report on top and, under `## History`, one row per earlier run, newest first.

    from _results import record
    record("digest", report, {"tether cold / repomix": "1.4x faster"}, setting="sqlalchemy, 2 cores")

`record` puts the new report on top and turns the report it replaces into the history table's
new first row: its date, commit, setting, headline numbers and note, kept in a one-line comment
under the report's title when it was recorded. Older full reports are not kept in the file; git
keeps them."""

from __future__ import annotations

import json
import re
import subprocess
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
HISTORY = "## History"
COLUMNS = "| date | commit | setting | headline | note |"
INTRO = (
    "Earlier runs, newest first; their full reports are in git history (a run named in backticks had a results file "
    "of that name). *commit*: for runs recorded through benchmarks/_results.py, the HEAD the run measured; for earlier "
    "ones, the commit that wrote their results file."
)
_RUN = re.compile(r"^<!-- run (\{.*\}) -->$", re.M)


def head_commit() -> str:
    """The short hash of the checkout's HEAD, or "" outside git."""
    try:
        done = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=HERE, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return ""
    return done.stdout.strip() if done.returncode == 0 else ""


def _cell(value: object) -> str:
    return " ".join(str(value).split()).replace("|", "/")


def row(run: dict) -> str:
    """A run's history row, from the record `record` keeps under its report's title."""
    headline = " · ".join(f"{k}: {v}" for k, v in (run.get("headline") or {}).items())
    return (
        "| "
        + " | ".join(_cell(x) for x in (run.get("date", ""), run.get("commit", ""), run.get("setting", ""), headline, run.get("note", "")))
        + " |"
    )


def split(text: str) -> tuple[str, list[str]]:
    """A results file's top report (its run record included) and its history rows."""
    top, found, history = text.rpartition("\n" + HISTORY + "\n")
    if not found:
        return text, []
    lines = history.splitlines()
    rows = [x for x in lines if x.startswith("|") and x.strip() != COLUMNS and not re.fullmatch(r"\|(\s*-+\s*\|)+", x.strip())]
    return top, rows


def demoted(top: str) -> str:
    """The row of the report `top`: from its run record, or what can be read off a report without one."""
    found = _RUN.search(top)
    if found:
        return row(json.loads(found.group(1)))
    date = re.search(r"\b(\d{4}-\d{2}-\d{2})\b", top)
    title = next((x[2:] for x in top.splitlines() if x.startswith("# ")), "")
    return row({"date": date.group(1) if date else "", "setting": title, "note": "recorded without a run record"})


def record(
    name: str,
    report: str,
    headline: dict | None = None,
    commit: str | None = None,
    *,
    setting: str = "",
    note: str = "",
    run: str = "",
    resumed: bool = False,
    date: str | None = None,
    folder: Path = RESULTS,
) -> Path:
    """Write `report` (Markdown, its first line `# Title`) on top of results/NAME.md; the report it
    replaces becomes the first row of the history table, above the rows already there.

    headline: the run's few numbers for its history row, label to value (pass counts, times, ratios
    against the peer). commit: the code the run measured (default: HEAD). setting, note: the row's
    machine or variant, and a short remark. run: the run's name, such as a results name given on the
    command line (`--out`, `--name`); other than NAME, it heads the setting, and the run still goes
    into NAME.md. resumed: the run went on from a stopped one; if the report on top was recorded under
    the same run name, it is replaced instead of becoming a row. Returns the path written."""
    name, run = Path(name).stem, Path(run).stem if run else ""
    if run and run != name:
        setting = f"`{run}`" + (f": {setting}" if setting else "")
    entry = {
        "date": date or time.strftime("%Y-%m-%d"),
        "commit": head_commit() if commit is None else commit,
        "setting": setting,
        "headline": {str(k): str(v) for k, v in (headline or {}).items()},
        "note": note,
        "run": run,
    }
    path = Path(folder) / f"{name}.md"
    rows: list[str] = []
    if path.exists():
        top, rows = split(path.read_text())
        on_top = _RUN.search(top)
        same = resumed and run and on_top and json.loads(on_top.group(1)).get("run") == run  # a stopped run gone on
        if top.strip() and not same:
            rows.insert(0, demoted(top))
    stamp = "<!-- run " + json.dumps(entry, ensure_ascii=False).replace(">", "\\u003e") + " -->"
    shown = (entry["date"], entry["commit"] and f"commit {entry['commit']}", setting, note)
    stamp += "\n\n*Newest run: " + " · ".join(_cell(x) for x in shown if x) + "*"
    body = report.strip("\n")
    title, _, rest = body.partition("\n")
    body = f"{title}\n\n{stamp}\n{rest}" if title.startswith("# ") else f"{stamp}\n\n{body}"
    text = f"{body.rstrip()}\n\n{HISTORY}\n\n{INTRO}\n\n{COLUMNS}\n|---|---|---|---|---|\n" + "".join(f"{r}\n" for r in rows)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path
