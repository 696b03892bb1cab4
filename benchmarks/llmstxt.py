"""llms.txt generation on real docs folders, against the generators on the package registry.

    python benchmarks/llmstxt.py --rst PATH [--rst PATH …] [--markdown PATH …] [--pages 500]

Each folder is a docs tree no one here wrote, given by path (e.g. the `docs/` of a checkout of
psf/requests or `doc/build` of sqlalchemy for reST, the `docs/` of encode/httpx for Markdown).
tether (`tether llms-txt DIR -o OUT`) is timed as a process, as a user runs it. The peers are
installed into scratch venvs: sphinx-llms-txt 0.7.1 runs inside a Sphinx build of the reST
folder (no conf.py of the project, so nothing of it is imported: `sphinx-build -C`), and
mkdocs-llmstxt 0.5.1 inside a mkdocs build of the Markdown folder. A peer that fails is reported
as failed, with its last error line. `--pages N` also times a folder of N pages made by repeating
the given folders' pages (distinct names), for the "500 pages in 2 s" goal. Results go to
results/llmstxt.md (the newest run on top, earlier runs as history rows)."""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _peers import python_peer  # noqa: E402
from _results import record  # noqa: E402

TABLE = HERE / "results" / "llmstxt.md"
SUFFIXES = (".md", ".rst", ".html", ".htm")


def pages(folder: Path) -> int:
    return sum(
        1
        for p in folder.rglob("*")
        if p.suffix.lower() in SUFFIXES and not any(x.startswith((".", "_")) for x in p.relative_to(folder).parts)
    )


def timed(command: list[str], cwd: Path | None = None) -> tuple[float, bool, str]:
    started = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=1800)
    seconds = time.perf_counter() - started
    last = (done.stderr.strip().splitlines() or [""])[-1][:160]
    return seconds, done.returncode == 0, last


def tether(folder: Path) -> tuple[float, bool, str]:
    out = Path(tempfile.mkdtemp(prefix="llms-tether-"))
    try:
        return timed([sys.executable, "-m", "tether", "llms-txt", str(folder), "-o", str(out)])
    finally:
        shutil.rmtree(out, ignore_errors=True)


def sphinx(folder: Path) -> tuple[float, bool, str]:
    bin_dir = python_peer("sphinx-llms", "sphinx==8.2.3", "sphinx-llms-txt==0.7.1")
    out = Path(tempfile.mkdtemp(prefix="llms-sphinx-"))
    index = next((n for n in ("index", "contents") if (folder / f"{n}.rst").exists()), "index")
    try:
        return timed(
            [
                str(bin_dir / "sphinx-build"),
                "-q",
                "-b",
                "html",
                "-C",
                "-D",
                "extensions=sphinx_llms_txt",
                "-D",
                f"master_doc={index}",
                "-D",
                "project=docs",
                str(folder),
                str(out),
            ]
        )
    finally:
        shutil.rmtree(out, ignore_errors=True)


def mkdocs(folder: Path) -> tuple[float, bool, str]:
    bin_dir = python_peer("mkdocs-llms", "mkdocs==1.6.1", "mkdocs-llmstxt==0.5.1")
    work = Path(tempfile.mkdtemp(prefix="llms-mkdocs-"))
    try:
        (work / "mkdocs.yml").write_text(
            f"site_name: docs\nsite_url: https://example.org/\ndocs_dir: {folder}\nsite_dir: {work / 'site'}\n"
            "plugins:\n  - llmstxt:\n      full_output: llms-full.txt\n      sections:\n        Docs:\n          - '**/*.md'\n"
        )
        return timed([str(bin_dir / "mkdocs"), "build", "-q", "-f", str(work / "mkdocs.yml")])
    finally:
        shutil.rmtree(work, ignore_errors=True)


def many(folders: list[Path], count: int) -> Path:
    """A folder of `count` pages: the given folders' pages again and again, under distinct names."""
    sources = [
        p
        for f in folders
        for p in sorted(f.rglob("*"))
        if p.suffix.lower() in SUFFIXES and not any(x.startswith((".", "_")) for x in p.relative_to(f).parts)
    ]
    out = Path(tempfile.mkdtemp(prefix="llms-many-"))
    for n in range(count):
        src = sources[n % len(sources)]
        target = out / f"part{n // len(sources)}" / f"{n}-{src.name}"
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(src, target)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rst", type=Path, action="append", default=[])
    parser.add_argument("--markdown", type=Path, action="append", default=[])
    parser.add_argument("--pages", type=int, default=500)
    args = parser.parse_args()
    rows = []
    for kind, folders, peer in (("reST", args.rst, sphinx), ("Markdown", args.markdown, mkdocs)):
        for folder in folders:
            folder = folder.resolve()
            n = pages(folder)
            mine = tether(folder)
            theirs = peer(folder)
            rows.append((f"{folder.parent.name}/{folder.name} ({kind})", n, mine, peer.__name__, theirs))
            print(rows[-1], flush=True)
        if folders and args.pages:
            big = many(folders, args.pages)
            rows.append((f"{args.pages} pages made of the {kind} folders' pages", args.pages, tether(big), peer.__name__, peer(big)))
            print(rows[-1], flush=True)
            shutil.rmtree(big, ignore_errors=True)
    lines = [
        f"# llms.txt generation\n\n`python benchmarks/llmstxt.py {' '.join(sys.argv[1:])}` on {time.strftime('%Y-%m-%d')}, 2 CPU cores. "
        "Wall time of one process each, start to exit; tether writes llms.txt, a Markdown twin of every page and llms-full.txt; "
        "the peers build the site with their llms.txt plugin (all they can do).\n",
        "| docs | pages | tether s | pages/s | peer | peer s | ratio |",
        "|---|---:|---:|---:|---|---:|---:|",
    ]
    for name, n, (mine, ok, why), peer, (theirs, peer_ok, peer_why) in rows:
        ratio = f"{theirs / mine:.1f}× faster" if ok and peer_ok else "-"
        lines.append(
            f"| {name} | {n} | {mine:.2f}{'' if ok else ' (failed: ' + why + ')'} | {n / mine:,.0f} | {peer} | "
            f"{theirs:.2f}{'' if peer_ok else ' (failed: ' + peer_why + ')'} | {ratio} |"
        )
    record(
        "llmstxt",
        "\n".join(lines) + "\n",
        {
            name: f"{mine:.2f} s" + (f", {theirs / mine:.1f}× faster than {peer}" if ok and peer_ok else "")
            for name, n, (mine, ok, _), peer, (theirs, peer_ok, _) in rows
        },
    )
    print(TABLE.read_text())


if __name__ == "__main__":
    main()
