"""A deterministic test double: replays the replies it was given, in order, and records
every request. A step is a reply text, a dict (text, tool_calls, usage, delay, fail_after),
or an exception to raise. For fast unit tests of logic, never for end-to-end ones."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

from ...config import ProviderConfig
from ...errors import BadRequest, Cancelled, TransientError
from ..types import Request, Response, ToolCall, Usage, estimate_tokens, messages_text
from . import Provider


class ScriptedProvider(Provider):
    def __init__(self, cfg: ProviderConfig | None = None, replies: list | None = None):
        super().__init__(cfg or ProviderConfig(name="scripted", kind="scripted"))
        self.replies = list(replies if replies is not None else self.cfg.options.get("replies", []))
        self.requests: list[Request] = []
        self._lock = threading.Lock()

    def availability(self, model: str) -> str | None:
        return None

    def _next(self, req: Request) -> dict:
        with self._lock:
            self.requests.append(req)
            if not self.replies:
                raise BadRequest(f"{self.name}: the script has no more replies")
            step = self.replies.pop(0)
        if isinstance(step, BaseException):
            raise step
        step = {"text": step} if isinstance(step, str) else dict(step)
        if step.get("delay"):  # a model that takes this long; as a hosted one, it gives up at the request's timeout
            wait = step["delay"] if req.timeout is None else min(step["delay"], req.timeout)
            if req.cancel is None:
                time.sleep(wait)
            elif req.cancel.wait(wait):
                raise Cancelled(f"{self.name}/{req.model}: stopped")
            if req.timeout is not None and step["delay"] > req.timeout:
                raise TransientError(f"{self.name}/{req.model}: timed out")
        return step

    def _response(self, req: Request, step: dict) -> Response:
        text = step.get("text", "")
        usage = step.get("usage") or {}
        calls = [
            ToolCall(c.get("id", f"call_{i}"), c["name"], c.get("arguments", "{}")) for i, c in enumerate(step.get("tool_calls") or [])
        ]
        return Response(
            text=text,
            model=f"{self.name}/{req.model}",
            provider=self.name,
            usage=Usage(
                usage.get("input_tokens", estimate_tokens(messages_text(req.messages))),
                usage.get("output_tokens", estimate_tokens(text)),
                cached_tokens=usage.get("cached_tokens", 0),
            ),
            tool_calls=calls,
            finish_reason="tool_calls" if calls else "stop",
        )

    def complete(self, req: Request) -> Response:
        step = self._next(req)
        if "fail_after" in step:
            raise TransientError(f"{self.name}/{req.model}: connection dropped")
        return self._response(req, step)

    def stream(self, req: Request) -> Iterator[str | Response]:
        step = self._next(req)
        words = [w + " " for w in step.get("text", "").split(" ")]
        if words:
            words[-1] = words[-1][:-1]
        for n, word in enumerate(words):
            if step.get("fail_after") == n:
                raise TransientError(f"{self.name}/{req.model}: stream cut after {n} chunks")
            if word:
                yield word
        yield self._response(req, step)


PROVIDER = ScriptedProvider
