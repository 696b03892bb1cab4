"""The few shapes every provider speaks: a Request in, a Response out.

Messages are OpenAI-style dicts (role, content, tool_calls, tool_call_id) because that is the
lingua franca; providers with another wire format translate at their edge."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from ..errors import BadRequest

Message = dict[str, Any]


@dataclass(frozen=True)
class Tool:
    name: str
    description: str = ""
    parameters: dict = field(default_factory=lambda: {"type": "object", "properties": {}})

    @classmethod
    def coerce(cls, spec: "Tool | dict") -> "Tool":
        """Accept a Tool, an OpenAI `{"type": "function", "function": {...}}` or a bare dict."""
        if isinstance(spec, Tool):
            return spec
        fn = spec.get("function", spec) if isinstance(spec, dict) else None
        if not isinstance(fn, dict) or not fn.get("name"):
            raise BadRequest(f"a tool needs a name: {spec!r}")
        return cls(fn["name"], fn.get("description", ""), fn.get("parameters") or {"type": "object", "properties": {}})


@dataclass
class ToolCall:
    id: str
    name: str
    arguments: str  # the JSON text as the model wrote it; `.args` parses it

    @property
    def args(self) -> dict:
        try:
            value = json.loads(self.arguments or "{}")
        except json.JSONDecodeError as e:
            raise BadRequest(f"tool call {self.name!r} has arguments that are not JSON: {e}") from None
        return value if isinstance(value, dict) else {"value": value}


@dataclass
class Usage:
    input_tokens: int = 0
    output_tokens: int = 0
    estimated: bool = False  # True when the provider reported none and we counted ourselves
    cached_tokens: int = 0  # of input_tokens, those the provider read from its prompt cache, not anew

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens

    def __add__(self, other: "Usage") -> "Usage":
        return Usage(
            self.input_tokens + other.input_tokens,
            self.output_tokens + other.output_tokens,
            self.estimated or other.estimated,
            self.cached_tokens + other.cached_tokens,
        )

    def to_dict(self) -> dict:
        return {
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "estimated": self.estimated,
            "cached_tokens": self.cached_tokens,
        }


@dataclass
class Request:
    """What a provider is asked: `model` is its own name for it, without the provider prefix."""

    model: str
    messages: list[Message]
    max_tokens: int | None = None
    temperature: float | None = None
    stop: list[str] | None = None
    tools: list[Tool] = field(default_factory=list)
    tool_choice: str | dict | None = None
    schema: dict | None = None  # JSON schema the reply text must satisfy
    grammar: str | None = None  # GBNF the reply must match where sampling can be constrained (the embedded model); others ignore it
    timeout: float | None = None
    seed: int | None = None
    cancel: Any = None  # a threading.Event: set, the call stops at the next token (never sent on the wire)
    progress: Any = None  # progress("loading"|"waiting"|"sent", model=…), ("reading", read=N, total=M), ("writing", text=piece); never sent
    extra: dict = field(default_factory=dict)  # passed through to the wire body as is


@dataclass
class Response:
    text: str
    model: str  # "provider/name" that answered
    provider: str
    usage: Usage = field(default_factory=Usage)
    cost_usd: float | None = None  # None: the price of this model is unknown
    latency_ms: float = 0.0
    ttft_ms: float | None = None
    tool_calls: list[ToolCall] = field(default_factory=list)
    finish_reason: str | None = None
    route: str | None = None
    attempts: int = 1
    call_id: str = ""  # the ledger's call_id of its rows

    def log_fields(self) -> dict:
        """What a run log keeps of a reply (`tether log` shows it), whichever command made it."""
        u = self.usage
        return dict(
            text=self.text,
            model=self.model,
            input_tokens=u.input_tokens,
            output_tokens=u.output_tokens,
            cached_tokens=u.cached_tokens,
            cost_usd=self.cost_usd,
            latency_ms=self.latency_ms,
        )

    def to_dict(self) -> dict:
        """What every face shows of a reply (`tether chat --json`)."""
        return {
            "text": self.text,
            "model": self.model,
            "provider": self.provider,
            "route": self.route,
            "usage": self.usage.to_dict(),
            "cost_usd": self.cost_usd,
            "latency_ms": self.latency_ms,
            "ttft_ms": self.ttft_ms,
            "finish_reason": self.finish_reason,
            "attempts": self.attempts,
            "tool_calls": [{"id": c.id, "name": c.name, "arguments": c.arguments} for c in self.tool_calls],
        }

    def json(self) -> Any:
        """The reply parsed as JSON (for `schema=` calls)."""
        try:
            return json.loads(self.text)
        except json.JSONDecodeError as e:
            raise BadRequest(f"{self.model} did not reply with JSON: {e}") from None


def normalize_messages(messages: str | list) -> list[Message]:
    if isinstance(messages, str):
        return [{"role": "user", "content": messages}]
    if not isinstance(messages, list) or not messages:
        raise BadRequest("messages must be a non-empty list of {role, content} dicts or a string")
    for m in messages:
        if not isinstance(m, dict) or m.get("role") not in ("system", "user", "assistant", "tool"):
            raise BadRequest(f"a message needs a role of system, user, assistant or tool: {m!r}")
    return messages


def estimate_tokens(text: str) -> int:
    """A rough count for when a provider reports no usage (about 4 characters a token)."""
    return max(1, (len(text) + 3) // 4) if text else 0


MESSAGE_OVERHEAD = 4  # tokens a wire format spends framing each message (its role, separators)


def request_tokens(messages: list[Message], opts: dict) -> int:
    """A rough count of everything a call sends, for the budget hold before it: each message whole
    (text and other parts, tool calls and their arguments, tool results) with its framing, and the
    call's tools, tool choice, schema, grammar, stop words and extra wire fields. Counting the
    messages' text alone let one call with a large tool description spend many times its budget."""
    sent = {k: opts.get(k) for k in ("tools", "tool_choice", "schema", "grammar", "stop", "extra") if opts.get(k)}
    return sum(_message_tokens(m) + MESSAGE_OVERHEAD for m in messages) + (estimate_tokens(_wire(sent)) if sent else 0)


def _message_tokens(m: Message) -> int:
    """One message's tokens: its text as text, every other part and field as the JSON sent."""
    content, rest = m.get("content"), {k: v for k, v in m.items() if k not in ("role", "content") and v is not None}
    if isinstance(content, list):
        others = [p for p in content if not _text_part(p)]
        content = "\n".join(p["text"] for p in content if _text_part(p)) + (_wire(others) if others else "")
    elif content is not None and not isinstance(content, str):
        content = _wire(content)
    return estimate_tokens(content or "") + (estimate_tokens(_wire(rest)) if rest else 0)


def _text_part(part) -> bool:
    return isinstance(part, dict) and set(part) <= {"type", "text"} and isinstance(part.get("text"), str)


def _wire(value: Any) -> str:
    """A value as the JSON a provider would send (tools as their name, description and parameters)."""
    return json.dumps(value, ensure_ascii=False, default=lambda v: v.__dict__ if isinstance(v, Tool) else str(v))


def messages_text(messages: list[Message]) -> str:
    parts = []
    for m in messages:
        content = m.get("content")
        if isinstance(content, list):
            content = " ".join(p.get("text", "") for p in content if isinstance(p, dict))
        parts.append(str(content or ""))
    return "\n".join(parts)
