"""Definitions (from tree-sitter) and the identifiers each file uses, for the languages in
`syntax.LANGUAGES`: what the repo map ranks and what search cuts chunks at."""

from __future__ import annotations

import ast
import re
from collections import Counter
from dataclasses import dataclass

from .syntax import language_of, parse

# node types that define a named symbol, per language; the name is the node's `name` field
# (or, for C-like declarators, the identifier inside its `declarator`)
DEFINITIONS = {
    "python": {"function_definition": "function", "class_definition": "class"},
    "javascript": {
        "function_declaration": "function",
        "generator_function_declaration": "function",
        "class_declaration": "class",
        "method_definition": "method",
        "variable_declarator": "variable",
    },
    "go": {"function_declaration": "function", "method_declaration": "method", "type_spec": "type"},
    "rust": {
        "function_item": "function",
        "struct_item": "struct",
        "enum_item": "enum",
        "trait_item": "trait",
        "mod_item": "module",
        "type_item": "type",
        "macro_definition": "macro",
        "function_signature_item": "function",
    },
    "java": {
        "class_declaration": "class",
        "interface_declaration": "interface",
        "enum_declaration": "enum",
        "record_declaration": "record",
        "method_declaration": "method",
        "constructor_declaration": "constructor",
    },
    "c": {"function_definition": "function", "struct_specifier": "struct", "enum_specifier": "enum", "type_definition": "type"},
}
DEFINITIONS["typescript"] = DEFINITIONS["tsx"] = {
    **DEFINITIONS["javascript"],
    "interface_declaration": "interface",
    "type_alias_declaration": "type",
    "enum_declaration": "enum",
    "abstract_class_declaration": "class",
    "method_signature": "method",
}
DEFINITIONS["cpp"] = {**DEFINITIONS["c"], "class_specifier": "class", "namespace_definition": "namespace"}
_NAMED = re.compile(
    r"`([A-Za-z_][\w.]*)(?:\(\))?`|\b([A-Za-z_]\w*(?:\.\w+)+|[A-Za-z_]\w*(?:_\w+|[a-z][A-Z]\w*)|\w+(?=\(\)))"
    r"|(?<=[a-z,;:] )([A-Z][a-z]\w*)"
)


@dataclass(frozen=True)
class Symbol:
    name: str
    kind: str
    path: str
    line: int  # 1-based first line
    end_line: int
    signature: str  # the definition's first line, stripped


@dataclass
class FileSymbols:
    path: str
    definitions: list[Symbol]
    references: dict[str, int]  # identifier -> times used in this file (definitions' own names excluded)


_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_queries: dict[str, object] = {}


def extract(path: str, text: str) -> FileSymbols | None:
    language = language_of(path)
    tree = parse(text, language) if language else None
    if tree is None:
        return None
    lines = text.splitlines()
    definitions = []
    kinds = DEFINITIONS[language]
    functions = {t for t, k in kinds.items() if k in ("function", "method", "constructor", "variable")}
    for node, name in _definitions(language, tree):
        if _inside(node, functions):
            continue  # a local helper inside a function body is not part of the file's surface
        first = node.start_point.row
        definitions.append(
            Symbol(
                name.text.decode("utf-8", "replace"),
                kinds[node.type],
                path,
                first + 1,
                node.end_point.row + 1,
                lines[first].strip() if first < len(lines) else "",
            )
        )
    definitions.sort(key=lambda s: s.line)
    # Uses are counted by a scan for identifiers: C-speed, and a name that appears in a comment
    # or a string is usually a real reference to that symbol too.
    references = Counter(_IDENTIFIER.findall(text))
    for d in definitions:
        references[d.name] -= 1
        if references[d.name] <= 0:
            del references[d.name]
    return FileSymbols(path, definitions, dict(references))


def named_in(text: str) -> list[str]:
    """The identifiers a request or question names: `in backticks`, dotted (`Console.print`),
    snake_case, camelCase, called(), or a capitalised word inside a sentence ("the Region class")."""
    return list(dict.fromkeys(next(filter(None, m.groups())) for m in _NAMED.finditer(text)))


def outline(path: str, text: str) -> str | None:
    """The file's definitions, each by its first line, bodies left out: its shape without its code."""
    found = extract(path, text)
    if found is None or not found.definitions:
        return None
    lines, out = text.splitlines(), []
    for s, after in zip(found.definitions, [*found.definitions[1:], None], strict=False):
        line = lines[s.line - 1]
        out.append(line)
        if after is None or after.line > s.end_line:  # nothing defined inside it: its body is left out
            out.append(" " * (len(line) - len(line.lstrip()) + 4) + "...")
    return "\n".join(out) + "\n"


def is_stub(path: str, text: str) -> bool:
    """Whether a Python file is nothing but its outline: imports, and definitions whose bodies are
    empty (`pass`, `...`, a docstring, `raise NotImplementedError`) — a stub to fill in, with no
    code of its own to hide or keep."""
    if not path.endswith((".py", ".pyi")):
        return False
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return False

    def empty(body) -> bool:
        return all(
            isinstance(s, (ast.Pass, ast.Raise))
            or (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant))
            or (isinstance(s, ast.ClassDef) and empty(s.body))
            or (isinstance(s, (ast.FunctionDef, ast.AsyncFunctionDef)) and empty(s.body))
            for s in body
        )

    top = [s for s in tree.body if not isinstance(s, (ast.Import, ast.ImportFrom))]
    return bool(top) and empty(top) and any(isinstance(s, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) for s in top)


def _inside(node, types: set[str]) -> bool:
    parent = node.parent
    while parent is not None:
        if parent.type in types:
            return True
        parent = parent.parent
    return False


def _definitions(language: str, tree):
    """(definition node, name node) pairs, found by a tree-sitter query run in C."""
    query = _query(language)
    from tree_sitter import QueryCursor

    for _, captures in QueryCursor(query).matches(tree.root_node):
        if "def" in captures and "name" in captures:
            yield captures["def"][0], captures["name"][0]


def _query(language: str):
    if language not in _queries:
        from tree_sitter import Query

        from .syntax import grammar

        lang = grammar(language)
        patterns = []
        for node_type in DEFINITIONS[language]:
            if node_type == "variable_declarator":
                candidate = "(variable_declarator name: (identifier) @name value: [(arrow_function) (function_expression)]) @def"
            elif node_type == "function_definition" and language in ("c", "cpp"):
                candidate = "(function_definition declarator: (function_declarator declarator: (_) @name)) @def"
            elif node_type == "type_definition":
                candidate = "(type_definition declarator: (type_identifier) @name) @def"
            else:
                candidate = f"({node_type} name: (_) @name) @def"
            try:
                Query(lang, candidate)
            except Exception:  # noqa: BLE001 - a node type or field this grammar lacks
                continue
            patterns.append(candidate)
        _queries[language] = Query(lang, "\n".join(patterns))
    return _queries[language]
