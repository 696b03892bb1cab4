"""`tether wiki` on real repositories no one here wrote, with the default embedded model.

    python benchmarks/wiki.py PATH [PATH …]

Each PATH is a git checkout (e.g. psf/requests, python-attrs/attrs); it is cloned into a scratch
folder so the benchmark can change it. Measured per repository, through the command line:
  1. a full build (`tether wiki build --json`): pages, claims the model wrote, claims kept
     (every kept claim's citations verified), seconds;
  2. an update after a one-file change that moves code (two lines inserted at the top of the
     most cited file): pages written again (none should be: the citations follow the lines);
  3. an update after a one-file change inside cited lines (one cited line of one page edited):
     pages written again, and its time as a share of the full build (goal: at most 10 %).
Results go to results/wiki.md (the newest run on top, earlier runs as history rows), with the
first repository's overview as an example; each repository's row is kept in results/wiki.json,
so a run over one repository keeps the others'."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _results import record  # benchmarks/, the script's folder

HERE = Path(__file__).resolve().parent
TABLE = HERE / "results" / "wiki.md"
ROWS = HERE / "results" / "wiki.json"


def tether(*args: str, cwd: Path) -> tuple[dict, float]:
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "tether", *args, "--json"], cwd=cwd, capture_output=True, text=True, timeout=3600)
    if done.returncode:
        raise SystemExit(f"tether {' '.join(args)} failed: {done.stderr[-500:]}")
    return json.loads(done.stdout), time.perf_counter() - started


def main() -> None:
    os.environ.setdefault("XDG_DATA_HOME", tempfile.mkdtemp(prefix="wiki-bench-data-"))
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("paths", type=Path, nargs="+", help="git checkouts")
    args = parser.parse_args()
    rows = json.loads(ROWS.read_text()) if ROWS.exists() else {}
    for source in args.paths:
        work = Path(tempfile.mkdtemp(prefix="wiki-bench-")) / source.name
        subprocess.run(["git", "clone", "-q", str(source.resolve()), str(work)], check=True)
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=work, capture_output=True, text=True).stdout.strip()
        built, full = tether("wiki", "build", cwd=work)
        written = built["claims"] + built["dropped_claims"]
        cited = [(c["path"], c["start"]) for p in built["pages"] for claim in p["claims"] for c in claim["citations"]]
        most = max({p for p, _ in cited}, key=lambda p: sum(1 for q, _ in cited if q == p)) if cited else None
        moved = edited = None
        if most:
            target = work / most
            target.write_text("# moved by the benchmark\n\n" + target.read_text())
            moved, moved_s = tether("wiki", "update", cwd=work)
            path, start = next((p, s) for p, s in cited if p == most)
            lines = target.read_text().splitlines(keepends=True)
            at = start - 1 + 2  # the cited line, two lines further down now
            lines[at] = lines[at].rstrip("\n") + "  # edited by the benchmark\n"
            target.write_text("".join(lines))
            edited, edited_s = tether("wiki", "update", cwd=work)
        rows[source.name] = [
            f"{source.name} @ {commit}",
            len(built["pages"]),
            written,
            built["claims"],
            built["citations"],
            full,
            (len(moved["written"]), moved_s) if moved else None,
            (len(edited["written"]), edited_s) if edited else None,
            time.strftime("%Y-%m-%d"),
            built["overview"],
        ]
        print(rows[source.name][:-1], flush=True)
        ROWS.write_text(json.dumps(rows, indent=1) + "\n")
    lines = [
        "# Wiki\n\n`python benchmarks/wiki.py PATH …` (the date of each row's run is in its last column): the default embedded model "
        "(qwen2.5-coder-1.5b, 2 CPU cores), driven through `tether wiki build|update --json`. A claim is kept only when all its "
        "citations verify (the file and lines exist and hold the identifiers it names), so every citation shown is checked; "
        '"kept" is the share of the claims the model wrote that verified.\n',
        "| repository | pages | claims written | claims kept | citations shown (all verified) | build s | code moved: pages rewritten, s | "
        "cited line edited: pages rewritten, s (share of build) | run |",
        "|---|---:|---:|---:|---:|---:|---|---|---|",
    ]
    for name, pages, written, kept, citations, full, moved, edited, day, _ in rows.values():
        share = f"{kept / written:.0%}" if written else "-"
        m = f"{moved[0]}, {moved[1]:.1f}" if moved else "-"
        e = f"{edited[0]}, {edited[1]:.1f} ({edited[1] / full:.0%})" if edited else "-"
        lines.append(f"| {name} | {pages} | {written} | {kept} ({share}) | {citations} | {full:.0f} | {m} | {e} | {day} |")
    if rows:
        lines += ["", "## Example: the overview of the first repository", "", next(iter(rows.values()))[-1]]
    record(
        "wiki",
        "\n".join(lines) + "\n",
        {
            row[0]: f"{row[3]} of {row[2]} claims kept, build {row[5]:.0f} s"
            + (f", cited line edited {row[7][1] / row[5]:.0%}" if row[7] else "")
            for row in rows.values()
        },
        setting="run over " + ", ".join(p.name for p in args.paths),
    )
    print(TABLE.read_text())


if __name__ == "__main__":
    main()
