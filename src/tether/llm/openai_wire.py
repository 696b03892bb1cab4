"""The OpenAI chat-completions wire format as the gateway speaks it: a request body read into the
grid's terms (every field checked, a bad one named as OpenAI's API names it), and a Response
written back as a completion or as stream chunks."""

from __future__ import annotations

import json
import math
import time
import uuid

from ..errors import BadRequest
from .types import Response

_ROLES = ("system", "developer", "user", "assistant", "tool")


def parse_request(raw: bytes) -> tuple[str, list, dict, bool, bool]:
    """(model, messages, grid options, stream, include usage) of a chat-completions body, or a
    BadRequest that names the field, as OpenAI's API would."""
    try:
        body = json.loads(raw or b"{}")
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise BadRequest(f"body is not JSON: {e}") from None
    if not isinstance(body, dict):
        raise BadRequest("body must be a JSON object")
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise BadRequest("'model' is required: a route name or provider/model")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages or not all(isinstance(m, dict) and m.get("role") in _ROLES for m in messages):
        raise BadRequest("'messages' must be a non-empty list of objects with a role (system, user, assistant or tool)")
    opts = _options(body)
    stream = body.get("stream", False)
    if not isinstance(stream, bool):
        raise BadRequest(f"'stream' must be true or false (got {stream!r})")
    usage = bool((body.get("stream_options") or {}).get("include_usage")) if isinstance(body.get("stream_options"), dict) else False
    return model, messages, opts, stream, usage


def _options(body: dict) -> dict:
    """The grid's options of a chat-completions body, each checked as OpenAI's API checks it."""
    opts: dict = {}
    max_tokens = body.get("max_completion_tokens", body.get("max_tokens"))
    if max_tokens is not None:
        if isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 1:
            raise BadRequest(f"'max_tokens' must be a whole number >= 1 (got {max_tokens!r})")
        opts["max_tokens"] = max_tokens
    temperature = body.get("temperature")
    if temperature is not None:
        if (
            isinstance(temperature, bool)
            or not isinstance(temperature, (int, float))
            or not math.isfinite(temperature)
            or not 0 <= temperature <= 2
        ):
            raise BadRequest(f"'temperature' must be a number from 0 to 2 (got {temperature!r})")
        opts["temperature"] = temperature
    seed = body.get("seed")
    if seed is not None:
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise BadRequest(f"'seed' must be a whole number (got {seed!r})")
        opts["seed"] = seed
    for key, kind in (("tools", list), ("tool_choice", (str, dict))):
        if body.get(key) is not None:
            if not isinstance(body[key], kind):
                raise BadRequest(f"'{key}' has the wrong type")
            opts[key] = body[key]
    stop = body.get("stop")
    if stop:
        stop = [stop] if isinstance(stop, str) else stop
        if not isinstance(stop, list) or not all(isinstance(s, str) for s in stop):
            raise BadRequest("'stop' must be a string or a list of strings")
        opts["stop"] = stop
    fmt = body.get("response_format")
    if fmt is not None:
        if not isinstance(fmt, dict) or fmt.get("type") not in ("text", "json_object", "json_schema"):
            raise BadRequest("'response_format' must be an object with type text, json_object or json_schema")
        if fmt["type"] == "json_schema":
            spec = fmt.get("json_schema")
            if not isinstance(spec, dict) or not isinstance(spec.get("schema", {}), dict):
                raise BadRequest("'response_format.json_schema' must be an object holding a 'schema' object")
            opts["schema"] = spec.get("schema") or {"type": "object"}
        elif fmt["type"] == "json_object":
            opts["schema"] = {"type": "object"}
    return opts


def finish_reason(r: Response) -> str:
    return "tool_calls" if r.tool_calls else (r.finish_reason if r.finish_reason in ("stop", "length") else "stop")


def _calls(r_calls) -> list[dict]:
    return [{"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}} for c in r_calls]


def _usage(r: Response) -> dict:
    return {
        "prompt_tokens": r.usage.input_tokens,
        "completion_tokens": r.usage.output_tokens,
        "total_tokens": r.usage.total_tokens,
        "prompt_tokens_details": {"cached_tokens": r.usage.cached_tokens},
    }


def _meta(r: Response) -> dict:
    return {
        "provider": r.provider,
        "route": r.route,
        "cost_usd": r.cost_usd,
        "latency_ms": round(r.latency_ms, 3),
        "attempts": r.attempts,
        "call": r.call_id,
    }  # the call_id of the call's ledger rows


def completion(r: Response) -> dict:
    message: dict = {"role": "assistant", "content": r.text}
    if r.tool_calls:
        message["tool_calls"] = _calls(r.tool_calls)
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex[:24]}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": r.model,
        "choices": [{"index": 0, "message": message, "finish_reason": finish_reason(r)}],
        "usage": _usage(r),
        "tether": _meta(r),
    }


def chunk(cid, created, model, delta, finish, usage_from: Response | None = None, calls=None) -> dict:
    if calls:
        delta = {"tool_calls": [{"index": i, **c} for i, c in enumerate(_calls(calls))]}
    chunk = {
        "id": cid,
        "object": "chat.completion.chunk",
        "created": created,
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }
    if usage_from is not None:
        chunk["usage"] = _usage(usage_from)
        chunk["tether"] = _meta(usage_from)
    return chunk
