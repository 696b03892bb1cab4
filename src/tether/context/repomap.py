"""A ranked map of a repository's symbols, fitted to a token budget.

Files are nodes; a file that uses a name another file defines gets an edge to it. PageRank over
that graph, personalised toward the files or words at hand, says which files matter; a symbol
ranks by how much the files that matter use it. The map lists the best symbols' signature
lines with their line numbers, grouped by file, as many as fit the budget."""

from __future__ import annotations

import builtins
import math
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from . import tokens
from .parallel import in_two
from .symbols import FileSymbols, Symbol, extract
from .syntax import language_of
from .walk import walk

TOO_COMMON = 12  # a name defined in more files than this says little about which one is meant
MIN_NAME = 3  # one- and two-letter names are matched by every loop variable
BUILTINS = set(dir(builtins))  # a method named `type` or `len` is "used" by every call of the builtin


@dataclass
class RepoMap:
    root: Path
    file_ranks: dict[str, float]
    symbols: list[tuple[float, Symbol]]  # best first
    text: str = ""
    tokens: int = 0
    shown: list[Symbol] = field(default_factory=list)
    edges: dict = field(default_factory=dict)  # file -> {file whose names it uses: weight}

    def to_dict(self) -> dict:
        """The files shown, best ranked first, each with its symbols."""
        by_file: dict[str, list[Symbol]] = {}
        for s in self.shown:
            by_file.setdefault(s.path, []).append(s)
        ranked = sorted(by_file, key=lambda p: -self.file_ranks.get(p, 0.0))
        return {
            "root": str(self.root),
            "tokens": self.tokens,
            "text": self.text,
            "files": [
                {
                    "path": p,
                    "rank": round(self.file_ranks.get(p, 0.0), 6),
                    "symbols": [
                        {"name": s.name, "kind": s.kind, "line": s.line, "end_line": s.end_line, "signature": s.signature}
                        for s in by_file[p]
                    ],
                }
                for p in ranked
            ],
        }


def repo_map(
    path: str | Path, *, max_tokens: int = 2048, focus: list[str] | tuple = (), encoding: str = "o200k_base", include=(), exclude=()
) -> RepoMap:
    found = walk(path, include, exclude)
    sources = [f for f in found.files if not f.binary and language_of(f.path) is not None]
    parsed = [s for s in in_two(lambda part: [_extract(found.root, f.path) for f in part], sources, [f.size for f in sources]) if s]
    ranks, scored, edges = rank(parsed, focus)
    result = RepoMap(found.root, ranks, scored, edges={a: dict(b) for a, b in edges.items()})
    fit(result, max_tokens, encoding)
    return result


def _extract(root: Path, path: str) -> FileSymbols | None:
    try:
        text = (root / path).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    return extract(path, text)


def rank(files: list[FileSymbols], focus=()) -> tuple[dict[str, float], list[tuple[float, Symbol]], dict]:
    definers: dict[str, set[str]] = defaultdict(set)
    for f in files:
        for s in f.definitions:
            definers[s.name].add(f.path)
    users: dict[str, int] = defaultdict(int)  # how many files use each defined name
    for f in files:
        for name in f.references:
            if name in definers:
                users[name] += 1
    edges: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    uses: dict[str, list[tuple[str, float]]] = defaultdict(list)  # name -> [(using file, weight)]
    for f in files:
        for name, count in f.references.items():
            where = definers.get(name)
            if not where or len(where) > TOO_COMMON:
                continue
            # a name used everywhere (len, get, self) tells little: weigh by rarity, like idf
            weight = math.sqrt(count) * math.log(len(files) / users[name]) / len(where)
            uses[name].append((f.path, weight))
            for target in where:
                if target != f.path:
                    edges[f.path][target] += weight
    nodes = [f.path for f in files]
    personal = _personalisation(files, focus)
    ranks = pagerank(nodes, edges, personal)
    importance = {name: sum(ranks[user] * weight for user, weight in users_of) for name, users_of in uses.items()}
    words = {w.lower() for w in focus}
    scored = []
    for f in files:
        seen: set[str] = set()
        for s in f.definitions:
            if len(s.name) < MIN_NAME or s.name in BUILTINS or s.name in seen:
                continue  # overloads of one name show once
            seen.add(s.name)
            own = sum(ranks[s.path] * w for user, w in uses.get(s.name, ()) if user == s.path)
            score = importance.get(s.name, 0.0) - own + 0.1 * ranks[s.path] / max(1, len(f.definitions))
            if s.name.lower() in words:
                score = score * 100 + 1.0
            if s.kind in ("class", "struct", "interface", "trait", "type", "enum"):
                score *= 2  # types are the skeleton a reader hangs the rest on
            if s.name.startswith("_"):
                score *= 0.3  # private helpers rarely help a reader find their way
            scored.append((score, s))
    scored.sort(key=lambda pair: (-pair[0], pair[1].path, pair[1].line))
    return ranks, scored, edges


def _personalisation(files: list[FileSymbols], focus) -> dict[str, float]:
    if not focus:
        return {f.path: 1.0 for f in files}
    weights = {f.path: 0.01 for f in files}
    for item in focus:
        item_lower = item.lower()
        for f in files:
            if f.path == item or f.path.startswith(item.rstrip("/") + "/") or item_lower in f.path.lower():
                weights[f.path] += 1.0
            elif any(s.name.lower() == item_lower for s in f.definitions):
                weights[f.path] += 1.0
            elif item in f.references:
                weights[f.path] += 0.2
    return weights


def pagerank(
    nodes: list[str], edges: dict[str, dict[str, float]], personal: dict[str, float], damping: float = 0.85, iterations: int = 50
) -> dict[str, float]:
    if not nodes:
        return {}
    total = sum(personal.values()) or 1.0
    p = {n: personal.get(n, 0.0) / total for n in nodes}
    rank_ = dict(p)
    out_weight = {n: sum(edges[n].values()) for n in nodes if n in edges}
    for _ in range(iterations):
        dangling = sum(rank_[n] for n in nodes if not out_weight.get(n))
        new = {n: (1 - damping) * p[n] + damping * dangling * p[n] for n in nodes}
        for source, targets in edges.items():
            share = damping * rank_[source] / out_weight[source]
            for target, weight in targets.items():
                new[target] += share * weight
        delta = sum(abs(new[n] - rank_[n]) for n in nodes)
        rank_ = new
        if delta < 1e-9:
            break
    return rank_


def render(symbols: list[Symbol], file_ranks: dict[str, float]) -> str:
    by_file: dict[str, list[Symbol]] = defaultdict(list)
    for s in symbols:
        by_file[s.path].append(s)
    out = []
    for path in sorted(by_file, key=lambda p: (-file_ranks.get(p, 0), p)):
        out.append(f"{path}:")
        out += [f"{s.line:>6}│ {s.signature}" for s in sorted(by_file[path], key=lambda s: s.line)]
    return "\n".join(out) + ("\n" if out else "")


def fit(m: RepoMap, max_tokens: int, encoding: str) -> None:
    """The most symbols whose rendered map fits `max_tokens` (binary search on the count)."""
    ordered = [s for _, s in m.symbols]
    low, high, best = 0, len(ordered), ""
    while low < high:
        middle = (low + high + 1) // 2
        text = render(ordered[:middle], m.file_ranks)
        if tokens.count(text, encoding) <= max_tokens:
            low, best = middle, text
        else:
            high = middle - 1
    m.shown = ordered[:low]
    m.text = best if low else ""
    m.tokens = tokens.count(m.text, encoding) if m.text else 0
