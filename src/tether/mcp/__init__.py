"""The Model Context Protocol faces: tether's context and leashed edits for other agents (server.py),
and other MCP servers' tools for tether's agent (client.py). The server's names load the SDK
(tether[mcp]) when first used, so a command that needs neither does not pay for it."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .server import DESCRIPTIONS, Bearer, create_server, describe, settings

__all__ = ["Bearer", "DESCRIPTIONS", "create_server", "describe", "settings"]


def __getattr__(name: str):
    if name in __all__:
        from . import server

        return getattr(server, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
