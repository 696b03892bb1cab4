"""`tether wiki`: a wiki of the repository whose every claim cites lines that were checked.

The parts of the repository (a page each) are chosen mechanically, from the folder structure and
the repo map's ranks; each page is written by `ask` from the definitions of the part's most used
symbols, so its claims cite snippet ids that tether turns into `path:start-end` and verifies. A
claim that does not verify is dropped, never shown as fact. Each citation keeps a hash of the
lines it cites: when the code moves, the citation follows the same lines; when cited lines
change, only the claims that cite them are asked for again, from the definitions around those
lines (a short prompt), and the page's other claims stay. The overview and its diagram of
which part uses which are computed, not written by a model. Pages are kept in tether's
database, so a killed build resumes where it stopped."""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path, PurePosixPath

from ... import config
from ...context.gitsource import repo_git
from ...context.repomap import repo_map
from ...errors import TetherError
from ...store import Schema, register
from .ask import Snippet, answer as answer_question, file_lines
from .wikipages import PROMPT_OVERHEAD, Page, Part, WikiPlan, WikiReport

__all__ = ["Part", "Page", "Wiki", "WikiReport"]

MAX_PAGES = 8
SNIPPET_TOKENS = 1300  # of bare lines: the code that 1800 bought when each line was numbered
SKIP = {"tests", "test", "testing", "docs", "doc", "examples", "example", "benchmarks", "bench", "scripts", "tools", "vendor"}


SCHEMA = register(
    Schema(
        "wiki",
        [
            """
    CREATE TABLE wiki (
        root      TEXT NOT NULL,
        slug      TEXT NOT NULL,
        rank      INTEGER NOT NULL,
        title     TEXT NOT NULL,
        files     TEXT NOT NULL,
        claims    TEXT NOT NULL,
        dropped   INTEGER NOT NULL,
        commit_id TEXT NOT NULL,
        run_id    TEXT,
        ts        REAL NOT NULL,
        PRIMARY KEY (root, slug)
    );
    """
        ],
        legacy=(5,),
    )
)  # one row per page of a workspace's wiki, so a killed build resumes


class Wiki:
    def __init__(self, grid, root: str | Path, model: str = "default"):
        self.grid, self.root, self.model = grid, config.workspace(root), model
        self.store = grid.store.ensure(SCHEMA)

    # -- building -----------------------------------------------------------------------------

    def build(self, force: bool = False, progress=None) -> WikiReport:
        """Write every page that is missing or whose cited lines changed; keep the rest (their
        citations moved to where the same lines stand now). `progress(done, total, title)`."""
        started = time.monotonic()
        found, repo = self.parts()
        commit = self._commit()
        report = WikiReport([])
        for n, part in enumerate(found):
            if progress:
                progress(n, len(found), part.title)
            old = None if force else self._load(part.slug)
            page = None
            if old is not None and sorted(old.files) == sorted(part.files):  # ranks may reorder the same files
                page, asked = self._refresh(old, part, repo)
                if page is not None:
                    page.commit, page.files = commit, list(part.files)
                    (report.written if asked else report.kept).append(part.slug)
            if page is None:
                page = self._write(part, repo, commit)
                report.written.append(part.slug)
            self._save(page, n)
            report.pages.append(page)
        if progress:
            progress(len(found), len(found), "")
        self.store.write(
            "DELETE FROM wiki WHERE root = ? AND slug NOT IN (%s)" % ",".join("?" * len(found)), (str(self.root), *[p.slug for p in found])
        )
        report.overview = self.overview(report.pages, repo)
        report.seconds = time.monotonic() - started
        return report

    def plan(self, force: bool = False) -> WikiPlan:
        """What `build(force)` would write, and what it would cost, asking no model."""
        found, repo = self.parts()
        pages = []
        for part in found:
            old = None if force else self._load(part.slug)
            if old is None or sorted(old.files) != sorted(part.files):
                action, shown = "write", _snippets(self.root, part, repo)
            else:
                texts: dict = {}
                stale = [c for c in old.claims if not self._follow(c, texts)]
                near = [(c["path"], c["start"], c["end"]) for claim in stale for c in claim["citations"]]
                action, shown = ("refresh", _snippets(self.root, part, repo, near)) if stale else ("keep", [])
            cost = sum(s.cost for s in shown) + PROMPT_OVERHEAD if action != "keep" else 0
            pages.append({"slug": part.slug, "title": part.title, "action": action, "prompt_tokens": cost})
        model = self.grid.route(self.model)[1].models[0]
        return WikiPlan(pages, model, self.grid.ledger.speeds(model))

    def parts(self):
        """The parts of the repository worth a page each, best ranked first, and the repo map."""
        repo = repo_map(self.root, max_tokens=1)
        code = [
            p
            for p in repo.file_ranks
            if not any(_skipped(folder) for folder in PurePosixPath(p).parts[:-1]) and not PurePosixPath(p).name.startswith("test_")
        ]
        if not code:
            raise TetherError(f"{self.root}: no source code the map can read, so no wiki to write")
        deep = [p for p in code if "/" in p]
        prefix = _common_folder(deep if len(deep) > len(code) // 2 else code)  # a setup.py at the root does not hide src/pkg/
        groups: dict[str, list[str]] = {}
        for path in code:
            if prefix and not path.startswith(prefix + "/"):
                continue  # outside the package: build scripts and the like
            below = PurePosixPath(path).relative_to(prefix).parts if prefix else PurePosixPath(path).parts
            groups.setdefault(below[0] if len(below) > 1 else path, []).append(path)
        rank = lambda files: sum(repo.file_ranks[f] for f in files)  # noqa: E731
        while len(groups) < 3:  # too few folders to tell a reader much: the biggest one is split into its files
            key = max((k for k, v in groups.items() if len(v) > 1), key=lambda k: rank(groups[k]), default=None)
            if key is None:
                break
            for f in groups.pop(key):
                groups[f] = [f]
        best = sorted(groups.items(), key=lambda kv: -rank(kv[1]))[:MAX_PAGES]
        titles = [_title(key, prefix) for key, _ in best]
        titles = [
            t if titles.count(t) == 1 else _title(key, prefix, suffix=True) for t, (key, _) in zip(titles, best, strict=False)
        ]  # x.py and x.pyi
        return [
            Part(_slug(title), title, tuple(sorted(files, key=lambda f: -repo.file_ranks[f])))
            for title, (key, files) in zip(titles, best, strict=False)
        ], repo

    def _write(self, part: Part, repo, commit: str) -> Page:
        claims, dropped, run_id = self._claims(part, _snippets(self.root, part, repo), (3, 6))
        return Page(part.slug, part.title, list(part.files), claims, dropped, commit, run_id)

    def _claims(self, part: Part, shown: list[Snippet], count: tuple[int, int]) -> tuple[list[dict], int, str]:
        """The verified claims `ask` writes about the part from `shown`, how many it dropped, and its run."""
        names = ", ".join(f"`{f}`" for f in part.files[:6]) + (" …" if len(part.files) > 6 else "")
        question = (
            f"What does the {part.title} part of this repository ({names}) do? Say what its main classes and functions "
            "are for and how they work together, one short fact per claim."
        )
        answer = answer_question(self.grid, self.root, question, self.model, shown=shown, command="wiki", claims=count)
        lines: dict[str, list[str]] = {}  # each cited file read once, however many citations it has
        for x in (x for c in answer.claims if c.verified for x in c.citations):
            if x.path not in lines:
                lines[x.path] = file_lines(self.root, x.path) or []
        claims = [
            {
                "text": c.text,
                "citations": [
                    {
                        "path": x.path,
                        "start": x.start,
                        "end": x.end,
                        "hash": _hash(lines[x.path][x.start - 1 : x.end]),
                        "around": _around(lines[x.path], x.start, x.end, min(3, x.start - 1)),
                    }
                    for x in c.citations
                ],
            }
            for c in answer.claims
            if c.verified
        ]
        return claims, len(answer.claims) - len(claims), answer.run_id

    def _refresh(self, page: Page, part: Part, repo) -> tuple[Page | None, bool]:
        """The page with its citations moved to where their lines stand now, and whether a model
        was asked: claims whose lines changed are asked for again from the definitions those lines
        were in. None when that cannot be done piecewise (a cited file is gone, or no definition
        of the part is where the changed lines were): the whole page is written again."""
        texts: dict[str, list[str] | None] = {}
        stale = [claim for claim in page.claims if not self._follow(claim, texts)]
        if not stale:
            return page, False
        if not all((self.root / c["path"]).is_file() for claim in stale for c in claim["citations"]):
            return None, False
        near = [(c["path"], c["start"], c["end"]) for claim in stale for c in claim["citations"]]
        shown = _snippets(self.root, part, repo, near)
        if not shown:
            return None, False
        claims, dropped, run_id = self._claims(part, shown, (1, len(stale) + 1))
        kept = [c for c in page.claims if c not in stale]
        said = {c["text"] for c in kept}
        page.claims = kept + [c for c in claims if c["text"] not in said]
        page.dropped += dropped
        page.run_id = run_id
        return page, True

    def _follow(self, claim: dict, texts: dict) -> bool:
        """Move the claim's citations to where their lines stand now; False when some are gone."""
        for c in claim["citations"]:
            if c["path"] not in texts:
                texts[c["path"]] = file_lines(self.root, c["path"])
            lines = texts[c["path"]]
            if lines is None:
                return False
            size = c["end"] - c["start"] + 1
            if _hash(lines[c["start"] - 1 : c["end"]]) == c["hash"]:
                continue
            places = [n for n in range(1, len(lines) - size + 2) if _hash(lines[n - 1 : n - 1 + size]) == c["hash"]]
            if "around" in c:  # moved lines are found where their neighbours went too, never on a twin (`def attrs(` of another overload)
                places = [n for n in places if c["around"] == _around(lines, n, n + size - 1, min(3, c["start"] - 1))]
            if len(places) != 1:
                return False
            c["start"], c["end"] = places[0], places[0] + size - 1
        return True

    # -- reading ------------------------------------------------------------------------------

    def pages(self) -> list[Page]:
        rows = self.store.query("SELECT slug FROM wiki WHERE root = ? ORDER BY rank", (str(self.root),))
        return [p for p in (self._load(r["slug"]) for r in rows) if p]

    def overview(self, pages: list[Page], repo=None) -> str:
        """The first page: every part with its first verified claim, and which part uses which."""
        repo = repo or repo_map(self.root, max_tokens=1)
        owner = {f: p.slug for p in pages for f in p.files}
        uses: dict[tuple[str, str], float] = {}
        for source, targets in repo.edges.items():
            for target, weight in targets.items():
                a, b = owner.get(source), owner.get(target)
                if a and b and a != b:
                    uses[(a, b)] = uses.get((a, b), 0.0) + weight
        lines = [
            f"# {self.root.name}",
            "",
            "The parts of this repository, most used first; every claim below cites lines tether checked.",
            "",
        ]
        for p in pages:
            first = p.claims[0]["text"] if p.claims else "(no verified claim)"
            lines.append(f"- [{p.title}]({p.slug}.md): {first}")
        if uses:
            strongest = sorted(uses.items(), key=lambda kv: -kv[1])[: 3 * len(pages)]
            lines += ["", "## Which part uses which", "", "```mermaid", "graph LR"]
            lines += [f'  {p.slug.replace("-", "_")}["{p.title}"]' for p in pages]
            lines += [f"  {a.replace('-', '_')} --> {b.replace('-', '_')}" for (a, b), _ in strongest]
            lines.append("```")
        return "\n".join(lines) + "\n"

    def save(self, out: Path, report: WikiReport) -> list[str]:
        """The wiki as Markdown files: index.md (the overview) and one file per part."""
        out.mkdir(parents=True, exist_ok=True)
        (out / "index.md").write_text(report.overview, encoding="utf-8")
        for p in report.pages:
            (out / f"{p.slug}.md").write_text(p.markdown(), encoding="utf-8")
        return ["index.md"] + [f"{p.slug}.md" for p in report.pages]

    # -- storage ------------------------------------------------------------------------------

    def _save(self, page: Page, rank: int) -> None:
        self.store.write(
            "INSERT OR REPLACE INTO wiki (root, slug, rank, title, files, claims, dropped, commit_id, run_id, ts) VALUES "
            "(?,?,?,?,?,?,?,?,?,?)",
            (
                str(self.root),
                page.slug,
                rank,
                page.title,
                json.dumps(page.files),
                json.dumps(page.claims),
                page.dropped,
                page.commit,
                page.run_id,
                time.time(),
            ),
        )

    def _load(self, slug: str) -> Page | None:
        rows = self.store.query("SELECT * FROM wiki WHERE root = ? AND slug = ?", (str(self.root), slug))
        if not rows:
            return None
        r = rows[0]
        return Page(r["slug"], r["title"], json.loads(r["files"]), json.loads(r["claims"]), r["dropped"], r["commit_id"], r["run_id"] or "")

    def _commit(self) -> str:
        try:
            return repo_git(["rev-parse", "HEAD"], self.root, timeout=30).stdout.strip()
        except (TetherError, OSError):
            return ""


def _snippets(root: Path, part: Part, repo, near: list[tuple[str, int, int]] | None = None) -> list[Snippet]:
    """The definitions of the part's best ranked symbols, as numbered snippets within budget;
    with `near` (path, start, end), only the innermost definitions around those lines."""
    found, used, seen = [], 0, set()
    files = set(part.files)
    texts: dict[str, list[str]] = {}
    symbols = [s for _, s in repo.symbols]
    if near is not None:
        around = [
            min(
                (s for s in symbols if s.path == path and s.line <= start and end <= s.end_line),
                key=lambda s: s.end_line - s.line,
                default=None,
            )
            for path, start, end in near
        ]
        symbols = [s for s in symbols if s in around]
    for s in symbols:
        if s.path not in files or (s.path, s.line) in seen:
            continue
        if s.path not in texts:
            texts[s.path] = file_lines(root, s.path) or []  # confined: a file swapped for a link out is not read
        snippet = Snippet(
            f"S{len(found) + 1}", s.path, s.line, [line + "\n" for line in texts[s.path][s.line - 1 : min(s.end_line, s.line + 24)]]
        )
        if snippet.lines and used + snippet.cost <= SNIPPET_TOKENS:
            seen.add((s.path, s.line))
            found.append(snippet)
            used += snippet.cost
    return found


def _hash(lines: list[str]) -> str:
    return hashlib.sha256("\n".join(x.rstrip() for x in lines).encode()).hexdigest()[:12]


def _around(lines: list[str], start: int, end: int, before: int) -> str:
    """A hash of the cited lines with up to three lines either side (`before`: as many as there
    were above them when cited). Lines that moved are followed only to where their neighbours
    went too, never to a twin (`)`, `def attrs(` of another overload); lines that moved and
    whose neighbours changed are asked about again."""
    return _hash(lines[max(0, start - 1 - before) : end + 3])


def _skipped(folder: str) -> bool:
    """Tests, docs, examples and tooling are not parts of the code a reader learns (typing_tests too)."""
    return folder.lower() in SKIP or any(word in ("test", "tests") for word in folder.lower().replace("-", "_").split("_"))


def _common_folder(paths: list[str]) -> str:
    parts = [PurePosixPath(p).parts[:-1] for p in paths]
    common = []
    for level in zip(*parts, strict=False):
        if len(set(level)) != 1:
            break
        common.append(level[0])
    return "/".join(common)


def _slug(title: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in title.lower()).strip("-") or "root"


def _title(key: str, prefix: str, suffix: bool = False) -> str:
    path = PurePosixPath(key).relative_to(prefix) if prefix and key.startswith(prefix + "/") else PurePosixPath(key)
    return path.as_posix() if suffix else path.with_suffix("").as_posix()
