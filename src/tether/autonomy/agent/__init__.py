"""The agent: `tether do`'s loop on the leash — its opening, each turn, how it judges progress."""

from .loop import Agent, Person
from .result import RunResult, Status

__all__ = ["Agent", "Person", "RunResult", "Status"]
