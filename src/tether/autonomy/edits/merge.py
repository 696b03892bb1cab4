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
    to_ours = _matches(base, ours, _loose)
    to_theirs = _matches(base, theirs, _exact)
    out: list[str] = []
    b0 = o0 = t0 = 0
    for b in range(len(base)):
        if b in to_ours and b in to_theirs:
            o, t = to_ours[b], to_theirs[b]
            out += _chunk(base[b0:b], ours[o0:o], theirs[t0:t], o0)
            out.append(ours[o])
            b0, o0, t0 = b + 1, o + 1, t + 1
    out += _chunk(base[b0:], ours[o0:], theirs[t0:], o0)
    return out


def _matches(a: list[str], b: list[str], key) -> dict[int, int]:
    matcher = difflib.SequenceMatcher(None, [key(x) for x in a], [key(x) for x in b], autojunk=False)
    return {i + k: j + k for i, j, size in matcher.get_matching_blocks() for k in range(size)}


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


def _keep_blank_edges(ours: list[str], theirs: list[str]) -> list[str]:
    """The model's lines, with the file's blank lines around them where the model gave none."""
    lead = next((n for n, x in enumerate(ours) if x.strip()), len(ours))
    trail = next((n for n, x in enumerate(reversed(ours)) if x.strip()), 0) if lead < len(ours) else 0
    if not theirs:
        return ours[:lead]
    head = ours[:lead] if theirs[0].strip() else []
    tail = ours[len(ours) - trail:] if trail and theirs[-1].strip() else []
    return head + theirs + tail


def _chunk(base: list[str], ours: list[str], theirs: list[str], at: int) -> list[str]:
    if _same(theirs, base, _exact):
        return ours  # the model left it alone: the file's text stands
    if _same(ours, base, _loose):
        return theirs  # the file is as the model saw it: the model's change
    if _same(ours, theirs, _loose):
        return theirs  # both made the same change
    if _nonblank(ours) == _nonblank(base):
        return _keep_blank_edges(ours, theirs)  # the file only has blank lines that the quote left out
    if _only_dropped(base, ours, theirs):
        return theirs  # the file lacks lines the model quoted, and the model drops them as well
    line = ours[0].rstrip("\n") if ours else "(nothing)"
    raise Conflict(f"the file's line {line.strip()!r} differs from the SEARCH text, and the REPLACE changes it too;"
                   " copy the file's current lines into SEARCH", at)
