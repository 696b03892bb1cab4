"""The grid: every LLM provider behind one metered, switchable client.

`GridLike` is what the floors above may use of a grid (their annotations name it); a
`Conversation` is a chat on it. Both load on first use, so `import tether.llm` stays free."""

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .conversation import Conversation
    from .protocol import GridLike

_EXPORTS = {"GridLike": "protocol", "Conversation": "conversation"}
__all__ = ["Conversation", "GridLike"]


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'tether.llm' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
    globals()[name] = value
    return value
