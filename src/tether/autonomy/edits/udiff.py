"""Unified diffs, as `git diff` writes them or as a model approximates them: hunk line numbers
may be wrong or missing (`@@ ... @@`), since each hunk is matched by its text, not its numbers.
`--- /dev/null` creates a file, `+++ /dev/null` deletes one, different paths rename it."""

from __future__ import annotations

import re

from .model import Edit

PROMPT = """\
To change files, reply with a unified diff in a ```diff fence, as `git diff` prints it:

```diff
--- a/path/to/file.py
+++ b/path/to/file.py
@@ -10,4 +10,4 @@
 unchanged line for context
-a line to remove
+a line to add
 more context
```

Give two or three lines of context around each change. Use `--- /dev/null` for a new file and
`+++ /dev/null` to delete one.
"""

_OLD = re.compile(r"^--- (?!-)\s*(.+?)\s*$")
_NEW = re.compile(r"^\+\+\+ (?!\+)\s*(.+?)\s*$")
_HUNK = re.compile(r"^@@")


def parse(reply: str) -> list[Edit]:
    lines = reply.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    edits: list[Edit] = []
    n = 0
    while n < len(lines) - 1:
        old, new = _OLD.match(lines[n]), _NEW.match(lines[n + 1])
        if not (old and new):
            n += 1
            continue
        start = n
        source, target = _strip(old.group(1)), _strip(new.group(1))
        n += 2
        hunks: list[list[str]] = []
        while n < len(lines) and not (_OLD.match(lines[n]) and n + 1 < len(lines) and _NEW.match(lines[n + 1])):
            line = lines[n]
            if _HUNK.match(line):
                hunks.append([])
            elif line.startswith(("```", "~~~")):
                break
            elif hunks and (line[:1] in (" ", "-", "+") or line == ""):
                hunks[-1].append(line)
            elif line.startswith("\\"):  # "\ No newline at end of file"
                pass
            elif hunks:
                break
            n += 1
        block = len(edits) + 1
        if source == "/dev/null":
            body = [h[1:] for hunk in hunks for h in hunk if h.startswith("+")]
            edits.append(
                Edit(target, "create", replace="\n".join(body) + "\n" if body else "", block=block, line=start + 1, format="udiff")
            )
        elif target == "/dev/null":
            edits.append(Edit(source, "delete", block=block, line=start + 1, format="udiff"))
        else:
            if target != source:
                edits.append(Edit(source, "rename", new_path=target, block=block, line=start + 1, format="udiff"))
            for hunk in hunks:
                search, replace = _sides(hunk)
                if search or replace:
                    edits.append(
                        Edit(
                            target,
                            "replace" if search.strip() else "append",
                            search=search,
                            replace=replace,
                            block=len(edits) + 1,
                            line=start + 1,
                            format="udiff",
                        )
                    )
    return edits


def _strip(path: str) -> str:
    path = path.split("\t")[0].strip()
    return path[2:] if path.startswith(("a/", "b/")) else path


def _sides(hunk: list[str]) -> tuple[str, str]:
    while hunk and hunk[-1] == "":
        hunk = hunk[:-1]  # blank lines after the last hunk line are the reply's, not the diff's
    old = [h[1:] for h in hunk if h[:1] in (" ", "-") or h == ""]
    new = [h[1:] for h in hunk if h[:1] in (" ", "+") or h == ""]
    join = lambda part: "\n".join(part) + "\n" if part else ""  # noqa: E731
    return join(old), join(new)
