"""An OpenAI-compatible HTTP server over the grid, so any OpenAI client gets tether's
routes, failover, budgets and ledger. Loopback and a bearer token by default."""

from __future__ import annotations

import hmac
import json
import socket
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from ..errors import (AuthError, BadRequest, BudgetExceeded, MissingKey, ModelNotAvailable, ProviderTimeout,
                      StreamInterrupted, TetherError, UnknownModel)
from .router import Grid
from .types import Response

_STATUS = [(UnknownModel, 404, "model_not_found"), (BudgetExceeded, 429, "budget_exceeded"), (BadRequest, 400, "invalid_request_error"),
           (MissingKey, 503, "provider_unavailable"), (ModelNotAvailable, 503, "provider_unavailable"), (AuthError, 502, "upstream_auth_error"),
           (ProviderTimeout, 504, "timeout")]
MAX_BODY = 32 * 1024 * 1024


class GatewayServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, grid: Grid, token: str, host: str = "127.0.0.1", port: int = 8765):
        if not token:
            raise BadRequest("the gateway needs a token")
        self.grid, self.token = grid, token
        super().__init__((host, port), _Handler)

    def handle_error(self, request, client_address):
        import sys

        error = sys.exc_info()[1]
        if not isinstance(error, ConnectionError):  # a client hanging up is not worth a word
            sys.stderr.write(f"tether gateway: {type(error).__name__}: {error}\n")

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}/v1"

    def start(self) -> threading.Thread:
        """Serve in a background thread (for tests and embedding); `shutdown()` stops it."""
        thread = threading.Thread(target=self.serve_forever, name="tether-gateway", daemon=True)
        thread.start()
        return thread


class _Headers(dict):
    """Request headers, lower-cased: the stdlib's email parser costs more than the rest of a hop."""

    def get(self, key, default=None):
        return super().get(key.lower(), default)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: GatewayServer

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def parse_request(self) -> bool:
        self.requestline = self.raw_requestline.decode("latin-1").rstrip("\r\n")
        words = self.requestline.split()
        if len(words) != 3 or not words[2].startswith("HTTP/1."):
            self.send_error(400, "bad request line")
            return False
        self.command, self.path, self.request_version = words
        headers = _Headers()
        for _ in range(100):
            line = self.rfile.readline(65537)
            if line in (b"\r\n", b"\n", b""):
                break
            name, _, value = line.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        else:
            self.send_error(431, "too many headers")
            return False
        self.headers = headers
        connection = headers.get("connection", "").lower()
        self.close_connection = connection == "close" or (self.request_version == "HTTP/1.0" and connection != "keep-alive")
        return True

    def log_message(self, format, *args) -> None:  # the ledger is the log
        pass

    def do_GET(self) -> None:
        if not self._authorized():
            return
        if self.path.rstrip("/") in ("/v1/models", "/models"):
            grid = self.server.grid
            names = sorted(grid.config.routes) + [m["model"] for m in grid.models() if m["usable"]]
            self._json(200, {"object": "list", "data": [{"id": n, "object": "model", "owned_by": "tether"} for n in names]})
        else:
            self._error(404, f"no route {self.path}", "not_found")

    def do_POST(self) -> None:
        if not self._authorized():
            return
        if self.path.rstrip("/") not in ("/v1/chat/completions", "/chat/completions"):
            self._error(404, f"no route {self.path}", "not_found")
            return
        try:
            body = self._body()
            model = body.get("model")
            if not isinstance(model, str) or not model:
                raise BadRequest("the body needs a model (a route name or provider/model)")
            opts = _options(body)
            if body.get("stream"):
                include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
                self._stream(model, body.get("messages"), opts, include_usage)
            else:
                response = self.server.grid.complete(model, body.get("messages"), **opts)
                self._json(200, _completion(response))
        except TetherError as e:
            self._tether_error(e)

    # -- helpers ------------------------------------------------------------------------------

    def _authorized(self) -> bool:
        header = self.headers.get("authorization", "")
        given = header[7:] if header.lower().startswith("bearer ") else ""
        if hmac.compare_digest(given.encode(), self.server.token.encode()):
            return True
        self._error(401, "missing or wrong bearer token", "invalid_api_key")
        return False

    def _body(self) -> dict:
        try:
            length = int(self.headers.get("content-length") or 0)
        except ValueError:
            raise BadRequest("bad content-length") from None
        if length > MAX_BODY:
            raise BadRequest(f"body over {MAX_BODY} bytes")
        try:
            body = json.loads(self.rfile.read(length) or b"{}")
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise BadRequest(f"body is not JSON: {e}") from None
        if not isinstance(body, dict):
            raise BadRequest("body must be a JSON object")
        return body

    def _stream(self, model: str, messages, opts: dict, include_usage: bool) -> None:
        chunks = self.server.grid.stream(model, messages, **opts)
        first = next(chunks)  # errors before the first token become a plain HTTP error
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("cache-control", "no-cache")
        self.send_header("transfer-encoding", "chunked")
        self.end_headers()
        cid, created = f"chatcmpl-{uuid.uuid4().hex[:24]}", int(time.time())
        try:
            item = first
            while True:
                if isinstance(item, Response):
                    self._event(_chunk(cid, created, item.model, {}, _finish(item), item if include_usage else None, item.tool_calls))
                    self._write(b"data: [DONE]\n\n")
                    break
                self._event(_chunk(cid, created, model, {"content": item}, None))
                item = next(chunks)
        except StreamInterrupted as e:
            self._event({"error": {"message": str(e), "type": "stream_interrupted"}})
        finally:
            chunks.close()  # a client that hung up leaves a 'cancelled' row, not a dangling stream
        self._write(b"")  # the terminating chunk

    def _event(self, payload: dict) -> None:
        self._write(b"data: " + json.dumps(payload).encode() + b"\n\n")

    def _write(self, data: bytes) -> None:
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def _json(self, status: int, payload: dict) -> None:
        data = json.dumps(payload).encode()
        head = f"HTTP/1.1 {status} {self.responses.get(status, ('',))[0]}\r\ncontent-type: application/json\r\ncontent-length: {len(data)}\r\n\r\n"
        self.wfile.write(head.encode() + data)  # one write, one packet

    def _error(self, status: int, message: str, kind: str) -> None:
        self._json(status, {"error": {"message": message, "type": kind, "code": kind}})

    def _tether_error(self, e: TetherError) -> None:
        for cls, status, kind in _STATUS:
            if isinstance(e, cls):
                return self._error(status, str(e), kind)
        self._error(502, str(e), "upstream_error")


def _options(body: dict) -> dict:
    opts = {}
    max_tokens = body.get("max_completion_tokens", body.get("max_tokens"))
    if max_tokens is not None:
        opts["max_tokens"] = max_tokens
    for key in ("temperature", "seed", "tools", "tool_choice"):
        if body.get(key) is not None:
            opts[key] = body[key]
    if body.get("stop"):
        opts["stop"] = [body["stop"]] if isinstance(body["stop"], str) else body["stop"]
    fmt = body.get("response_format") or {}
    if fmt.get("type") == "json_schema":
        opts["schema"] = (fmt.get("json_schema") or {}).get("schema") or {"type": "object"}
    elif fmt.get("type") == "json_object":
        opts["schema"] = {"type": "object"}
    return opts


def _finish(r: Response) -> str:
    return "tool_calls" if r.tool_calls else (r.finish_reason if r.finish_reason in ("stop", "length") else "stop")


def _calls(r_calls) -> list[dict]:
    return [{"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}} for c in r_calls]


def _usage(r: Response) -> dict:
    return {"prompt_tokens": r.usage.input_tokens, "completion_tokens": r.usage.output_tokens, "total_tokens": r.usage.total_tokens}


def _meta(r: Response) -> dict:
    return {"provider": r.provider, "route": r.route, "cost_usd": r.cost_usd, "latency_ms": round(r.latency_ms, 3), "attempts": r.attempts}


def _completion(r: Response) -> dict:
    message: dict = {"role": "assistant", "content": r.text}
    if r.tool_calls:
        message["tool_calls"] = _calls(r.tool_calls)
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex[:24]}", "object": "chat.completion", "created": int(time.time()), "model": r.model,
        "choices": [{"index": 0, "message": message, "finish_reason": _finish(r)}],
        "usage": _usage(r), "tether": _meta(r),
    }


def _chunk(cid, created, model, delta, finish, usage_from: Response | None = None, calls=None) -> dict:
    if calls:
        delta = {"tool_calls": [{"index": i, **c} for i, c in enumerate(_calls(calls))]}
    chunk = {"id": cid, "object": "chat.completion.chunk", "created": created, "model": model,
             "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
    if usage_from is not None:
        chunk["usage"] = _usage(usage_from)
        chunk["tether"] = _meta(usage_from)
    return chunk
