"""A chat: one model, the messages so far, and how a logged chat goes on. A turn sends the history
with the new user message and keeps both it and the reply only once the reply is whole: a turn
that fails, is stopped (Ctrl-C, a Stop button) or whose stream is left unread leaves the history
as it was, so the next turn is sent as if it had never been asked.

A face keeps what is its own (printing, the run log, its prompts) and asks this object for the
rest; `tether chat` and its `--continue` are the first to."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from ..errors import BadRequest, ProviderError
from .types import Message, Response

if TYPE_CHECKING:
    from .protocol import GridLike

__all__ = ["Conversation"]

_ROLES = ("system", "user", "assistant")


class Conversation:
    """`Conversation(grid, model, system=None, messages=())`: `send(text)` for a whole reply,
    `stream(text)` for its text as it comes then the Response; `messages` is the history (read
    only), `turns` the replies in it. `resume` continues a chat from its logged messages."""

    def __init__(self, grid: GridLike, model: str, system: str | None = None, messages: Iterable[Mapping[str, Any]] = ()):
        grid.route(model)  # an unknown model or route is one clear error before anything is sent or logged
        self.grid, self.model, self.system = grid, model, system
        self._messages: list[Message] = [_checked(m) for m in messages]
        if system:
            self._messages.insert(0, {"role": "system", "content": system})

    @classmethod
    def resume(
        cls,
        grid: GridLike,
        logged: tuple[Mapping[str, Any], Iterable[Mapping[str, Any]]],
        model: str | None = None,
        system: str | None = None,
    ) -> Conversation:
        """A logged chat going on. `logged` is (its run, its messages), as the run log gives them
        (`runlog.conversation`): the earlier turns are sent with every new one, and the chat keeps
        the model it was logged with unless `model` names another."""
        run, messages = logged
        return cls(grid, model or run["model"], system, messages)

    @property
    def messages(self) -> tuple[Mapping[str, Any], ...]:
        """The history as the next turn sends it (system prompt first): a read-only view."""
        return tuple(MappingProxyType(m) for m in self._messages)

    @property
    def turns(self) -> int:
        """The replies in the history (a continued chat's earlier ones too)."""
        return sum(m["role"] == "assistant" for m in self._messages)

    def send(self, text: str, **opts) -> Response:
        """Ask `text` with the history; the whole reply (grid.complete's options pass through)."""
        return self._answered(text, self.grid.complete(self.model, self._asking(text), **opts))

    def stream(self, text: str, **opts) -> Iterator[str | Response]:
        """Ask `text` with the history: the reply's text chunks as they come, then its Response
        (like grid.stream). The turn joins the history just before the Response is yielded."""
        asking = self._asking(text)
        items = iter(self.grid.stream(self.model, asking, **opts))
        final = None
        try:
            for item in items:
                if isinstance(item, Response):
                    final = item
                    break
                yield item
        finally:
            close = getattr(items, "close", None)
            if close is not None:
                close()  # stopped early (Ctrl-C, a consumer that broke off): the grid records the call cut off now, not when collected
        if final is None:
            raise ProviderError(f"{self.model} ended the reply without a response")
        yield self._answered(text, final)

    def to_dict(self) -> dict:
        return {"model": self.model, "turns": self.turns, "messages": [dict(m) for m in self._messages]}

    def _asking(self, text: str) -> list[Message]:
        if not isinstance(text, str):
            raise BadRequest(f"a chat message is text (got {type(text).__name__})")
        return [*(dict(m) for m in self._messages), {"role": "user", "content": text}]

    def _answered(self, text: str, reply: Response) -> Response:
        self._messages += [{"role": "user", "content": text}, {"role": "assistant", "content": reply.text}]
        return reply


def _checked(message: Mapping[str, Any]) -> Message:
    """A copy of one earlier message, once it is a chat message (role and text)."""
    if not isinstance(message, Mapping) or message.get("role") not in _ROLES or not isinstance(message.get("content"), str):
        raise BadRequest(f"a chat's earlier message needs a role (system, user or assistant) and text: {message!r:.120}")
    return {"role": message["role"], "content": message["content"]}
