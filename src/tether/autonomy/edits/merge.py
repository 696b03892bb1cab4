"""A block applied as a three-way merge: SEARCH is the base, the file's matched window is ours, and
REPLACE is theirs. Lines the model did not change keep the file's current text, even where the
model quoted an older version of them (stale context is never written back); a line the model
changed that also differs in the file is a conflict, and the block is refused.

Ours is compared with the base ignoring whitespace, since the matcher found the window that way;
theirs is compared exactly (trailing whitespace aside), since a change of indentation or spacing
by the model is a change it meant."""

from __future__ import annotations

import difflib


class Conflict(Exception):
    def __init__(self, message: str, at: int):
        super().__init__(message)
        self.at = at  # index into ours of the first conflicting line


def _loose(line: str) -> str:
    return " ".join(line.split())


def _exact(line: str) -> str:
    return line.rstrip()


def merge(base: list[str], ours: list[str], theirs: list[str]) -> list[str]:
    if ours == base:
        return list(theirs)
    to_ours = _matches(base, ours, _loose, pair_replaced=True)
    to_theirs = _matches(base, theirs, _exact)
    out: list[str] = []
    b0 = o0 = t0 = 0
    for b in range(len(base)):
        if b in to_ours and b in to_theirs:
            o, t = to_ours[b], to_theirs[b]
            out += _chunk(base[b0:b], ours[o0:o], theirs[t0:t], o0, _blank_edges(ours, o0, o, theirs))
            out.append(ours[o])
            b0, o0, t0 = b + 1, o + 1, t + 1
    out += _chunk(base[b0:], ours[o0:], theirs[t0:], o0, _blank_edges(ours, o0, len(ours), theirs))
    return out


def _matches(a: list[str], b: list[str], key, pair_replaced: bool = False) -> dict[int, int]:
    """Line i of a -> line j of b where they are the same; with `pair_replaced`, also where a run of
    lines was replaced by as many others (the file's newer version of lines the model quoted)."""
    matcher = difflib.SequenceMatcher(None, [key(x) for x in a], [key(x) for x in b], autojunk=False)
    pairs = {}
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal" or (pair_replaced and op == "replace" and i2 - i1 == j2 - j1):
            pairs.update({i1 + k: j1 + k for k in range(i2 - i1)})
    return pairs


def _same(a: list[str], b: list[str], key) -> bool:
    return [key(x) for x in a] == [key(x) for x in b]


def _only_dropped(base: list[str], ours: list[str], theirs: list[str]) -> bool:
    """Ours is base less some lines, none of which theirs keeps."""
    keys_b, keys_o, keys_t = [_loose(x) for x in base], [_loose(x) for x in ours], set(_loose(x) for x in theirs)
    at = 0
    dropped = []
    for key in keys_b:
        if at < len(keys_o) and keys_o[at] == key:
            at += 1
        else:
            dropped.append(key)
    return at == len(keys_o) and not any(k in keys_t for k in dropped if k)


def _nonblank(lines: list[str]) -> list[str]:
    return [_loose(x) for x in lines if x.strip()]


def _blank_edges(ours: list[str], start: int, end: int, theirs: list[str]) -> tuple[bool, bool, bool]:
    """Whether the file's lines just before and just after ours[start:end] are blank, and whether
    the model writes blank lines anywhere in its REPLACE (then one it leaves out may be meant)."""
    return start > 0 and not ours[start - 1].strip(), end < len(ours) and not ours[end].strip(), any(not x.strip() for x in theirs)


def _with_file_blanks(base: list[str], ours: list[str], theirs: list[str], edges: tuple[bool, bool, bool], at: int) -> list[str]:
    """Theirs, with the blank lines that the file has and the quote left out put back beside the
    same neighbours (where the model kept them, and gave no blank line of its own there); blank
    lines the quote has and the file lacks are dropped from theirs."""
    unsure = Conflict("the SEARCH text leaves out the file's blank lines where the REPLACE changes lines; quote the blank lines too", at)
    if not base:  # both insert here, the file only blank lines
        if any(not x.strip() for x in theirs):  # the model placed blank lines of its own
            if edges[0] or edges[1]:
                raise unsure  # inside a longer blank run of the file: which part of it goes where?
            return theirs
        if edges[2]:
            raise unsure  # the model writes blank lines elsewhere: leaving these out may be meant
        return ours + theirs if edges[0] else theirs + ours  # the file's blank run stays whole
    if not any(x.strip() for x in base + ours + theirs):  # only blank lines: the model's change in their number
        return ours[: max(0, len(ours) + len(theirs) - len(base))]
    to_theirs = _matches(base, theirs, _exact)
    before: dict[int, list[str]] = {}  # theirs index -> blank lines to put before it
    after: dict[int, list[str]] = {}
    dropped: set[int] = set()
    loose = difflib.SequenceMatcher(None, [_loose(x) for x in base], [_loose(x) for x in ours], autojunk=False)
    for op, b1, b2, o1, o2 in loose.get_opcodes():
        if op in ("delete", "replace"):  # blank lines of the quote that the file does not have
            dropped.update(to_theirs[b] for b in range(b1, b2) if b in to_theirs and not base[b].strip())
        if op in ("insert", "replace"):
            run = [x for x in ours[o1:o2] if not x.strip()]
            if b1 - 1 in to_theirs and b1 - 1 >= 0:
                j = to_theirs[b1 - 1]
                if j + 1 >= len(theirs) or theirs[j + 1].strip():
                    after.setdefault(j, []).extend(run)
            elif b2 in to_theirs:
                j = to_theirs[b2]
                if j == 0 or theirs[j - 1].strip():
                    before.setdefault(j, []).extend(run)
            elif not theirs:
                return run  # the model removed the lines: the file's blank lines stand once
            elif b1 == len(base) and theirs[-1].strip():  # at the end of the chunk: beside the line that follows it
                after.setdefault(len(theirs) - 1, []).extend(run)
            elif b2 == 0 and theirs[0].strip():
                before.setdefault(0, []).extend(run)
    if edges[2] and (any(before.values()) or any(after.values())):
        raise unsure  # the model writes blank lines elsewhere: leaving these out may be meant
    out = []
    for j, line in enumerate(theirs):
        out += before.get(j, []) + ([] if j in dropped else [line]) + after.get(j, [])
    return out


def _chunk(
    base: list[str], ours: list[str], theirs: list[str], at: int, edges: tuple[bool, bool, bool] = (False, False, False)
) -> list[str]:
    if _same(theirs, base, _exact):
        return ours  # the model left it alone: the file's text stands
    if _same(ours, base, _loose):
        return theirs  # the file is as the model saw it: the model's change
    if _same(ours, theirs, _loose):
        return theirs  # both made the same change
    if _nonblank(ours) == _nonblank(base):
        return _with_file_blanks(base, ours, theirs, edges, at)  # the file only has blank lines that the quote left out
    if len(base) == len(ours) == len(theirs) > 1:  # changes side by side on different lines: line by line
        return [x for n in range(len(base)) for x in _chunk(base[n : n + 1], ours[n : n + 1], theirs[n : n + 1], at + n)]
    if _only_dropped(base, ours, theirs):
        return theirs  # the file lacks lines the model quoted, and the model drops them as well
    line = ours[0].rstrip("\n") if ours else "(nothing)"
    raise Conflict(
        f"the file's line {line.strip()!r} differs from the SEARCH text, and the REPLACE changes it too;"
        " copy the file's current lines into SEARCH",
        at,
    )
