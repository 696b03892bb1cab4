"""tether: partial-autonomy AI for a codebase, on a leash its user controls.

The public face is small and imported lazily, so `import tether` costs next to nothing and a
script pays only for the floors it uses."""

import os

__version__ = "0.1.0"

# numpy's OpenBLAS spreads even a one-query embedding over every core and leaves its threads
# spinning after; on 2 cores that made a search 5x slower (p50 19 ms → 103 ms through MCP) and
# batch embedding no faster. Set before anything imports numpy; a user's own setting wins.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

_EXPORTS = {
    "Grid": ("tether.llm.router", "Grid"),
    "Response": ("tether.llm.types", "Response"),
    "Usage": ("tether.llm.types", "Usage"),
    "ToolCall": ("tether.llm.types", "ToolCall"),
    "Tool": ("tether.llm.types", "Tool"),
    "TetherError": ("tether.errors", "TetherError"),
    "digest": ("tether.context.digest", "digest"),
    "repo_map": ("tether.context.repomap", "repo_map"),
    "Index": ("tether.context.index", "Index"),
    "Leash": ("tether.autonomy.guard.leash", "Leash"),
    "Agent": ("tether.autonomy.agent.loop", "Agent"),
    "RunResult": ("tether.autonomy.agent.result", "RunResult"),
    "Status": ("tether.autonomy.agent.result", "Status"),
    "ask": ("tether.autonomy.answers.ask", "ask"),
    "apply_change": ("tether.autonomy.history.change", "apply_change"),
    "Checkpoints": ("tether.autonomy.history.checkpoints", "Checkpoints"),
    "SHAPES": ("tether.shapes", "SHAPES"),
}
__all__ = list(_EXPORTS)


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'tether' has no attribute {name!r}")
    import importlib

    module, attr = _EXPORTS[name]
    value = getattr(importlib.import_module(module), attr)
    globals()[name] = value
    return value
