"""What the floors above use of a grid, as a type: `GridLike`. The context floor, the autonomy
floor and the faces take a grid as this protocol, not as `router.Grid`, so what they may call
is written down in one place and a test double that has these members stands in for it. Only
typing is imported at run time: a module that names `GridLike` in its annotations under
`from __future__ import annotations` pays nothing and imports nothing of the grid."""

from __future__ import annotations

from collections.abc import Generator
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from ..config import Config, RouteConfig
    from ..store import Store
    from .keys import Keys
    from .meter import Ledger
    from .types import Message, Response

__all__ = ["GridLike"]


@runtime_checkable
class GridLike(Protocol):
    """The grid as a utility: calls (metered, failed over), what a model name resolves to, the
    config it was made from, the ledger that counts every call, and tether's own store."""

    config: Config  # the layered config the grid was made from (routes, budgets, the sandbox's settings…)
    store: Store  # tether's database (run logs, memory, checkpoints' index): not the ledger's when that is PostgreSQL
    ledger: Ledger  # every attempt's cost and outcome (`summary`, `speeds`); in the ledger's own database

    def complete(self, model: str, messages: str | list[Message], **opts: Any) -> Response:
        """One reply: `model` is "provider/name" or a route name."""
        ...

    def stream(self, model: str, messages: str | list[Message], **opts: Any) -> Generator[str | Response, None, None]:
        """Text chunks as they come, then the final Response."""
        ...

    def route(self, model: str) -> tuple[str | None, RouteConfig]:
        """(route name or None, its route) of a model or route name; UnknownModel if none answers to it."""
        ...

    def context_window(self, model: str, fallback: int = 32_000) -> int:
        """The tokens every model of `model` can hold."""
        ...

    def catalogue(self) -> dict:
        """The routes and every model with whether it can be called now (`tether models`)."""
        ...

    def models(self) -> list[dict]:
        """Every catalogued model and every route member, with whether it can be called now."""
        ...

    def keys(self) -> Keys:
        """The gateway's virtual keys, kept in the ledger's database."""
        ...

    def refresh(self) -> None:
        """Take the config its files say now (a long-lived face calls this before each request)."""
        ...

    def close(self) -> None:
        """Write what the ledger still holds and close the providers."""
        ...
