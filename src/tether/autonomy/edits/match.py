"""Finding where a SEARCH text belongs in a file, most exact first: as written; ignoring trailing
whitespace; with the indentation shifted (the replacement shifted to match); ignoring blank
lines; then fuzzy, accepting only a unique best match that is alike as text and shares most of
its lines word for word (so `def mul` is never taken for `def sub`). An ambiguous or
missing match is an error that carries the nearest real snippet, for the model to retry with."""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

from rapidfuzz import fuzz

from .merge import Conflict, merge

FUZZY_THRESHOLD = 0.85
FUZZY_MARGIN = 0.03  # the best fuzzy window must beat the runner-up by this much
FUZZY_SAME_LINES = 0.6  # and hold at least this share of the SEARCH lines word for word
FUZZY_SHORT = 0.95  # a SEARCH of one or two lines must be this alike: short texts look alike easily
ELISION = re.compile(r"^\s*(?:#|//|/\*|<!--|--)?\s*\.\.\.\s*(?:\*/|-->)?\s*$")


@dataclass
class Found:
    start: int  # line index, inclusive
    end: int  # line index, exclusive
    how: str
    replacement: list[str]  # the replacement lines, re-indented where the match was
    delta: tuple[str, str] | None = None  # the indentation shift (remove, add) of an indentation match


class NoMatch(Exception):
    def __init__(self, message: str, nearest: tuple[int, int] | None = None):
        super().__init__(message)
        self.nearest = nearest  # (start, end) line indexes of the closest window


def locate(lines: list[str], search: list[str], replace: list[str], whole_block: bool = True, fuzzy: bool = True) -> Found:
    """Where `search` (lines with their newlines) stands in `lines`, and what goes there.
    `whole_block` is False for the pieces between `...` lines, whose edges are not the block's;
    `fuzzy` is False where only a sure match will do (trying candidates)."""
    found = _locate(lines, search, replace, fuzzy)
    if found.how != "exact":  # a loose match: the file's own lines win wherever the model did not change them
        base = _reindent(search, found.delta) if found.delta else search
        try:
            found.replacement = merge(base, lines[found.start : found.end], found.replacement)
        except Conflict as e:
            raise NoMatch(str(e), (found.start + e.at, found.start + e.at + 1)) from None
    return _absorb_blank_edges(lines, search, found) if whole_block else found


def _locate(lines: list[str], search: list[str], replace: list[str], fuzzy: bool = True) -> Found:
    starts = _find_all(lines, search, str.strip)
    if len(starts) > 1:  # the same lines at another depth: taking the exact one could be the wrong one
        raise NoMatch(
            f"the SEARCH text, indentation aside, matches {len(starts)} places; add lines of context so it matches one",
            (starts[0], starts[0] + len(search)),
        )
    found = _find(lines, search, lambda line: line)
    if found is not None:
        return Found(found, found + len(search), "exact", replace)
    found = _find(lines, search, str.rstrip, "trailing-whitespace")
    if found is not None:
        return Found(found, found + len(search), "trailing-whitespace", replace)
    starts = [i for i in starts if _indent_delta(lines[i : i + len(search)], search) is not None]
    found = _unique(starts, "indentation", len(search))
    if found is not None:
        delta = _indent_delta(lines[found : found + len(search)], search)
        assert delta is not None  # the start was kept for having one
        return Found(found, found + len(search), "indentation", _reindent(replace, delta), delta)
    found_range = _ignoring_blank_lines(lines, search)
    if found_range is not None:
        return Found(found_range[0], found_range[1], "blank-lines", replace)
    if not fuzzy:
        raise NoMatch("the SEARCH text is not in the file")
    return _fuzzy(lines, search, replace)


def _absorb_blank_edges(lines: list[str], search: list[str], found: Found) -> Found:
    """Blank lines that open or close the replacement but not the SEARCH stand for the file's own
    blank lines there (models drop them when they quote), so those are replaced, not doubled."""
    if not any(line.strip() for line in found.replacement):
        return found  # a replacement of blank lines only has no edges to speak of
    lead = _blank_run(found.replacement) - _blank_run(search)
    trail = _blank_run(found.replacement[::-1]) - _blank_run(search[::-1])
    start, end = found.start, found.end
    while lead > 0 and start > 0 and not lines[start - 1].strip():
        start, lead = start - 1, lead - 1
    while trail > 0 and end < len(lines) and not lines[end].strip():
        end, trail = end + 1, trail - 1
    if (start, end) == (found.start, found.end):
        return found
    return Found(start, end, found.how + "+blank-edges", found.replacement)


def _blank_run(lines: list[str]) -> int:
    n = 0
    while n < len(lines) and not lines[n].strip():
        n += 1
    return n


def _find_all(lines: list[str], search: list[str], norm) -> list[int]:
    """Line indexes where `search` stands once both are normalised line by line, found with a
    string search over the joined text (fast on large files)."""
    if not search:
        return []
    text = "\n".join(norm(line.rstrip("\n")) for line in lines) + "\n"
    wanted = "\n".join(norm(line.rstrip("\n")) for line in search) + "\n"
    starts, at = [], text.find(wanted)
    while at != -1:
        if at == 0 or text[at - 1] == "\n":
            starts.append(text.count("\n", 0, at))
        at = text.find(wanted, at + 1)
    return starts


def _find(lines: list[str], search: list[str], norm, how: str = "exact") -> int | None:
    return _unique(_find_all(lines, search, norm), how, len(search))


def _unique(starts: list[int], how: str, size: int) -> int | None:
    if len(starts) > 1:
        raise NoMatch(
            f"the SEARCH text matches {len(starts)} places ({how}); add lines of context so it matches one", (starts[0], starts[0] + size)
        )
    return starts[0] if starts else None


def _indent(line: str) -> str:
    return line[: len(line) - len(line.lstrip())]


def _indent_delta(window: list[str], search: list[str]) -> tuple[str, str] | None:
    """(remove, add): the same change of leading whitespace on every non-blank line, or None."""
    delta = None
    for have, want in zip(window, search, strict=False):
        if not want.strip():
            continue
        a, b = _indent(have), _indent(want)
        if a.endswith(b):
            this = ("", a[: len(a) - len(b)])
        elif b.endswith(a):
            this = (b[: len(b) - len(a)], "")
        else:
            return None
        if delta is not None and this != delta:
            return None
        delta = this
    return delta or ("", "")


def _reindent(replace: list[str], delta: tuple[str, str]) -> list[str]:
    remove, add = delta
    out = []
    for line in replace:
        if line.strip():
            if remove and line.startswith(remove):
                line = line[len(remove) :]
            line = add + line
        out.append(line)
    return out


def _ignoring_blank_lines(lines: list[str], search: list[str]) -> tuple[int, int] | None:
    wanted = [s.rstrip() for s in search if s.strip()]
    if not wanted:
        return None
    kept = [(i, line.rstrip()) for i, line in enumerate(lines) if line.strip()]
    texts = [t for _, t in kept]
    hits = [k for k in range(len(texts) - len(wanted) + 1) if texts[k : k + len(wanted)] == wanted]
    if len(hits) > 1:
        raise NoMatch(f"the SEARCH text matches {len(hits)} places (ignoring blank lines); add lines of context")
    if not hits:
        return None
    first, last = kept[hits[0]][0], kept[hits[0] + len(wanted) - 1][0]
    return first, last + 1


def _fuzzy(lines: list[str], search: list[str], replace: list[str]) -> Found:
    target = "".join(s.strip() + "\n" for s in search)
    size = len(search)
    wanted = {x.strip() for x in search if x.strip()}
    stripped = [line.strip() for line in lines]
    scored: list[tuple[float, int, int]] = []
    for length in {max(1, size - 1), size, size + 1}:
        for i in range(0, max(1, len(lines) - length + 1)):
            shared = len(wanted.intersection(stripped[i : i + length]))
            if wanted and shared / len(wanted) < FUZZY_SAME_LINES:
                scored.append((shared / len(wanted) * 0.5, i, i + length))  # too few lines in common to be it
                continue
            window = "".join(x + "\n" for x in stripped[i : i + length])
            matcher = difflib.SequenceMatcher(None, window, target, autojunk=False)
            bound = matcher.quick_ratio()  # an upper bound of the ratio below, cheap to compute
            if matcher.real_quick_ratio() < FUZZY_THRESHOLD or bound < FUZZY_THRESHOLD:
                scored.append((bound * 0.5, i, i + length))  # cannot reach the threshold; kept only to point at
                continue
            scored.append((_ratio(window, target), i, i + length))
    if not scored:
        raise NoMatch("the file is empty")
    scored.sort(key=lambda s: -s[0])
    best = scored[0]
    rivals = [s for s in scored[1:] if s[2] <= best[1] or s[1] >= best[2]]  # windows that do not overlap the best
    asked = [x.strip() for x in search if x.strip()]
    have = {x.strip() for x in lines[best[1] : best[2]]}
    same = sum(x in have for x in asked) / max(1, len(asked))
    threshold = FUZZY_SHORT if len(asked) <= 2 else FUZZY_THRESHOLD
    if best[0] >= threshold and same >= FUZZY_SAME_LINES and (not rivals or rivals[0][0] < best[0] - FUZZY_MARGIN):
        return Found(best[1], best[2], f"fuzzy ({best[0]:.2f})", replace)
    if best[0] >= threshold and same >= FUZZY_SAME_LINES:
        raise NoMatch("the SEARCH text is close to more than one place; copy the lines exactly", (best[1], best[2]))
    ratio, start, end = max(((_ratio("".join(x.strip() + "\n" for x in lines[a:b]), target), a, b) for _, a, b in scored[:5]))
    raise NoMatch(f"the SEARCH text is not in the file (the closest lines are {ratio:.0%} alike)", (start, end))


def apply_elided(lines: list[str], pieces: list[tuple[list[str], list[str]]]) -> list[str]:
    """The file with an elided block applied. Its pieces stand in order, each after the one before;
    a `...` right after a line that opens a block (`def a():`) stays inside that block, so it never
    runs out of one function into its sibling. Where the pieces fit several places, the block is taken only
    if every place gives the same file (an unchanged anchor that recurs); anchors that also fit a
    look-alike are refused, never guessed. A piece of blank lines only anchors nothing: where it
    changes nothing it is dropped, else the block is refused."""
    pieces = [(search, replace) for search, replace in pieces if any(x.strip() for x in search) or replace != search]
    if any(not any(x.strip() for x in search) for search, _ in pieces):
        raise NoMatch(
            "a `...` line must stand between lines of the file that anchor it; nothing in SEARCH says where the REPLACE lines beside it go"
        )
    wanted = [_candidates(lines, search, replace) for search, replace in pieces if search]
    if not wanted:
        raise NoMatch("the SEARCH text holds nothing but `...`; quote lines of the file around it")
    results: dict[str, bool] = {}  # each file a placement gives -> whether its gaps stay in one block
    for first in wanted[0]:
        placed, end, inside = [first], first[1], True
        for candidates in wanted[1:]:
            nxt = next((c for c in candidates if c[0] >= end), None)
            if nxt is None:
                break
            inside = inside and _gap_ok(lines, end, nxt[0])
            placed.append(nxt)
            end = nxt[1]
        else:
            text = "".join(_fill(lines, pieces, placed))
            results[text] = results.get(text, False) or inside
            if len(results) > 1:
                raise NoMatch("the pieces between `...` lines fit more than one place; add lines of context so they fit one", first)
    if not any(results.values()):
        raise NoMatch("the pieces between `...` lines are not found in order within one block of the file")
    return next(iter(results)).splitlines(keepends=True)


def _fill(lines: list[str], pieces, placed: list[tuple[int, int]]) -> list[str]:
    out, position, spots = [], 0, iter(placed)
    for search, replace in pieces:
        start, end = next(spots)
        piece = locate(lines[start:end], search, replace, whole_block=False)
        out += lines[position : start + piece.start] + piece.replacement
        position = start + piece.end
    return out + lines[position:]


def _candidates(lines: list[str], search: list[str], replace: list[str]) -> list[tuple[int, int]]:
    """Every (start, end) where a piece stands, whitespace aside; else its one loose match."""
    starts = _find_all(lines, search, str.strip)
    if starts:
        return [(s, s + len(search)) for s in starts]
    found = _locate(lines, search, replace)
    return [(found.start, found.end)]


def _gap_ok(lines: list[str], end: int, start: int) -> bool:
    """A gap right after a line that opens a block (the file's next line is indented deeper) stays
    inside that block; any other gap may span blocks, as quoted context does."""
    before = next((lines[i] for i in range(end - 1, -1, -1) if lines[i].strip()), "")
    gap = [line for line in lines[end:start] if line.strip()]
    opened = len(_indent(before))
    if not gap or len(_indent(gap[0])) <= opened:
        return True
    return all(len(_indent(line)) > opened for line in gap)


def _ratio(a: str, b: str) -> float:
    """How alike two texts are, 0 to 1: twice their longest common subsequence over their lengths
    (rapidfuzz's C++ Indel ratio; difflib's block matching took seconds on long windows)."""
    return fuzz.ratio(a, b) / 100


def split_elided(search: list[str], replace: list[str]) -> list[tuple[list[str], list[str]]] | None:
    """SEARCH and REPLACE cut at their `...` lines into matching pieces, or None without any."""
    s_parts, r_parts = _cut(search), _cut(replace)
    if len(s_parts) == 1:
        return None
    if len(s_parts) != len(r_parts):
        raise NoMatch("SEARCH and REPLACE must hold the same number of `...` lines")
    return list(zip(s_parts, r_parts, strict=False))


def _cut(lines: list[str]) -> list[list[str]]:
    parts: list[list[str]] = [[]]
    for line in lines:
        if ELISION.match(line):
            parts.append([])
        else:
            parts[-1].append(line)
    return parts
