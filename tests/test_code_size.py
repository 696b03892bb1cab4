"""Small rooms: no module of the package over 400 lines, no function body over 60 (issue 39), as
ruff formats them. A module
that grows past this is two concepts; a function, two steps that want names."""

import ast
from pathlib import Path

import tether

SRC = Path(tether.__file__).parent
MAX_MODULE, MAX_FUNCTION = 400, 60


def test_no_module_is_over_400_lines():
    big = {str(p.relative_to(SRC)): n for p in SRC.rglob("*.py") if (n := len(p.read_text().splitlines())) > MAX_MODULE}
    assert not big, f"modules over {MAX_MODULE} lines: {big}"


def test_no_function_is_over_60_lines():
    long = []
    for path in SRC.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            # the body, as formatted: a command's options (typer) are declarations in its signature
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and (n := node.end_lineno - node.body[0].lineno + 1) > MAX_FUNCTION:
                long.append(f"{path.relative_to(SRC)}:{node.lineno} {node.name} ({n} lines)")
    assert not long, f"functions over {MAX_FUNCTION} lines: {long}"
