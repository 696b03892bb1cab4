"""A docs folder as llms.txt (https://llmstxt.org): an H1 title, a blockquote summary, and H2
sections of `- [title](url): note` links; beside it a Markdown twin of every page (`page.md`
next to `page.html` or `page.rst`) and llms-full.txt, every page in one file (in parts of at most
`max_tokens` when asked). Links between pages are rewritten to the twins and each is checked."""

from __future__ import annotations

import os
import re
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from ..errors import TetherError
from . import tokens
from .pages import SUFFIXES, convert
from .walk import walk

__all__ = ["DocPage", "LlmsTxt", "build"]

INDEX_NAMES = ("index", "readme", "contents", "intro", "introduction", "overview")
OPTIONAL = re.compile(r"(changelog|changes|history|release|news|license|licence|authors|contributing|code.of.conduct|security)", re.I)
PARALLEL_FROM = 64  # pages: below this, starting worker processes costs more than it saves


@dataclass
class DocPage:
    source: str  # path in the docs folder
    twin: str  # path of its Markdown twin in the output folder
    title: str
    summary: str
    markdown: str
    tokens: int = 0
    section: str = ""

    def to_dict(self) -> dict:
        return {
            "source": self.source,
            "twin": self.twin,
            "title": self.title,
            "summary": self.summary,
            "tokens": self.tokens,
            "section": self.section,
        }


@dataclass
class LlmsTxt:
    title: str
    summary: str
    pages: list[DocPage]
    text: str = ""  # llms.txt
    full: list[str] = field(default_factory=list)  # llms-full.txt, or its parts
    broken: list[tuple[str, str]] = field(default_factory=list)  # (page, link) that leads nowhere

    @property
    def total_tokens(self) -> int:
        return sum(p.tokens for p in self.pages)

    def save(self, out: Path, docs: Path) -> list[str]:
        """Write llms.txt, the twins (not over a source that is its own twin) and llms-full; the paths written."""
        out.mkdir(parents=True, exist_ok=True)
        written = [_write(out / "llms.txt", self.text)]
        for p in self.pages:
            target = out / p.twin
            if target.resolve() != (docs / p.source).resolve():
                written.append(_write(target, p.markdown))
        names = ["llms-full.txt"] if len(self.full) == 1 else [f"llms-full-{n}.txt" for n in range(1, len(self.full) + 1)]
        for stale in out.glob("llms-full*.txt"):
            if stale.name not in names:
                stale.unlink()
        written += [_write(out / name, text) for name, text in zip(names, self.full, strict=False)]
        return [str(Path(w).relative_to(out)) for w in written]

    def to_dict(self) -> dict:
        return {
            "title": self.title,
            "summary": self.summary,
            "pages": [p.to_dict() for p in self.pages],
            "total_tokens": self.total_tokens,
            "llms_txt_tokens": tokens.count(self.text),
            "full_parts": len(self.full),
            "broken_links": [{"page": page, "link": link} for page, link in self.broken],
        }


def build(
    docs: str | Path,
    *,
    out: str | Path | None = None,
    title: str | None = None,
    summary: str | None = None,
    base_url: str = "",
    max_tokens: int | None = None,
) -> LlmsTxt:
    docs = Path(docs).resolve()
    if not docs.is_dir():
        raise TetherError(f"{docs}: not a folder of docs")
    out_rel = _inside(Path(out).resolve(), docs) if out else None
    sources = [
        f.path
        for f in walk(docs).files
        if PurePosixPath(f.path).suffix.lower() in SUFFIXES
        and not (out_rel and f.path.startswith(out_rel + "/"))  # twins written into the docs are not pages
        and not any(part.startswith("_") for part in PurePosixPath(f.path).parts[:-1])
    ]  # _templates, _static, _build
    if out_rel == "":  # written into the docs folder: page.md beside page.rst is that page's twin, not a page
        stems = {str(PurePosixPath(s).with_suffix("")) for s in sources if SUFFIXES[PurePosixPath(s).suffix.lower()] != "markdown"}
        sources = [
            s
            for s in sources
            if SUFFIXES[PurePosixPath(s).suffix.lower()] != "markdown" or str(PurePosixPath(s).with_suffix("")) not in stems
        ]
    if not sources:
        raise TetherError(f"{docs}: no Markdown, reStructuredText or HTML pages")
    twins = _twins(sources)
    jobs = [(docs / s, s) for s in sources]
    if len(jobs) >= PARALLEL_FROM and (os.cpu_count() or 1) > 1:
        biggest_first = sorted(range(len(jobs)), key=lambda i: -_size(jobs[i][0]))  # a long changelog last would keep one worker busy alone
        with ProcessPoolExecutor(min(os.cpu_count() or 1, 8)) as pool:
            done = dict(zip(biggest_first, pool.map(_page, [jobs[i] for i in biggest_first]), strict=False))
        converted = [done[i] for i in range(len(jobs))]
    else:
        converted = [_page(j) for j in jobs]
    pages = [DocPage(s, twins[s], *c) for s, c in zip(sources, converted, strict=False)]
    broken: list[tuple[str, str]] = []
    for p in pages:
        p.markdown = _relink(p, twins, docs, broken)
        p.tokens = tokens.count(p.markdown)
        p.section = _section(p.source)
    pages.sort(key=_order)
    index = min(
        (p for p in pages if _is_index(p.source, top=True)),
        key=lambda p: INDEX_NAMES.index(PurePosixPath(p.source).stem.lower()),
        default=None,
    )
    named, described = _site(docs)
    site = LlmsTxt(
        title or named or (index.title if index else docs.name),
        summary if summary is not None else (described or (index.summary if index else "")),
        pages,
        broken=broken,
    )
    site.text = _llms_txt(site, base_url)
    site.full = _full(site, base_url, max_tokens)
    return site


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _site(docs: Path) -> tuple[str | None, str | None]:
    """The site's name and description where its generator's config states them (read, never run):
    mkdocs.yml's site_name and site_description, or Sphinx's conf.py `project`."""
    for config in (docs / "mkdocs.yml", docs.parent / "mkdocs.yml"):
        if config.is_file():
            text = config.read_text(encoding="utf-8", errors="replace")
            name, about = (re.search(rf"^{key}:\s*['\"]?(.+?)['\"]?\s*$", text, re.M) for key in ("site_name", "site_description"))
            return (name.group(1) if name else None), (about.group(1) if about else None)
    conf = docs / "conf.py"
    if conf.is_file():
        name = re.search(r"^project\s*=\s*['\"](.+?)['\"]", conf.read_text(encoding="utf-8", errors="replace"), re.M)
        return (name.group(1) if name else None), None
    return None, None


def _page(job: tuple[Path, str]) -> tuple[str, str, str]:
    path, rel = job
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as e:
        raise TetherError(f"{rel}: cannot read ({e.strerror or e})") from None
    stem = PurePosixPath(rel).stem
    page = convert(text, SUFFIXES[PurePosixPath(rel).suffix.lower()], stem.replace("-", " ").replace("_", " ").capitalize())
    return page.title, page.summary, page.markdown


def _twins(sources: list[str]) -> dict[str, str]:
    """page.rst → page.md; page.md stays page.md; a second page wanting the same twin keeps its suffix."""
    taken: dict[str, str] = {}
    for s in sorted(sources, key=lambda s: (PurePosixPath(s).suffix.lower() not in (".md", ".markdown"), s)):
        twin = str(PurePosixPath(s).with_suffix(".md"))
        taken[s] = twin if twin not in taken.values() else s + ".md"
    return taken


_LINK = re.compile(r"(!?\[[^\]]*\])\(\s*<?([^)\s>]+)>?((?:\s+\"[^\"]*\")?)\s*\)")
_CODE = re.compile(r"^(```|~~~).*?^\1[^\n]*$|`[^`\n]+`", re.M | re.S)  # fenced blocks and inline code: links there are text
OUTPUTS = re.compile(r"llms(-full(-\d+)?)?\.txt")


def _relink(page: DocPage, twins: dict[str, str], docs: Path, broken: list) -> str:
    """Links to other pages point at their twins; a relative link to nothing is recorded."""
    here = PurePosixPath(page.source).parent
    by_stem = {str(PurePosixPath(s).with_suffix("")): t for s, t in twins.items()}

    def fix(m: re.Match) -> str:
        label, url, title = m.groups()
        if re.match(r"^[a-z][a-z0-9+.-]*:|^#|^//", url, re.I):
            return m.group(0)
        path, _, anchor = url.partition("#")
        path = path.split("?", 1)[0]
        target = os.path.normpath(str(here / path)).replace(os.sep, "/") if path else page.source
        twin = _find(target, twins, by_stem)
        if twin is None and path and not PurePosixPath(path).suffix:  # mkdocs serves page.md at page/: links start from there
            twin = _find(os.path.normpath(str(here / PurePosixPath(page.source).stem / path)).replace(os.sep, "/"), twins, by_stem)
        if twin is None:
            if (not (docs / target).exists() or target.startswith("../")) and not OUTPUTS.fullmatch(target):
                broken.append((page.source, url))
            return m.group(0)
        rel = os.path.relpath(twin, str(PurePosixPath(page.twin).parent) or ".").replace(os.sep, "/")
        return f"{label}({rel}{'#' + anchor if anchor else ''}{title})"

    text, pieces, at = page.markdown, [], 0
    for code in _CODE.finditer(text):
        pieces += [_LINK.sub(fix, text[at : code.start()]), code.group(0)]
        at = code.end()
    return "".join(pieces) + _LINK.sub(fix, text[at:])


def _find(target: str, twins: dict[str, str], by_stem: dict[str, str]) -> str | None:
    target = target.rstrip("/")
    return (
        twins.get(target)
        or by_stem.get(str(PurePosixPath(target).with_suffix("")))
        or by_stem.get(target)
        or by_stem.get(target + "/index")
        or by_stem.get(target + "/README")
    )


def _is_index(source: str, top: bool = False) -> bool:
    p = PurePosixPath(source)
    return p.stem.lower() in INDEX_NAMES and (len(p.parts) == 1 or not top)


def _section(source: str) -> str:
    parts = PurePosixPath(source).parts
    if OPTIONAL.search(PurePosixPath(source).stem) or (len(parts) > 1 and OPTIONAL.search(parts[0])):
        return "Optional"
    if len(parts) == 1:
        return "Docs"
    return re.sub(r"[-_]+", " ", parts[0]).strip().capitalize()


def _order(p: DocPage) -> tuple:
    """Docs first, Optional last, sections by name; the index page first in its folder."""
    rank = 0 if p.section == "Docs" else 2 if p.section == "Optional" else 1
    stem = PurePosixPath(p.source).stem.lower()
    return (
        rank,
        p.section,
        str(PurePosixPath(p.source).parent),
        INDEX_NAMES.index(stem) if stem in INDEX_NAMES else len(INDEX_NAMES),
        p.source,
    )


def _url(base: str, twin: str) -> str:
    return (base.rstrip("/") + "/" + twin) if base else twin


def _llms_txt(site: LlmsTxt, base_url: str) -> str:
    lines = [f"# {_one_line(site.title)}", ""]
    if site.summary:
        lines += [f"> {_one_line(site.summary)}", ""]
    lines += [f"{len(site.pages)} pages, {site.total_tokens:,} tokens (o200k_base); every page is also in llms-full.txt.", ""]
    section = None
    for p in site.pages:
        if p.section != section:
            section = p.section
            lines += ["", f"## {section}", ""] if lines[-1] else [f"## {section}", ""]
        note = f"{_one_line(p.summary)} " if p.summary else ""
        lines.append(f"- [{_one_line(p.title).replace(']', ')')}]({_url(base_url, p.twin)}): {note}({p.tokens:,} tokens)")
    return "\n".join(lines).replace("\n\n\n", "\n\n") + "\n"


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _full(site: LlmsTxt, base_url: str, max_tokens: int | None) -> list[str]:
    """Every page, each under a line naming its source; split into parts under `max_tokens`."""
    head = f"# {_one_line(site.title)}\n\n" + (f"> {_one_line(site.summary)}\n\n" if site.summary else "")
    blocks = [f"<!-- page: {_url(base_url, p.twin)} -->\n\n{p.markdown}\n" for p in site.pages]
    if not max_tokens:
        return [head + "".join(blocks)]
    if tokens.count(head) + 50 >= max_tokens:
        raise TetherError(f"--max-tokens {max_tokens} is too small for the title and summary")
    parts, current, used = [], head, tokens.count(head)
    for block in (piece for b in blocks for piece in _pieces(b, max_tokens - 20)):
        cost = tokens.count(block)
        if used + cost > max_tokens and current.strip():
            parts.append(current)
            current, used = "", 0
        current, used = current + block, used + cost
    return parts + ([current] if current else [])


def _pieces(block: str, limit: int) -> list[str]:
    """A page over the limit, cut at lines (never inside a line unless the line alone is over)."""
    if tokens.count(block) <= limit:
        return [block]
    pieces, current, used = [], "", 0
    for line in block.splitlines(keepends=True):
        cost = tokens.count(line)
        while cost > limit:  # one enormous line: cut it by characters
            line, rest = line[: len(line) * limit // cost], line[len(line) * limit // cost :]
            pieces += [current + line] if not current else [current, line]
            current, used, line, cost = "", 0, rest, tokens.count(rest)
        if used + cost > limit and current:
            pieces.append(current)
            current, used = "", 0
        current, used = current + line, used + cost
    return pieces + ([current] if current else [])


def _inside(path: Path, folder: Path) -> str | None:
    """`path` relative to `folder` ("" for the folder itself), or None when outside it."""
    try:
        rel = path.relative_to(folder).as_posix()
    except ValueError:
        return None
    return "" if rel == "." else rel


def _write(path: Path, text: str) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
    return str(path)
