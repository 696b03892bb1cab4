"""One model call as a person sees it: how far the model has read its prompt, with the time left,
then what it is writing — turned into the run's `reading` and `writing` events, so that every face
shows something moving within a second of a request and the elapsed time is the run's own."""

from __future__ import annotations

import time
from typing import Callable

WRITING_EVERY = 0.25  # seconds between `writing` events: a reply streams at tens of tokens a second
TAIL = 200  # characters of the reply so far that a `writing` event carries


class CallProgress:
    """The `progress` callback of one call (see llm.types.Request.progress) for a run whose spending
    is `spent` (None: a lone call, like a question, with a clock of its own and nothing spent yet);
    events go to `emit(kind, **data)` like the agent's other events."""

    def __init__(self, emit: Callable[..., None], spent=None, clock: Callable[[], float] = time.monotonic):
        self.emit, self.spent, self.clock = emit, spent, clock
        self.began = clock()
        self.written: list[str] = []
        self.shown = 0.0

    def __call__(self, kind: str, **data) -> None:
        if kind == "loading":
            self.emit("status", **self._base(), doing=f"loading {data['model']}")
        elif kind == "sent":
            self.emit("status", **self._base(), doing=f"sent to {data['model']}; waiting for its first token")
        elif kind == "waiting":
            self.emit("status", **self._base(), doing=f"waiting for {data['model']}: another call is using it")
        elif kind == "reading":
            self._reading(data["read"], data["total"])
        elif kind == "writing":
            self._writing(data["text"])

    def _base(self) -> dict:
        s = self.spent
        if s is None:  # what a lone call spent is known when it ends
            return {"elapsed": self.clock() - self.began}
        return {"step": s.steps, "tokens": s.tokens, "cost": s.usd, "elapsed": s.seconds}

    def _reading(self, read: int, total: int) -> None:
        took = self.clock() - self.began
        left = (total - read) * took / read if read and took > 0 else None
        self.emit("reading", **self._base(), read=read, total=total, left=left)

    def _writing(self, piece: str) -> None:
        self.written.append(piece)
        now = self.clock()
        if now - self.shown >= WRITING_EVERY or len(self.written) == 1:
            self.shown = now
            self.emit("writing", **self._base(), written=len(self.written), text="".join(self.written)[-TAIL:])
