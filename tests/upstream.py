"""A fake LLM upstream on 127.0.0.1 for tests and benchmarks: the OpenAI chat-completions and
Anthropic Messages wire formats, with faults chosen by the model name.

  ok-*            a normal reply (text echoes the last user message)
  fault-500       HTTP 500            fault-429     HTTP 429 with Retry-After
  fault-reset     connection reset    fault-hang    no answer for HANG seconds
  fault-malformed a body that is not JSON
  fault-cut       the body or stream stops midway
  fault-chaos     one of the faults above, at random
  tools           a tool call (streamed in pieces)
  says            the next of the replies a test queued in `server.says` (a hosted model, scripted)
  long            a reply that runs to its max_tokens (LONG without one), one token a word, as a model
                  that has much to say does: usage counts every word it wrote

Run `python tests/upstream.py PORT` to serve in its own process (benchmarks do)."""

from __future__ import annotations

import json
import random
import socket
import struct
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HANG = 3.0
LONG = 4096  # the words `long` writes when a request sets no max_tokens
FAULTS = ["fault-500", "fault-429", "fault-reset", "fault-hang", "fault-malformed", "fault-cut"]


class Upstream(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 1024  # the default backlog of 5 resets connections when many threads call at once

    def __init__(self, port: int = 0, hang: float = HANG):
        super().__init__(("127.0.0.1", port), _Handler)
        self.hang = hang
        self.requests: list[dict] = []
        self.says: list[str] = []
        self.lock = threading.Lock()
        self.random = random.Random(7)

    def handle_error(self, request, client_address):
        pass  # faults break connections on purpose

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def __enter__(self):
        threading.Thread(target=self.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc):
        self.shutdown()
        self.server_close()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: Upstream

    def setup(self):
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, *args):
        pass

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers.get("content-length") or 0)) or b"{}")
        with self.server.lock:
            self.server.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
            model = body.get("model", "")
            if model == "fault-chaos":
                model = self.server.random.choice(FAULTS)
            said = self.server.says.pop(0) if model == "says" and self.server.says else None
        anthropic = self.path.endswith("/messages")
        if model.startswith("fault-") and model != "fault-cut":
            return self._fault(model)
        stream = bool(body.get("stream"))
        text = said if said is not None else "ok: " + _last_user(body.get("messages") or [])
        if model == "long":
            text = " ".join(["w"] * (body.get("max_tokens") or LONG))
        if anthropic:
            return self._anthropic_stream(model, text) if stream else self._json(200, _anthropic_reply(model, text))
        if stream:
            return self._openai_stream(model, text, cut=model == "fault-cut")
        if model == "fault-cut":
            return self._cut_body()
        self._json(200, _openai_reply(model, text))

    def _fault(self, model: str):
        if model == "fault-500":
            self._json(500, {"error": {"message": "upstream exploded"}})
        elif model == "fault-429":
            self._json(429, {"error": {"message": "slow down"}}, {"retry-after": "0.01"})
        elif model == "fault-reset":
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
            self.close_connection = True
        elif model == "fault-hang":
            time.sleep(self.server.hang)
            self.close_connection = True
        elif model == "fault-echo-auth":  # a careless upstream that echoes the request's headers
            self._json(401, {"error": {"message": f"invalid key; you sent Authorization: {self.headers.get('authorization')}"}})
        elif model == "fault-malformed":
            self._raw(200, b"<html>not json{", "text/html")

    def _json(self, status: int, payload: dict, headers: dict | None = None):
        self._raw(status, json.dumps(payload).encode(), "application/json", headers)

    def _raw(self, status: int, data: bytes, ctype: str, headers: dict | None = None):
        self.send_response(status)
        self.send_header("content-type", ctype)
        self.send_header("content-length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def _cut_body(self):
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", "500")
        self.end_headers()
        self.wfile.write(b'{"choices": [{"message": {"content": "half')
        self.wfile.flush()
        self.close_connection = True

    def _sse_start(self):
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("transfer-encoding", "chunked")
        self.end_headers()

    def _sse(self, payload):
        data = b"data: " + (payload if isinstance(payload, bytes) else json.dumps(payload).encode()) + b"\n\n"
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def _openai_stream(self, model: str, text: str, cut: bool):
        self._sse_start()
        base = {"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": 0, "model": model}
        if model == "tools":
            pieces = ['{"ci', 'ty": "Pa', 'ris"}']
            for i, piece in enumerate(pieces):
                call = {"index": 0, "function": {"arguments": piece}}
                if i == 0:
                    call.update(id="call_1", type="function", function={"name": "get_weather", "arguments": piece})
                self._sse({**base, "choices": [{"index": 0, "delta": {"tool_calls": [call]}, "finish_reason": None}]})
            finish = "tool_calls"
        else:
            words = text.split(" ")
            for i, word in enumerate(words):
                if cut and i == 1:
                    self.wfile.write(b"0\r\n\r\n")  # end the body early: no finish, no [DONE]
                    self.close_connection = True
                    return
                self._sse({**base, "choices": [{"index": 0, "delta": {"content": word if i == 0 else " " + word}, "finish_reason": None}]})
            finish = "length" if model == "long" else "stop"
        self._sse({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": finish}]})
        self._sse({**base, "choices": [], "usage": _openai_usage(model, text)})
        self._sse(b"[DONE]")
        self.wfile.write(b"0\r\n\r\n")

    def _anthropic_stream(self, model: str, text: str):
        self._sse_start()
        self._sse({"type": "message_start", "message": {"usage": {"input_tokens": 12, "output_tokens": 1, **_anthropic_cache(model)}}})
        if model == "tools":
            self._sse(
                {
                    "type": "content_block_start",
                    "index": 0,
                    "content_block": {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {}},
                }
            )
            for piece in ['{"city"', ': "Paris"}']:
                self._sse({"type": "content_block_delta", "index": 0, "delta": {"type": "input_json_delta", "partial_json": piece}})
        else:
            self._sse({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}})
            for i, word in enumerate(text.split(" ")):
                self._sse(
                    {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": word if i == 0 else " " + word}}
                )
        self._sse({"type": "content_block_stop", "index": 0})
        self._sse(
            {
                "type": "message_delta",
                "delta": {"stop_reason": "tool_use" if model == "tools" else "end_turn"},
                "usage": {"output_tokens": 6},
            }
        )
        self._sse({"type": "message_stop"})
        self.wfile.write(b"0\r\n\r\n")


def _last_user(messages: list) -> str:
    for m in reversed(messages):
        if m.get("role") == "user":
            content = m.get("content")
            if isinstance(content, list):
                content = " ".join(p.get("text", "") for p in content if isinstance(p, dict))
            return str(content)
    return ""


def _openai_reply(model: str, text: str) -> dict:
    message: dict = {"role": "assistant", "content": text}
    finish = "length" if model == "long" else "stop"  # it wrote until its cap, as a model with much to say does
    if model == "tools":
        message = {
            "role": "assistant",
            "content": None,
            "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}}],
        }
        finish = "tool_calls"
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": 0,
        "model": model,
        "choices": [{"index": 0, "message": message, "finish_reason": finish}],
        "usage": _openai_usage(model, text),
    }


def _openai_usage(model: str, text: str) -> dict:
    written = len(text.split(" ")) if model == "long" else 5
    return {"prompt_tokens": 10, "completion_tokens": written, "total_tokens": 10 + written, **_openai_cache(model)}


def _openai_cache(model: str) -> dict:
    """A model named `cached` says, as OpenAI does, that its cache served part of the prompt."""
    return {"prompt_tokens_details": {"cached_tokens": 8}} if model == "cached" else {}


def _anthropic_cache(model: str) -> dict:
    """Anthropic counts cache reads and writes apart from input_tokens."""
    return {"cache_read_input_tokens": 100, "cache_creation_input_tokens": 20} if model == "cached" else {}


def _anthropic_reply(model: str, text: str) -> dict:
    content = [{"type": "text", "text": text}]
    if model == "tools":
        content = [{"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Paris"}}]
    return {
        "id": "msg_fake",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": "tool_use" if model == "tools" else "end_turn",
        "usage": {"input_tokens": 12, "output_tokens": 6, **_anthropic_cache(model)},
    }


if __name__ == "__main__":
    server = Upstream(int(sys.argv[1]) if len(sys.argv) > 1 else 0)
    print(server.url, flush=True)
    server.serve_forever()
