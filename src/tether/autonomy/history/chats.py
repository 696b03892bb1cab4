"""A chat that is logged: each turn of a Conversation (llm/) recorded as run-log steps, so `tether
log` lists it and `tether chat --continue` picks it up where it stopped. A turn that fails or is
stopped is marked so, and leaves the conversation as it was."""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

from ...errors import TetherError
from ...llm.conversation import Conversation
from ...llm.types import Response
from .runlog import RunLog, conversation

if TYPE_CHECKING:
    from ...llm.protocol import GridLike

Ask = Callable[[Conversation, str], Response]  # how the face asks: at once, or printing the stream


class LoggedChat:
    def __init__(
        self, grid: GridLike, model: str, system: str | None, root: str, talk: Conversation | None = None, log: RunLog | None = None
    ):
        self.grid, self.system, self.root = grid, system, root
        self.talk = talk or Conversation(grid, model, system)  # an unknown model is one clear error, before anything is logged
        self.log = log  # made at the first turn: a chat that never sent anything leaves no run

    @classmethod
    def resume(cls, grid: GridLike, cid: str | None, model: str, system: str | None, root: str) -> LoggedChat:
        """The chat `cid` (the latest when None), going on with its own model unless `model` names another."""
        logged = conversation(grid.store, cid)
        talk = Conversation.resume(grid, logged, None if model == "default" else model, system)
        return cls(grid, talk.model, system, root, talk, RunLog.resume(grid.store, logged[0]["id"]))

    @property
    def id(self) -> str | None:
        """The chat's run id; None before its first turn."""
        return self.log.id if self.log else None

    def turn(self, text: str, ask: Ask) -> Response:
        self.log = self.log or RunLog(
            self.grid.store, root=self.root, command="chat", instruction=text, level="chat", model=self.talk.model
        )
        try:
            reply = ask(self.talk, text)
        except TetherError as x:
            self.log.mark("failed", str(x))
            raise
        except KeyboardInterrupt:
            self.log.mark("stopped", "Ctrl-C")
            raise
        self.log.step("prompt", user=text, **({"system": self.system} if self.system and self.talk.turns == 1 else {}))
        self.log.step("reply", **reply.log_fields())
        u = reply.usage
        self.log.totals(self.talk.turns, u.input_tokens, u.output_tokens, reply.cost_usd, reply.latency_ms / 1000, add=True)
        self.log.mark("answered")
        return reply
