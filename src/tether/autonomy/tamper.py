"""What a change does to the project's tests. The checks are how an unreviewed change is judged,
so a change that deletes or renames a test file, removes or rewrites its test functions or
assertions, or skips tests games them: a model told by a file that "the tests are obsolete"
would pass its checks by weakening them. Such a change is held for a person at every level.

Which files are tests is decided here, once (`is_test`)."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import PurePosixPath
from typing import Iterable

__all__ = ["RULE", "is_test", "weakened", "reason"]

RULE = "tests weakened"  # the leash rule a held change names

TEST_DIRS = frozenset({"tests", "test", "testing", "__tests__", "spec", "specs"})
_TEST_NAME = re.compile(r"test_.*\.py|.*_test\.py|conftest\.py|.*\.(?:test|spec)\.[cm]?[jt]sx?|.*_test\.go|.*_(?:spec|test)\.rb"
                        r"|.*Tests?\.(?:java|kt|cs)")

# what a test is made of: removing or rewriting one weakens the tests
_KEPT = (
    ("test", re.compile(r"^(?:async\s+)?def\s+test\w*|^class\s+Test\w*|^func\s+Test\w*\(|^(?:it|test|describe)\s*\(")),
    ("assertion", re.compile(r"\bassert\b|\bself\.assert\w*\s*\(|\bexpect\s*\(|\bpytest\.raises\s*\(|\bassert\w*\s*\(|\bt\.(?:Error|Fatal)")),
)
# what switches tests off or narrows them to a few: adding one weakens the tests
_SKIP = re.compile(r"\bmark\.(?:skip|skipif|xfail)\b|\bpytest\.(?:skip|xfail|importorskip)\b|\bunittest\.skip\w*|@skip\w*"
                   r"|\bskipTest\s*\(|\bSkipTest\b|\bexpectedFailure\b|\b(?:it|test|describe|context|this)\.(?:skip|only)\b"
                   r"|^(?:xit|xtest|xdescribe|fit|fdescribe)\s*\("
                   r"|\bt\.Skip\w*\(")
_COMMENT = ("#", "//", "/*", "*")
_SHOWN = 60  # characters of a weakened line quoted in the reason
_LISTED = 5  # findings named in the reason


def is_test(path: str) -> bool:
    """Whether `path` (workspace-relative) is a test file: named like one, or inside a test folder."""
    parts = PurePosixPath(path).parts
    return bool(parts) and (bool(_TEST_NAME.fullmatch(parts[-1])) or any(p in TEST_DIRS for p in parts[:-1]))


def weakened(changes: Iterable[tuple[str, str | None, str | None]]) -> list[str]:
    """What a change — (path, text before, text after) per file, None for absent — weakens in
    the tests, one line each, naming the file; empty when it weakens nothing."""
    changes = list(changes)
    created = {after: rel for rel, before, after in changes if before is None and after is not None}
    found = []
    for rel, before, after in changes:
        if not is_test(rel):
            continue
        if after is None and before is not None:
            moved = created.get(before)
            found.append(f"{rel} is renamed to {moved}" if moved else f"{rel} is deleted")
        elif after is not None:
            found += [f"{rel}: {what}" for what in _lines(before or "", after)]
    return found


def reason(found: list[str]) -> str:
    """The leash's reason for holding a change that weakens the tests (its first few findings)."""
    more = f"; and {len(found) - _LISTED} more" if len(found) > _LISTED else ""
    return "the change weakens the tests, so a person must see it: " + "; ".join(found[:_LISTED]) + more


def _lines(before: str, after: str) -> list[str]:
    """Test lines removed or rewritten, and skips added, between two texts of one test file."""
    old, new = _live(before), _live(after)
    found = []
    for kind, pattern in _KEPT:
        gone = Counter(line for line in old if pattern.search(line)) - Counter(new)
        found += _described(gone, f"{kind} removed or changed")
    added = Counter(line for line in new if _SKIP.search(line)) - Counter(old)
    return found + _described(added, "skip added")


def _live(text: str) -> list[str]:
    """The lines of a text that are code (stripped), not blank lines or comments."""
    return [s for line in text.splitlines() if (s := line.strip()) and not s.startswith(_COMMENT)]


def _described(lines: Counter, what: str) -> list[str]:
    return [f"{what}: `{line[:_SHOWN]}{'…' if len(line) > _SHOWN else ''}`" for line in lines.elements()]
