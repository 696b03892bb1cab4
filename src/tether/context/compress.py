"""`--compress`: keep what a model needs to call code, not to read it — every signature,
docstring, import and declaration, with function bodies elided."""

from __future__ import annotations

from .syntax import language_of, parse

FUNCTIONS = {
    "python": {"function_definition"},
    "javascript": {"function_declaration", "generator_function_declaration", "method_definition", "arrow_function", "function_expression"},
    "go": {"function_declaration", "method_declaration", "func_literal"},
    "rust": {"function_item"},
    "java": {"method_declaration", "constructor_declaration"},
    "c": {"function_definition"},
}
FUNCTIONS["typescript"] = FUNCTIONS["tsx"] = FUNCTIONS["javascript"] | {"function_signature"}
FUNCTIONS["cpp"] = FUNCTIONS["c"] | {"lambda_expression"}
_BLOCKS = {"block", "statement_block", "compound_statement", "constructor_body"}


def compress(path: str, text: str) -> str | None:
    """The file with function bodies elided, or None for a language tether cannot parse."""
    language = language_of(path)
    tree = parse(text, language) if language else None
    if tree is None:
        return None
    source = text.encode("utf-8", errors="replace")
    cuts: list[tuple[int, int, bytes]] = []

    def visit(node) -> None:
        if node.type in FUNCTIONS[language]:
            body = node.child_by_field_name("body")
            if body is not None and body.type in _BLOCKS:
                cuts.append(_elide(body, source, language))
                return
        for child in node.children:
            visit(child)

    visit(tree.root_node)
    out, last = [], 0
    for start, end, replacement in cuts:
        out += [source[last:start], replacement]
        last = end
    out.append(source[last:])
    return b"".join(out).decode("utf-8", errors="replace")


def _elide(body, source: bytes, language: str) -> tuple[int, int, bytes]:
    if language != "python":
        return body.start_byte, body.end_byte, b"{ ... }"
    indent = b" " * body.start_point.column
    first = body.children[0] if body.children else None
    if first is not None and first.type == "expression_statement" and first.children and first.children[0].type == "string":
        return first.end_byte, body.end_byte, b"\n" + indent + b"..."
    return body.start_byte, body.end_byte, b"..."
