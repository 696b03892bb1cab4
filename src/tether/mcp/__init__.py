"""The Model Context Protocol face: tether's context and leashed edits for other agents."""

from .server import DESCRIPTIONS, Bearer, create_server, describe, settings

__all__ = ["Bearer", "DESCRIPTIONS", "create_server", "describe", "settings"]
