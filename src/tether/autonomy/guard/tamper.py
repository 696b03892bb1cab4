"""What a change does to the project's tests. The checks are how an unreviewed change is judged,
so a change that deletes or renames a test file, removes or rewrites its test functions or
assertions, or skips tests games them: a model told by a file that "the tests are obsolete"
would pass its checks by weakening them. Such a change is held for a person at every level.

So is a change to what every test means (a conftest.py, the test runner's settings, a plugin
list), and, in a test file that was there before, a change to what its tests run against: a
name the tests use rebound (`add = lambda a, b: a + b` after `from calc import add`), code
added that runs at import or around every test, or a test function or its data rewritten.
New test files and new test functions stay free: they only add checks.

Which files are tests is decided here, once (`is_test`)."""

from __future__ import annotations

import ast
import builtins
import configparser
import difflib
import json
import re
import tomllib
from collections import Counter
from pathlib import PurePosixPath
from typing import Iterable

__all__ = ["RULE", "is_test", "weakened", "reason"]

RULE = "tests weakened"  # the leash rule a held change names

TEST_DIRS = frozenset({"tests", "test", "testing", "__tests__", "spec", "specs"})
_TEST_NAME = re.compile(
    r"test_.*\.py|.*_test\.py|conftest\.py|.*\.(?:test|spec)\.[cm]?[jt]sx?|.*_test\.go|.*_(?:spec|test)\.rb"
    r"|.*Tests?\.(?:java|kt|cs)"
)

# what a test is made of: removing or rewriting one weakens the tests
_KEPT = (
    ("test", re.compile(r"^(?:async\s+)?def\s+test\w*|^class\s+Test\w*|^func\s+Test\w*\(|^(?:it|test|describe)\s*\(")),
    (
        "assertion",
        re.compile(r"\bassert\b|\bself\.assert\w*\s*\(|\bexpect\s*\(|\bpytest\.raises\s*\(|\bassert\w*\s*\(|\bt\.(?:Error|Fatal)"),
    ),
)
# what switches tests off or narrows them to a few: adding one weakens the tests
_SKIP = re.compile(
    r"\bmark\.(?:skip|skipif|xfail)\b|\bpytest\.(?:skip|xfail|importorskip)\b|\bunittest\.skip\w*|@skip\w*"
    r"|\bskipTest\s*\(|\bSkipTest\b|\bexpectedFailure\b|\b(?:it|test|describe|context|this)\.(?:skip|only)\b"
    r"|^(?:xit|xtest|xdescribe|fit|fdescribe)\s*\("
    r"|\bt\.Skip\w*\("
)
# what loads code into every test run, or mocks a module for a whole file: adding one changes what the tests mean
_ADDED = (
    ("skip added", _SKIP, False),
    ("plugin added", re.compile(r"^pytest_plugins\b"), False),
    ("module mocked for the whole file", re.compile(r"\b(?:jest|vi)\.(?:mock|doMock|unstable_mockModule)\s*\("), True),
)
# files that configure every test: any change to one is held
_CONFIG = re.compile(r"conftest\.py|\.?pytest\.(?:ini|toml)|tox\.ini|(?:jest|vitest)\.(?:config|setup|workspace)\.(?:[cm]?[jt]sx?|json)")
# names a test module gives to its runner: binding one changes how its tests run
_RUNNER = re.compile(
    r"pytest_\w+|pytestmark|collect_ignore(?:_glob)?|(?:setup|teardown)(?:_module|_function|_method|_class)?"
    r"|setUp\w*|tearDown\w*|__\w+__"
)
# calls a test module may make at import time: marks, fixtures and patches scoped to a test, and plain values
_CALLS = re.compile(
    r"(?:pytest\.)?(?:mark\.\w+(?:\.with_args)?|fixture|param|approx)|(?:(?:unittest\.)?mock\.)?patch(?:\.object|\.dict|\.multiple)?"
    r"|(?:pathlib\.)?Path|staticmethod|classmethod|property|dict|list|tuple|set|frozenset|range|zip|enumerate|sorted|reversed|str|int|float|bool|bytes|len|min|max|sum|abs|round"
)
_LIBRARIES = frozenset({"pytest", "_pytest", "unittest", "mock", "pathlib"})  # where the allowed calls come from
_DEFS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
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
        if configured := _configuration(rel, before, after):
            found.append(f"{rel}: {configured}")
        elif not is_test(rel):
            continue
        elif after is None and before is not None:
            moved = created.get(before)
            found.append(f"{rel} is renamed to {moved}" if moved else f"{rel} is deleted")
        elif after is not None:
            found += [f"{rel}: {what}" for what in _lines(before or "", after) or _rewritten(rel, before, after)]
    return found


def reason(found: list[str]) -> str:
    """The leash's reason for holding a change that weakens the tests (its first few findings)."""
    more = f"; and {len(found) - _LISTED} more" if len(found) > _LISTED else ""
    return "the change weakens the tests, so a person must see it: " + "; ".join(found[:_LISTED]) + more


def _lines(before: str, after: str) -> list[str]:
    """Test lines removed or rewritten, and skips, plugins or whole-file mocks added, between two
    texts of one test file (mocks only count in a file that was there)."""
    old, new = _live(before), _live(after)
    found = []
    for kind, pattern in _KEPT:
        gone = Counter(line for line in old if pattern.search(line)) - Counter(new)
        found += _described(gone, f"{kind} removed or changed")
    for what, pattern, existing in _ADDED:
        if before or not existing:
            found += _described(Counter(line for line in new if pattern.search(line)) - Counter(old), what)
    return found


def _configuration(rel: str, before: str | None, after: str | None) -> str:
    """Why a change to `rel` changes what every test means ('' when it does not): a conftest.py
    or a test runner's config file, or the test section of a file shared with other tools."""
    name = PurePosixPath(rel).name
    if _CONFIG.fullmatch(name) and before != after:
        how = "added" if before is None else "deleted" if after is None else "changed"
        return f"test configuration {how}, which changes what every test means"
    label, read = _SETTINGS.get(name, ("", None))
    if read is not None and _section(before, read) != _section(after, read):
        return f"the test settings ({label}) changed, which changes what every test means"
    return ""


def _section(text: str | None, read) -> object:
    """The test settings `read` finds in a config file's text; the text itself when it cannot be read."""
    try:
        return None if text is None else read(text)
    except (ValueError, KeyError, TypeError, AttributeError, configparser.Error):  # tomllib and json errors are ValueErrors
        return text


def _setup_cfg(text: str) -> object:
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    parser.read_string(text)
    return dict(parser["tool:pytest"]) if parser.has_section("tool:pytest") else None


def _package_json(text: str) -> object:
    data = json.loads(text)
    return data.get("jest"), (data.get("scripts") or {}).get("test")


_SETTINGS = {  # a config file shared with other tools: the label and reader of its test settings
    "setup.cfg": ("[tool:pytest]", _setup_cfg),
    "pyproject.toml": ("[tool.pytest]", lambda text: tomllib.loads(text).get("tool", {}).get("pytest")),
    "package.json": ('"jest" and the "test" script', _package_json),
}


def _rewritten(rel: str, before: str | None, after: str) -> list[str]:
    """In a test file that was there: what changes what its tests run against (Python, read as
    code), or any line removed or changed (other files, whose lines are the tests and their data)."""
    if before is None:
        return []
    if rel.endswith(".py"):
        try:
            old, new = ast.parse(before), ast.parse(after)
        except (SyntaxError, ValueError):  # code that does not parse fails its tests rather than weakening them
            pass
        else:
            return _body(old.body, new.body, after, (_used(old), _origins(old.body)))
    return _described(Counter(_live(before)) - Counter(_live(after)), "line removed or changed")


def _body(old: list, new: list, text: str, seen: tuple) -> list[str]:
    """What a module's or test class's statements do, beyond adding tests: statements added that
    rebind a used name or run code, definitions rewritten, statements removed."""
    left = Counter(map(ast.dump, old))
    defs = {s.name: s for s in old if isinstance(s, _DEFS)}
    found = []
    for stmt in new:
        if left[key := ast.dump(stmt)] > 0:
            left[key] -= 1
            continue
        was = defs.pop(getattr(stmt, "name", ""), None)
        if was is not None and type(was) is type(stmt):
            found += _redefined(was, stmt, text, seen)
        else:
            found += _added(stmt, text, seen)
    for stmt in old:  # what is left was removed (an import, a docstring or a pass only fail the tests that need them)
        if left[key := ast.dump(stmt)] <= 0:
            continue
        left[key] -= 1
        if (
            _binds(stmt) != set()
            and not isinstance(stmt, (ast.Import, ast.ImportFrom))
            and (not isinstance(stmt, _DEFS) or stmt.name in defs)
        ):
            found += _described(Counter([_first(stmt, None)]), "removed")
    return found


def _redefined(was, now, text: str, seen: tuple) -> list[str]:
    """A definition that was there, rewritten: a test class may gain tests, a test function
    assertions on calls it made; any other rewrite changes the test or what it runs against."""
    if was.name.startswith("Test") and isinstance(now, ast.ClassDef) and _head(was) == _head(now):
        return _body(was.body, now.body, text, seen)
    if _is_test(was.name) and not isinstance(now, ast.ClassDef) and _head(was) == _head(now):
        calls = {_dotted(n.func) for n in ast.walk(was) if isinstance(n, ast.Call)} - {None}
        ops = difflib.SequenceMatcher(None, [ast.dump(s) for s in was.body], [ast.dump(s) for s in now.body], autojunk=False).get_opcodes()
        if all(tag == "equal" or tag == "insert" and all(_checks(s, calls) for s in now.body[j1:j2]) for tag, _, _, j1, j2 in ops):
            return []
    what = "test changed" if _is_test(was.name) else "definition the tests use changed (it changes what they run against)"
    return _described(Counter([_first(now, text)]), what)


def _added(stmt, text: str, seen: tuple) -> list[str]:
    """A statement new to a test file that was there: free when it adds tests, binds names its
    tests never used with plain values, or imports a name again from where it came; else it
    changes what the tests run against. `seen`: the old module's names and import origins."""
    names, (used, origins) = _binds(stmt), seen
    if names is None or _runs(stmt):
        return _described(Counter([_first(stmt, text)]), "code added that runs at import or around every test")
    imported = dict(_origins([stmt]))
    names -= {n for n, origin in imported.items() if (n, origin) in origins}
    if rebound := sorted(n for n in names if n in used or n in vars(builtins) or _RUNNER.fullmatch(n) or not _trusted(n, imported.get(n))):
        return _described(Counter([_first(stmt, text)]), f"`{rebound[0]}` rebound, which changes what the tests run against")
    return []


def _binds(stmt) -> set[str] | None:
    """The names a plain top-level statement binds; None for anything else (a call, a loop, a patch)."""
    if isinstance(stmt, (ast.Import, ast.ImportFrom)):
        return None if any(a.name == "*" for a in stmt.names) else {(a.asname or a.name).split(".")[0] for a in stmt.names}
    if isinstance(stmt, _DEFS):
        return {stmt.name}
    targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target] if isinstance(stmt, (ast.AnnAssign, ast.AugAssign)) else None
    if targets is not None:
        names = [n for t in targets for n in ast.walk(t) if not isinstance(n, (ast.Tuple, ast.List, ast.Store))]
        return {n.id for n in names} if all(isinstance(n, ast.Name) for n in names) else None
    return set() if isinstance(stmt, ast.Pass) or isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant) else None


def _runs(stmt) -> bool:
    """Whether defining or assigning `stmt` runs code beyond the allowed calls (decorators,
    defaults, annotations, base classes, values, a class's body) or marks a fixture autouse."""
    if isinstance(stmt, ast.ClassDef):  # a metaclass or a dunder (__init_subclass__, __new__) runs code as classes are made
        return (
            bool(stmt.keywords)
            or not all(map(_decorates, stmt.decorator_list))
            or not all(map(_inert, stmt.bases))
            or any(_binds(s) is None or _runs(s) or re.fullmatch(r"__\w+__", getattr(s, "name", "")) for s in stmt.body)
        )
    if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
        a = stmt.args
        parts = [
            *a.defaults,
            *a.kw_defaults,
            stmt.returns,
            *(arg.annotation for arg in [*a.posonlyargs, *a.args, *a.kwonlyargs, a.vararg, a.kwarg] if arg is not None),
        ]
        return not all(_inert(p) for p in parts if p is not None) or not all(map(_decorates, stmt.decorator_list))
    return not all(_inert(p) for p in (getattr(stmt, "value", None), getattr(stmt, "annotation", None)) if p is not None)


def _inert(node) -> bool:
    """Whether evaluating an expression calls only the allowed (no walrus, no autouse fixture)."""
    for n in ast.walk(node):
        if isinstance(n, (ast.NamedExpr, ast.Await, ast.Yield, ast.YieldFrom)):
            return False
        if isinstance(n, ast.Call) and (
            not _CALLS.fullmatch(_dotted(n.func) or "")
            or any(k.arg == "autouse" and not (isinstance(k.value, ast.Constant) and not k.value.value) for k in n.keywords)
        ):
            return False
    return True


def _trusted(name: str, origin: str | None) -> bool:
    """Whether binding `name` (imported from `origin`, None when not imported) leaves the allowed
    calls what they say: a local `patch` or `pytest` would run its own code as a decorator."""
    if name not in _LIBRARIES and name != "mark" and not _CALLS.fullmatch(name):
        return True
    return origin is not None and re.split(r"[.:]", origin)[0] in _LIBRARIES


def _decorates(node) -> bool:
    """Whether a decorator is one of the allowed calls (a decorator is called even when written without parentheses)."""
    return _inert(node) if isinstance(node, ast.Call) else bool(_CALLS.fullmatch(_dotted(node) or ""))


def _origins(stmts: list) -> set[tuple[str, str]]:
    """(name, where it is imported from) for each import among `stmts`."""
    found = set()
    for s in stmts:
        if isinstance(s, ast.ImportFrom):
            found.update((a.asname or a.name, f"{'.' * s.level}{s.module or ''}:{a.name}") for a in s.names)
        elif isinstance(s, ast.Import):
            found.update((a.asname or a.name.split(".")[0], a.name if a.asname else a.name.split(".")[0]) for a in s.names)
    return found


def _checks(stmt, calls: set) -> bool:
    """Whether a statement added to a test only asserts, calling what the test called already."""
    return (
        isinstance(stmt, ast.Assert)
        and not any(isinstance(n, ast.NamedExpr) for n in ast.walk(stmt))
        and all(_dotted(n.func) in calls for n in ast.walk(stmt) if isinstance(n, ast.Call))
    )


def _used(tree) -> set[str]:
    """Every name a module binds or uses, its parameters (fixtures), and the words of its strings
    (fixtures named in marks, parametrize names): what an added binding must not shadow."""
    names = set()
    for n in ast.walk(tree):
        if isinstance(n, ast.Name):
            names.add(n.id)
        elif isinstance(n, ast.arg):
            names.add(n.arg)
        elif isinstance(n, _DEFS):
            names.add(n.name)
        elif isinstance(n, ast.alias):
            names.add((n.asname or n.name).split(".")[0])
        elif isinstance(n, ast.Constant) and isinstance(n.value, str):
            names.update(re.findall(r"[A-Za-z_]\w*", n.value))
    return names


def _head(node) -> str:
    """A definition without its body: name, decorators, parameters, bases."""
    return ast.dump(type(node)(**{f: ([] if f == "body" else getattr(node, f, None)) for f in node._fields}))


def _dotted(node) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute) and (base := _dotted(node.value)):
        return f"{base}.{node.attr}"
    return None


def _is_test(name: str) -> bool:
    return name.startswith(("test", "Test"))


def _first(stmt, text: str | None) -> str:
    """A statement's first line, as quoted in a finding."""
    if isinstance(stmt, _DEFS):
        return f"{'class' if isinstance(stmt, ast.ClassDef) else 'def'} {stmt.name}"
    segment = ast.get_source_segment(text, stmt) if text else None
    return (segment or ast.unparse(stmt)).strip().splitlines()[0]


def _live(text: str) -> list[str]:
    """The lines of a text that are code (stripped), not blank lines or comments."""
    return [s for line in text.splitlines() if (s := line.strip()) and not s.startswith(_COMMENT)]


def _described(lines: Counter, what: str) -> list[str]:
    return [f"{what}: `{line[:_SHOWN]}{'…' if len(line) > _SHOWN else ''}`" for line in lines.elements()]
