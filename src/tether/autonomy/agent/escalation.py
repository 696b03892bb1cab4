"""A run its model could not finish goes on with the model its route escalates to.

The grid as a utility: the small local model does what it can, the big one only what it could
not; the run log and the ledger show each reply's model and cost. Once per model: a chain, never
a loop."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ...errors import TetherError
from ...llm import models as catalogue
from .result import Status, Stop

if TYPE_CHECKING:
    from ...llm.protocol import GridLike


def escalation(grid: GridLike, model: str) -> str | None:
    """The route or model `model`'s route escalates to, if any."""
    try:
        return grid.route(model)[1].escalate
    except TetherError:
        return None


class Escalation:
    def __init__(self, grid: GridLike, model: str, to: str | None = None):
        self.grid = grid
        self.to = to or escalation(grid, model)  # where a run this model cannot finish goes on
        self.tried: list[str] = []  # the models this run escalated from, in order

    def next(self, stop: Stop, model: str) -> str | None:
        """The model that goes on after `model` stopped so, if any (stuck, or the checks failing)."""
        if stop.status not in (Status.STUCK, Status.FAILING) or self.to in (None, model, *self.tried):
            return None
        self.tried.append(model)
        self.to, model = escalation(self.grid, self.to), self.to
        return model

    def told(self, stop: Stop, model: str) -> Stop:
        """The run's last reason, naming the models that could not finish before `model`."""
        if self.tried:
            stop.reason = f"{stop.reason} (on {model}, after {', then '.join(self.tried)} could not finish)"
        return stop

    def priced(self, model: str, usd: float | None) -> None:
        """A USD limit needs prices: a route whose every model is unpriced — the one escalated to
        included — is refused before any call."""
        if usd is None:
            return
        for name in filter(None, (model, self.to)):
            _, route = self.grid.route(name)
            if not any(catalogue.info(m, self.grid.config).price_known for m in route.models):
                raise Stop(
                    Status.BUDGET,
                    f"{name} has no known price, so the limit of ${usd:g} cannot be kept; add its price under [models] in tether.toml",
                )
