"""The OpenAI chat-completions wire format: OpenAI, OpenRouter, Groq, Together, DeepSeek,
Ollama, vLLM and the llama.cpp server all speak it."""

from __future__ import annotations

from collections.abc import Iterator

from ...errors import MalformedResponse, TransientError
from ..types import Request, Response, ToolCall, Usage
from . import _http


class OpenAIProvider(_http.HTTPProvider):
    PATH = "/chat/completions"

    def key_headers(self, key: str) -> dict:
        return {"authorization": f"Bearer {key}"}

    def body(self, req: Request, stream: bool) -> dict:
        body: dict = {"model": req.model, "messages": req.messages}
        if req.max_tokens is not None:
            body["max_tokens"] = req.max_tokens
        if req.temperature is not None:
            body["temperature"] = req.temperature
        if req.stop:
            body["stop"] = req.stop
        if req.seed is not None:
            body["seed"] = req.seed
        if req.tools:
            body["tools"] = [
                {"type": "function", "function": {"name": t.name, "description": t.description, "parameters": t.parameters}}
                for t in req.tools
            ]
            if req.tool_choice is not None:
                body["tool_choice"] = req.tool_choice
        if req.schema is not None:
            body["response_format"] = {"type": "json_schema", "json_schema": {"name": "reply", "schema": req.schema}}
        if stream:
            body["stream"] = True
            body["stream_options"] = {"include_usage": True}
        body.update(req.extra)
        return body

    def complete(self, req: Request) -> Response:
        who = f"{self.name}/{req.model}"
        data = _http.post_json(self.http, self.url, self.body(req, False), req.timeout, who, req.cancel)
        try:
            choice = data["choices"][0]
            message = choice["message"]
            calls = [
                ToolCall(c.get("id") or f"call_{i}", c["function"]["name"], c["function"].get("arguments") or "")
                for i, c in enumerate(message.get("tool_calls") or [])
            ]
            usage = data.get("usage") or {}
            return Response(
                text=message.get("content") or "",
                model=who,
                provider=self.name,
                usage=_usage(usage),
                tool_calls=calls,
                finish_reason=choice.get("finish_reason"),
            )
        except (KeyError, IndexError, TypeError, AttributeError, ValueError) as e:
            raise MalformedResponse(f"{who}: reply lacks the chat-completion fields ({type(e).__name__}: {e})") from None

    def stream(self, req: Request) -> Iterator[str | Response]:
        who = f"{self.name}/{req.model}"
        text: list[str] = []
        calls: dict[int, ToolCall] = {}
        usage: dict = {}
        finish = None
        done = False
        for payload in _http.stream_lines(self.http, self.url, self.body(req, True), req.timeout, who, req.cancel):
            if payload == "[DONE]":
                done = True
                break
            event = _http.parse_event(payload, who)
            if "error" in event:
                raise TransientError(f"{who}: stream error: {event['error']}")
            usage = event.get("usage") or usage
            for choice in event.get("choices") or []:
                delta = choice.get("delta") or {}
                if delta.get("content"):
                    text.append(delta["content"])
                    yield delta["content"]
                for part in delta.get("tool_calls") or []:
                    # Arguments arrive in pieces keyed by index; the id and name only in the first.
                    index = part.get("index", 0)
                    fn = part.get("function") or {}
                    call = calls.setdefault(index, ToolCall(part.get("id") or f"call_{index}", fn.get("name") or "", ""))
                    if part.get("id"):
                        call.id = part["id"]
                    if fn.get("name"):
                        call.name = fn["name"]
                    call.arguments += fn.get("arguments") or ""
                finish = choice.get("finish_reason") or finish
        if not done and finish is None:
            raise TransientError(f"{who}: stream ended before the reply was complete")
        yield Response(
            text="".join(text),
            model=who,
            provider=self.name,
            usage=_usage(usage),
            tool_calls=[calls[i] for i in sorted(calls)],
            finish_reason=finish,
        )


PROVIDER = OpenAIProvider


def _usage(usage: dict) -> Usage:
    """The server's count; OpenAI reports the prompt tokens its cache served under prompt_tokens_details."""
    details = usage.get("prompt_tokens_details") or {}
    return Usage(
        int(usage.get("prompt_tokens") or 0),
        int(usage.get("completion_tokens") or 0),
        estimated=not usage,
        cached_tokens=int(details.get("cached_tokens") or 0) if isinstance(details, dict) else 0,
    )
