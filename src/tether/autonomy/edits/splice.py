"""A whole Python file that leaves out some of the file's definitions is read as the definitions it
changes: each one it holds replaces the one of that name (a method inside its class), new ones are
added, and the ones it leaves out stay. A small model fixing one function writes that function
(qwen2.5-coder-1.5b wrote 250 tokens to change 3 lines); taken as the whole file, the rest would
be lost — so either the reply is refused and the time spent, or the code is."""

from __future__ import annotations

import ast
from typing import Any

__all__ = ["splice"]

_DEFS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)


def splice(path: str, current: str, reply: str) -> str | None:
    """`current` with the definitions of `reply` put in, or None where `reply` is the whole file
    (it leaves out none of the file's definitions), is not Python, or does not parse."""
    if not path.endswith((".py", ".pyi")):
        return None
    try:
        return _splice(current, reply)
    except (SyntaxError, ValueError, RecursionError, MemoryError):  # a reply nested too deep to parse is no crash: not spliced
        return None


def _splice(current: str, reply: str) -> str | None:
    old, new = ast.parse(current), ast.parse(reply)
    ours = _named(old.body)
    if not _named(new.body) or not _leaves_out(old.body, new.body):
        return None
    lines, got = current.splitlines(keepends=True), reply.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    methods = {m: c for c in ours.values() if isinstance(c, ast.ClassDef) for m in _named(c.body)}
    first_def = min((_start(n) for n in ours.values()), default=len(lines))
    edits: list[tuple[int, Any, list[str]]] = []  # (first line, last line + 1, new lines), 0-based, over `current`
    node: Any
    for node in new.body:
        text = got[_start(node) : node.end_lineno]
        name = getattr(node, "name", "")
        mine = ours.get(name)
        if isinstance(node, _DEFS) and mine is not None and isinstance(mine, ast.ClassDef) == isinstance(node, ast.ClassDef):
            if isinstance(node, ast.ClassDef) and _leaves_out(mine.body, node.body):
                edits += _into_class(mine, node.body, got)
            else:
                edits.append((_start(mine), mine.end_lineno, _indent(text, node.col_offset, mine.col_offset)))
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and name in methods:  # a method written without its class
            edits += _into_class(methods[name], [node], got)
        elif isinstance(node, _DEFS):
            edits.append((len(lines), len(lines), ["\n", "\n", *text]))
        elif isinstance(node, ast.Import | ast.ImportFrom):
            if "".join(text).strip() not in current:
                at = max((n.end_lineno or 0 for n in old.body if isinstance(n, ast.Import | ast.ImportFrom)), default=0)
                edits.append((at, at, text))
        elif (same := _assigned(old.body, node) or _guarded(old.body, node)) is not None:
            edits.append((_start(same), same.end_lineno, text))
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            edits.append((first_def, first_def, [*text, "\n"]))
        elif not _docstring(node) and "".join(text).strip() not in current:
            edits.append((len(lines), len(lines), ["\n", *text]))
    out = _apply(lines, edits)
    return out if out is not None and ast.parse(out) else None


def _named(body: list) -> dict[str, Any]:
    return {n.name: n for n in body if isinstance(n, _DEFS)}


def _leaves_out(ours: list, theirs: list) -> bool:
    """Whether `theirs` lacks a definition of `ours`, or a method of a class both define."""
    mine, got = _named(ours), _named(theirs)
    return any(
        name not in got
        or (isinstance(node, ast.ClassDef) and isinstance(got[name], ast.ClassDef) and _leaves_out(node.body, got[name].body))
        for name, node in mine.items()
    )


def _start(node) -> int:
    """0-based first line of a node, its decorators included."""
    return min([node.lineno, *(d.lineno for d in getattr(node, "decorator_list", []))]) - 1


def _into_class(mine: ast.ClassDef, items: list, got: list[str]) -> list:
    """The methods (and class-level names) of the reply's `items` put into the class `mine`."""
    ours = _named(mine.body)
    inner = mine.body[0].col_offset
    edits: list[tuple[Any, Any, list[str]]] = []
    for item in items:
        text = _indent(got[_start(item) : item.end_lineno], item.col_offset, inner)
        same = ours.get(getattr(item, "name", "")) if isinstance(item, _DEFS) else _assigned(mine.body, item)
        if same is not None:
            edits.append((_start(same), same.end_lineno, text))
        elif isinstance(item, _DEFS):
            edits.append((mine.end_lineno, mine.end_lineno, ["\n", *text]))
        elif not _docstring(item):
            first = min((_start(n) for n in ours.values()), default=mine.end_lineno)
            edits.append((first, first, text))
    return edits


def _docstring(node) -> bool:
    return isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)


def _assigned(body: list, node) -> Any:
    """The statement of `body` that assigns the one name `node` assigns."""
    name = _target(node)
    return next((n for n in body if isinstance(n, ast.Assign | ast.AnnAssign) and _target(n) == name), None) if name else None


def _guarded(body: list, node) -> Any:
    """The `if` of `body` with the same test as `node` (an `if __name__ == "__main__":` block)."""
    if not isinstance(node, ast.If):
        return None
    return next((n for n in body if isinstance(n, ast.If) and ast.unparse(n.test) == ast.unparse(node.test)), None)


def _target(node) -> str | None:
    if not isinstance(node, ast.Assign | ast.AnnAssign):
        return None
    targets = node.targets if isinstance(node, ast.Assign) else [node.target]
    return targets[0].id if len(targets) == 1 and isinstance(targets[0], ast.Name) else None


def _indent(text: list[str], have: int, want: int) -> list[str]:
    """Lines moved from indentation `have` to `want` (blank lines as they are)."""
    shift = want - have
    if shift >= 0:
        return [" " * shift + line if line.strip() else line for line in text]
    return [line[min(-shift, len(line) - len(line.lstrip(" "))) :] for line in text]


def _apply(lines: list[str], edits: list[tuple[int, int, list[str]]]) -> str | None:
    """The edits made from the bottom up; two that replace overlapping lines make the reply ambiguous."""
    edits = sorted(edits, key=lambda e: (e[0], e[1]))
    if any(b[0] < a[1] for a, b in zip(edits, edits[1:], strict=False)):
        return None
    out = list(lines)
    for start, end, text in reversed(edits):
        out[start:end] = [t if t.endswith("\n") else t + "\n" for t in text]
    return "".join(out)
