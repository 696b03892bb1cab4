"""The page of the other programs a run meets: the MCP servers whose tools it may call (started
to list them, as `tether mcp servers` does) and the hooks that judge it (as `tether hooks` lists
them), both from the user's config only."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..autonomy.guard.hooks import Hooks
from ..mcp.client import survey

if TYPE_CHECKING:
    from starlette.requests import Request

    from .app import Pages


def page(pages: Pages, request: Request):
    config = pages.grid.config
    return pages.page(
        request, "mcp.html", **survey(config, pages.root).to_dict(), hooks=Hooks.from_config(config, pages.root).to_dict()["hooks"]
    )
