"""The Anthropic Messages wire format, normalised to the same Response.

A `schema=` call becomes one forced tool whose input is the reply, since Messages has no
JSON-schema response format of its own."""

from __future__ import annotations

import json
from collections.abc import Iterator

from ...errors import MalformedResponse, TransientError
from ..types import Message, Request, Response, ToolCall, Usage
from . import _http

VERSION = "2023-06-01"
DEFAULT_MAX_TOKENS = 4096
_SCHEMA_TOOL = "reply"


class AnthropicProvider(_http.HTTPProvider):
    PATH = "/v1/messages"
    HEADERS = {"anthropic-version": VERSION}

    def key_headers(self, key: str) -> dict:
        return {"x-api-key": key}

    def body(self, req: Request, stream: bool) -> dict:
        system, messages = to_anthropic(req.messages)
        body: dict = {"model": req.model, "messages": messages, "max_tokens": req.max_tokens or DEFAULT_MAX_TOKENS}
        if system:
            body["system"] = system
        if req.temperature is not None:
            body["temperature"] = req.temperature
        if req.stop:
            body["stop_sequences"] = req.stop
        tools = [{"name": t.name, "description": t.description, "input_schema": t.parameters} for t in req.tools]
        if req.schema is not None:
            tools.append({"name": _SCHEMA_TOOL, "description": "Give the reply.", "input_schema": req.schema})
            body["tool_choice"] = {"type": "tool", "name": _SCHEMA_TOOL}
        elif req.tool_choice in ("auto", "any", "none"):
            body["tool_choice"] = {"type": req.tool_choice}
        elif req.tool_choice == "required":
            body["tool_choice"] = {"type": "any"}
        elif isinstance(req.tool_choice, dict) and "function" in req.tool_choice:
            body["tool_choice"] = {"type": "tool", "name": req.tool_choice["function"]["name"]}
        if tools:
            body["tools"] = tools
        if stream:
            body["stream"] = True
        body.update(req.extra)
        return body

    def complete(self, req: Request) -> Response:
        who = f"{self.name}/{req.model}"
        data = _http.post_json(self.http, self.url, self.body(req, False), req.timeout, who, req.cancel)
        try:
            text, calls = [], []
            for block in data["content"]:
                if block["type"] == "text":
                    text.append(block["text"])
                elif block["type"] == "tool_use":
                    calls.append(ToolCall(block["id"], block["name"], json.dumps(block["input"])))
            usage = data.get("usage") or {}
            return self._finish(req, who, "".join(text), calls, usage, data.get("stop_reason"))
        except (KeyError, TypeError) as e:
            raise MalformedResponse(f"{who}: reply lacks the Messages fields ({type(e).__name__}: {e})") from None

    def stream(self, req: Request) -> Iterator[str | Response]:
        who = f"{self.name}/{req.model}"
        text: list[str] = []
        blocks: dict[int, ToolCall] = {}
        usage: dict = {}
        stop = None
        finished = False
        for payload in _http.stream_lines(self.http, self.url, self.body(req, True), req.timeout, who, req.cancel):
            event = _http.parse_event(payload, who)
            kind = event.get("type")
            if kind == "message_start":
                usage.update((event.get("message") or {}).get("usage") or {})
            elif kind == "content_block_start":
                block = event.get("content_block") or {}
                if block.get("type") == "tool_use":
                    blocks[event.get("index", 0)] = ToolCall(block.get("id", ""), block.get("name", ""), "")
            elif kind == "content_block_delta":
                delta = event.get("delta") or {}
                if delta.get("type") == "text_delta" and delta.get("text"):
                    text.append(delta["text"])
                    if req.schema is None:
                        yield delta["text"]
                elif delta.get("type") == "input_json_delta":
                    call = blocks.get(event.get("index", 0))
                    if call is not None:
                        call.arguments += delta.get("partial_json", "")
            elif kind == "message_delta":
                usage.update(event.get("usage") or {})
                stop = (event.get("delta") or {}).get("stop_reason") or stop
            elif kind == "message_stop":
                finished = True
                break
            elif kind == "error":
                raise TransientError(f"{who}: stream error: {(event.get('error') or {}).get('message', event)}")
        if not finished:
            raise TransientError(f"{who}: stream ended before the reply was complete")
        calls = [blocks[i] for i in sorted(blocks)]
        response = self._finish(req, who, "".join(text), calls, usage, stop)
        if req.schema is not None and response.text:
            yield response.text
        yield response

    def _finish(self, req, who, text, calls, usage, stop) -> Response:
        if req.schema is not None:
            reply = [c for c in calls if c.name == _SCHEMA_TOOL]
            if reply:
                text, calls = reply[0].arguments, [c for c in calls if c.name != _SCHEMA_TOOL]
        return Response(
            text=text,
            model=who,
            provider=self.name,
            usage=_usage(usage),
            tool_calls=calls,
            finish_reason=stop,
        )


def to_anthropic(messages: list[Message]) -> tuple[str, list[dict]]:
    """OpenAI-style messages to (system, Messages turns); tool results become user turns."""
    system: list[str] = []
    turns: list[dict] = []

    def add(role: str, blocks: list[dict]) -> None:
        if turns and turns[-1]["role"] == role:
            turns[-1]["content"].extend(blocks)
        else:
            turns.append({"role": role, "content": blocks})

    for m in messages:
        role, content = m["role"], m.get("content")
        if role == "system":
            system.append(_text(content))
        elif role == "tool":
            add("user", [{"type": "tool_result", "tool_use_id": m.get("tool_call_id", ""), "content": _text(content)}])
        elif role == "assistant":
            blocks = [{"type": "text", "text": _text(content)}] if content else []
            for call in m.get("tool_calls") or []:
                fn = call.get("function", {})
                try:
                    args = json.loads(fn.get("arguments") or "{}")
                except json.JSONDecodeError:
                    args = {"_raw": fn.get("arguments")}
                blocks.append({"type": "tool_use", "id": call.get("id", ""), "name": fn.get("name", ""), "input": args})
            add("assistant", blocks or [{"type": "text", "text": ""}])
        else:
            add("user", [{"type": "text", "text": _text(content)}])
    return "\n\n".join(system), turns


def _text(content) -> str:
    if isinstance(content, list):
        return "".join(p.get("text", "") for p in content if isinstance(p, dict))
    return str(content or "")


PROVIDER = AnthropicProvider


def _usage(usage: dict) -> Usage:
    """Anthropic's input_tokens leave out what the prompt cache read or wrote: the prompt is all three."""
    read, wrote = int(usage.get("cache_read_input_tokens") or 0), int(usage.get("cache_creation_input_tokens") or 0)
    return Usage(
        int(usage.get("input_tokens") or 0) + read + wrote, int(usage.get("output_tokens") or 0), estimated=not usage, cached_tokens=read
    )
