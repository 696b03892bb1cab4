"""Imports only go down the floors of DESIGN.md: faces → autonomy → context → grid → ground."""

import ast
from pathlib import Path

import tether

SRC = Path(tether.__file__).parent
FLOORS = {"ground": 0, "llm": 1, "context": 2, "autonomy": 3, "faces": 4}
FACES = {"cli", "web", "mcp", "__main__"}


def floor(module: str) -> int:
    """The floor of a dotted module name inside tether."""
    parts = module.split(".")[1:]
    if not parts:
        return 0
    head = parts[0]
    if head in FACES:
        return FLOORS["faces"]
    return FLOORS.get(head, FLOORS["ground"])


def imports(path: Path, module: str) -> list[str]:
    tree = ast.parse(path.read_text())
    package = module.rsplit(".", 1)[0] if path.name != "__init__.py" else module
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [a.name for a in node.names if a.name.startswith("tether")]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                targets = [".".join(base + [node.module])] if node.module else [".".join(base + [a.name]) for a in node.names]
            else:
                targets = [node.module or ""]  # `from .. import web` names the module `web`, not the package above it
            found += [t for t in targets if t.startswith("tether")]
    return found


def test_no_module_imports_a_floor_above_its_own():
    wrong = []
    for path in SRC.rglob("*.py"):
        rel = path.relative_to(SRC.parent).with_suffix("")
        module = ".".join(rel.parts[:-1] if rel.name == "__init__" else rel.parts)
        for target in imports(path, module):
            if floor(target) > floor(module) and not (target == "tether" and floor(module) == 0):
                wrong.append(f"{module} imports {target}")
    assert wrong == []


def test_a_relative_import_of_a_module_is_judged_by_that_module(tmp_path):
    upward = tmp_path / "tether" / "context" / "x.py"
    upward.parent.mkdir(parents=True)
    upward.write_text("from .. import web\nfrom ..autonomy import agent\n")
    assert [floor(t) for t in imports(upward, "tether.context.x")] == [FLOORS["faces"], FLOORS["autonomy"]]
