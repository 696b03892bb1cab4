"""Tree-sitter parsers for the languages tether understands, loaded once each.

The per-language grammar wheels are used rather than tree-sitter-language-pack: from 1.x the
pack downloads its grammars at run time, which fails offline."""

from __future__ import annotations

import importlib
import threading
from pathlib import PurePosixPath

LANGUAGES = {
    ".py": "python",
    ".pyi": "python",
    ".js": "javascript",
    ".mjs": "javascript",
    ".cjs": "javascript",
    ".jsx": "javascript",
    ".ts": "typescript",
    ".mts": "typescript",
    ".cts": "typescript",
    ".tsx": "tsx",
    ".go": "go",
    ".rs": "rust",
    ".java": "java",
    ".c": "c",
    ".h": "c",
    ".cc": "cpp",
    ".cpp": "cpp",
    ".cxx": "cpp",
    ".hpp": "cpp",
    ".hh": "cpp",
    ".hxx": "cpp",
}
_GRAMMARS = {
    "python": ("tree_sitter_python", "language"),
    "javascript": ("tree_sitter_javascript", "language"),
    "typescript": ("tree_sitter_typescript", "language_typescript"),
    "tsx": ("tree_sitter_typescript", "language_tsx"),
    "go": ("tree_sitter_go", "language"),
    "rust": ("tree_sitter_rust", "language"),
    "java": ("tree_sitter_java", "language"),
    "c": ("tree_sitter_c", "language"),
    "cpp": ("tree_sitter_cpp", "language"),
}
_parsers: dict[str, object] = {}
_lock = threading.Lock()


def language_of(path: str) -> str | None:
    return LANGUAGES.get(PurePosixPath(path).suffix.lower())


def grammar(language: str):
    """The tree-sitter Language, or None if its grammar is not installed."""
    try:
        import tree_sitter

        module, attr = _GRAMMARS[language]
        return tree_sitter.Language(getattr(importlib.import_module(module), attr)())
    except (ImportError, KeyError, AttributeError):
        return None


def parse(text: str, language: str):
    """The syntax tree of `text`, or None if the grammar is not installed."""
    with _lock:
        if language not in _parsers:
            lang = grammar(language)
            if lang is None:
                _parsers[language] = None
            else:
                import tree_sitter

                _parsers[language] = tree_sitter.Parser(lang)
        parser = _parsers[language]
        return parser.parse(text.encode("utf-8", errors="replace")) if parser is not None else None
