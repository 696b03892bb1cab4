"""The web face: `tether ui`. Server-rendered pages over the same core as the CLI."""

from .app import create_app

__all__ = ["create_app"]
