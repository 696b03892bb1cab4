"""How long the next reply of a run will take: reading what the model's cache lacks, then writing.

An embedded model reads a prompt at ~90 tokens a second on two cores and writes at ~10, and its
KV cache holds what it read and wrote last, so a follow-up reads only its new tail while a fresh
sample, whose opening differs part-way, reads most of it again. Judged by its writing alone, a
fresh sample with 13 s left was started and cut off before its first token: 844 tokens of its
prompt were not in the cache. Rates come from this run's replies, the fastest seen, so the
estimate errs towards asking: most replies the limit cut were cut near their end, and are
still asked for."""

from __future__ import annotations

import os

from ...context import tokens
from ...llm.types import Response

MIN_READ = 64  # prompt tokens read anew below which a reply's first-token time says little about reading


def _text(messages: list[dict]) -> str:
    """The conversation as the model's cache holds it, near enough: roles and contents in order."""
    return "".join(f"<{m['role']}>\n{m['content']}\n" for m in messages) + "<assistant>\n"


class Pace:
    def __init__(self) -> None:
        self.read: float | None = None  # prompt tokens a second read anew
        self.write: float | None = None  # tokens a second written, after the first
        self.overall: float | None = None  # tokens written a second of a whole reply, where no first-token time is known
        self.cached = ""  # what the model last read and wrote

    def observe(self, messages: list[dict], reply: Response) -> None:
        u, seconds = reply.usage, reply.latency_ms / 1000
        first = reply.ttft_ms / 1000 if reply.ttft_ms else None
        fresh = u.input_tokens - u.cached_tokens
        if first and fresh >= MIN_READ:
            self.read = max(self.read or 0.0, fresh / first)
        if u.output_tokens >= 20 and seconds > 0:
            self.overall = max(self.overall or 0.0, u.output_tokens / seconds)
            if first and seconds > first:
                self.write = max(self.write or 0.0, u.output_tokens / (seconds - first))
        self.cached = _text(messages) + reply.text

    def unread(self, messages: list[dict]) -> int:
        """Tokens of `messages` past what the cache holds from the reply before."""
        now = _text(messages)
        return tokens.count(now[len(os.path.commonprefix([self.cached, now])) :])

    def seconds(self, messages: list[dict], output_tokens: int) -> float | None:
        """How long a reply of `output_tokens` to `messages` takes; None before a reply showed the speed."""
        if self.read and self.write:
            return self.unread(messages) / self.read + output_tokens / self.write
        return output_tokens / self.overall if self.overall else None
