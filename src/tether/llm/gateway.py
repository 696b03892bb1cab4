"""An OpenAI-compatible HTTP server over the grid, so any OpenAI client gets tether's routes,
failover, budgets and ledger. Loopback and a bearer token by default.

A bare ASGI app served by uvicorn (httptools, uvloop): a production HTTP parser, a real listen
backlog, bodies read with a size cap and a time limit, and every bad request answered 400 in
OpenAI's error shape. Grid calls are blocking, so each runs on a worker thread; a stream is
handed over chunk by chunk through a queue, and a client that hangs up closes it."""

from __future__ import annotations

import asyncio
import hmac
import json
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

from ..errors import BadRequest, TetherError
from ..serving import Server
from .openai_wire import chunk, completion, finish_reason, parse_request
from .protocol import GridLike
from .types import Response

MAX_BODY = 32 * 1024 * 1024
READ_TIMEOUT = 30.0  # seconds a client may take to send its body
_JSON = [(b"content-type", b"application/json")]


class Gateway:
    """The ASGI app."""

    def __init__(self, grid: GridLike, token: str, workers: int = 64):
        if not token:
            raise BadRequest("the gateway needs a token")
        self.grid, self.token = grid, token.encode()
        self.keys = grid.keys()  # in the ledger's database: every gateway on it sees the same keys
        self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="tether-gateway")
        self.metrics = Metrics()

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return
        path = scope["path"].rstrip("/")
        if scope["method"] == "GET" and path == "/health":  # for load balancers: no token, nothing but up or down
            return await self._health(send)
        started, status = time.perf_counter(), [0]

        async def counted(message) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        self.metrics.in_flight += 1
        try:
            await self._serve(scope, receive, counted, path)
        finally:
            self.metrics.in_flight -= 1
            self.metrics.done(status[0], time.perf_counter() - started)

    async def _serve(self, scope, receive, send, path: str) -> None:
        try:
            given = _bearer(scope)
            caller = (
                "admin"
                if hmac.compare_digest(given, self.token)
                else (await self._run(self.keys.find, given.decode("utf-8", "replace")) if given else None)
            )
            if caller is None:
                return await _error(send, 401, "missing, wrong or revoked bearer token", "invalid_api_key")
            if scope["method"] == "GET" and path == "/metrics":
                if caller != "admin":
                    return await _error(send, 403, "the metrics need the gateway's own token", "forbidden")
                return await _text(send, 200, self.metrics.render())
            if scope["method"] == "GET" and path in ("/v1/models", "/models"):
                return await _json(
                    send,
                    200,
                    {"object": "list", "data": [{"id": n, "object": "model", "owned_by": "tether"} for n in self._models(caller)]},
                )
            if scope["method"] != "POST" or path not in ("/v1/chat/completions", "/chat/completions"):
                return await _error(send, 404, f"no route {scope['method']} {scope['path']}", "not_found")
            model, messages, opts, stream, usage = parse_request(await _body(receive))
            if caller != "admin":
                opts["key"] = caller
            if stream:
                await self._stream(receive, send, model, messages, opts, usage)
            else:
                response = await self._run(self._complete, model, messages, **opts)
                await _json(send, 200, completion(response))
        except TetherError as e:
            await _tether_error(send, e)

    def _complete(self, model: str, messages, **opts) -> Response:
        """A reply is sent only once its ledger row is written: a gateway killed a moment later
        cannot have answered a call the ledger does not know."""
        response = self.grid.complete(model, messages, **opts)
        self.grid.ledger.flush()
        return response

    async def _health(self, send) -> None:
        try:
            await self._run(self.grid.ledger.store.query, "SELECT 1")
            await _json(send, 200, {"status": "ok"})
        except TetherError:
            await _json(send, 503, {"status": "the ledger's database is unreachable"})

    def _models(self, caller) -> list[str]:
        names = sorted(self.grid.config.routes) + [m["model"] for m in self.grid.models() if m["usable"]]
        return names if caller == "admin" else [n for n in names if caller.allows(n)]

    async def _run(self, fn, *args, **kwargs):
        return await asyncio.get_running_loop().run_in_executor(self.pool, lambda: fn(*args, **kwargs))

    async def _stream(self, receive, send, model: str, messages, opts: dict, include_usage: bool) -> None:
        loop = asyncio.get_running_loop()
        items: asyncio.Queue = asyncio.Queue()
        gone = threading.Event()

        async def watch() -> None:  # the body is read: the next message is the client hanging up
            while (await receive())["type"] != "http.disconnect":
                pass
            gone.set()

        def produce() -> None:  # on a worker thread: the grid's stream, item by item, into the queue
            chunks = self.grid.stream(model, messages, **opts)
            try:
                for item in chunks:
                    if isinstance(item, Response):
                        self.grid.ledger.flush()  # the row first, then the end of the stream (see _complete)
                    loop.call_soon_threadsafe(items.put_nowait, item)
                    if gone.is_set():
                        break
            except BaseException as e:  # noqa: BLE001 — handed to the event loop, raised there
                loop.call_soon_threadsafe(items.put_nowait, e)
            finally:
                chunks.close()  # a client that hung up leaves a 'cancelled' row, not a dangling stream
                loop.call_soon_threadsafe(items.put_nowait, None)

        loop.run_in_executor(self.pool, produce)
        watcher = asyncio.ensure_future(watch())
        try:
            await self._send_stream(send, items, model, include_usage)
        finally:
            watcher.cancel()

    async def _send_stream(self, send, items: asyncio.Queue, model: str, include_usage: bool) -> None:
        first = await items.get()
        if isinstance(first, BaseException):  # errors before the first token become a plain HTTP error
            raise first
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"text/event-stream"), (b"cache-control", b"no-cache")],
            }
        )
        cid, created = f"chatcmpl-{uuid.uuid4().hex[:24]}", int(time.time())
        item = first
        while item is not None:
            if isinstance(item, BaseException):  # after the first token: the stream says so and ends (a StreamInterrupted, mostly)
                await _event(
                    send, {"error": {"message": str(item), "type": item.error_type if isinstance(item, TetherError) else "upstream_error"}}
                )
            elif isinstance(item, Response):
                await _event(
                    send, chunk(cid, created, item.model, {}, finish_reason(item), item if include_usage else None, item.tool_calls)
                )
                await send({"type": "http.response.body", "body": b"data: [DONE]\n\n", "more_body": True})
            else:
                await _event(send, chunk(cid, created, model, {"content": item}, None))
            item = await items.get()
        await send({"type": "http.response.body", "body": b""})


async def _body(receive) -> bytes:
    """The request body, within a size cap and a time limit (a client that stalls is cut off)."""

    async def read() -> bytes:
        parts, size = [], 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise BadRequest("the client went away")
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > MAX_BODY:
                raise BadRequest(f"body over {MAX_BODY} bytes")
            parts.append(chunk)
            if not message.get("more_body"):
                return b"".join(parts)

    try:
        return await asyncio.wait_for(read(), READ_TIMEOUT)
    except asyncio.TimeoutError:
        raise BadRequest(f"the body did not arrive within {READ_TIMEOUT:g}s") from None


async def _json(send, status: int, payload: dict) -> None:
    data = json.dumps(payload).encode()
    await send({"type": "http.response.start", "status": status, "headers": [*_JSON, (b"content-length", str(len(data)).encode())]})
    await send({"type": "http.response.body", "body": data})


def _bearer(scope) -> bytes:
    for name, value in scope["headers"]:
        if name == b"authorization":
            return value[7:] if value[:7].lower() == b"bearer " else b""
    return b""


async def _text(send, status: int, text: str) -> None:
    data = text.encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"text/plain; version=0.0.4"), (b"content-length", str(len(data)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": data})


class Metrics:
    """What Prometheus scrapes from /metrics: requests by status, their latency, those in flight."""

    BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)

    def __init__(self):
        self.in_flight = 0
        self.by_status: dict[int, int] = {}
        self.buckets = [0] * len(self.BUCKETS)
        self.count, self.total = 0, 0.0

    def done(self, status: int, seconds: float) -> None:
        self.by_status[status] = self.by_status.get(status, 0) + 1
        self.count, self.total = self.count + 1, self.total + seconds
        for n, bound in enumerate(self.BUCKETS):
            if seconds <= bound:
                self.buckets[n] += 1

    def render(self) -> str:
        lines = ["# TYPE tether_gateway_requests_total counter"]
        lines += [f'tether_gateway_requests_total{{status="{code}"}} {n}' for code, n in sorted(self.by_status.items())]
        lines += [
            "# TYPE tether_gateway_in_flight gauge",
            f"tether_gateway_in_flight {self.in_flight}",
            "# TYPE tether_gateway_request_seconds histogram",
        ]
        lines += [f'tether_gateway_request_seconds_bucket{{le="{b}"}} {n}' for b, n in zip(self.BUCKETS, self.buckets, strict=False)]
        lines += [
            f'tether_gateway_request_seconds_bucket{{le="+Inf"}} {self.count}',
            f"tether_gateway_request_seconds_sum {self.total:.6f}",
            f"tether_gateway_request_seconds_count {self.count}",
        ]
        return "\n".join(lines) + "\n"


async def _error(send, status: int, message: str, kind: str) -> None:
    await _json(send, status, {"error": {"message": message, "type": kind, "param": None, "code": kind}})


async def _tether_error(send, e: TetherError) -> None:
    """The error answered as its class says (errors.py: the web app reads the same status)."""
    await _error(send, e.http_status, str(e), e.error_type)


async def _event(send, payload: dict) -> None:
    await send({"type": "http.response.body", "body": b"data: " + json.dumps(payload).encode() + b"\n\n", "more_body": True})


class GatewayServer(Server):
    """The gateway on a socket of its own (see `serving.Server`)."""

    what = "the gateway"

    def __init__(self, grid: GridLike, token: str, host: str = "127.0.0.1", port: int = 8765):
        self.grid = grid
        super().__init__(Gateway(grid, token), host, port)

    @property
    def url(self) -> str:
        return self.origin + "/v1"

    def server_close(self) -> None:
        super().server_close()
        self.app.pool.shutdown(wait=False, cancel_futures=True)
