"""The wire, in one place: an HTTP client per provider, status codes mapped onto our
error tree, and server-sent-event lines. Providers only build bodies and read them."""

from __future__ import annotations

import email.utils
import json
import queue
import threading
import time
from collections.abc import Iterator

import httpx

from ...errors import AuthError, BadRequest, Cancelled, MalformedResponse, ProviderError, ProviderTimeout, RateLimited, TransientError
from ...redaction import scrub
from . import Provider

_MAX_DETAIL = 300


class HTTPProvider(Provider):
    """A provider spoken to over HTTP: one client for its life, its key in the headers the wire
    protocol names. Subclasses give `PATH`, `HEADERS` and `key_headers`."""

    PATH = ""
    HEADERS: dict = {}
    _http_client: httpx.Client | None = None

    def key_headers(self, key: str) -> dict:
        raise NotImplementedError

    @property
    def url(self) -> str:
        return (self.cfg.base_url or "").rstrip("/") + self.PATH

    @property
    def http(self) -> httpx.Client:
        if self._http_client is None:
            key = self.api_key()
            headers = {"user-agent": "tether", **self.HEADERS, **self.cfg.headers, **(self.key_headers(key) if key else {})}
            self._http_client = client(headers, self.cfg.timeout)
        return self._http_client

    def close(self) -> None:
        if self._http_client is not None:
            self._http_client.close()


def client(headers: dict, timeout: float) -> httpx.Client:
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=32)
    return httpx.Client(headers={"content-type": "application/json", **headers}, timeout=timeout, limits=limits)


STOP_POLL = 0.1  # seconds between looks at a Stop while a request is in flight


def post_json(http: httpx.Client, url: str, body: dict, timeout: float | None, who: str, cancel=None) -> dict:
    """The JSON reply of a POST; with `cancel` (an Event), Stop raises Cancelled at once while the
    request is in flight, and the request ends on its own in the background."""
    if cancel is None:
        return _post_json(http, url, body, timeout, who)
    return next(_stoppable(lambda: iter([_post_json(http, url, body, timeout, who)]), cancel, who))


def _stoppable(produce, cancel, who: str) -> Iterator:
    """The items of `produce()`, made in a thread of their own so that the caller sees a Stop
    within STOP_POLL seconds even while the wire is silent (a long prompt, a hung server)."""
    items: queue.Queue = queue.Queue()
    end = object()

    def work():
        try:
            for item in produce():
                items.put((item, None))
                if cancel.is_set():
                    return
        except BaseException as e:  # handed to the caller
            items.put((None, e))
        items.put((end, None))

    threading.Thread(target=work, name=f"tether-wire-{who}", daemon=True).start()
    while True:
        try:
            item, error = items.get(timeout=STOP_POLL)
        except queue.Empty:
            if cancel.is_set():
                raise Cancelled(f"{who}: stopped while waiting for the reply") from None
            continue
        if error is not None:
            raise error
        if item is end:
            return
        yield item
        if cancel.is_set():
            raise Cancelled(f"{who}: stopped")


def _post_json(http: httpx.Client, url: str, body: dict, timeout: float | None, who: str) -> dict:
    try:
        response = http.post(url, content=json.dumps(body), timeout=timeout)
    except httpx.HTTPError as e:
        raise transport_error(e, who, _keys(http)) from None
    if response.status_code >= 400:
        raise status_error(response.status_code, response.headers, response.text, who, _keys(http))
    try:
        return json.loads(response.content)
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise MalformedResponse(f"{who}: reply is not JSON: {_excerpt(response.text, _keys(http))}") from None


def stream_lines(http: httpx.Client, url: str, body: dict, timeout: float | None, who: str, cancel=None) -> Iterator[str]:
    """The `data:` payloads of an SSE response, as text; with `cancel`, Stop lands between them
    and while the wire is silent."""
    if cancel is None:
        return _stream_lines(http, url, body, timeout, who)
    return _stoppable(lambda: _stream_lines(http, url, body, timeout, who), cancel, who)


def _stream_lines(http: httpx.Client, url: str, body: dict, timeout: float | None, who: str) -> Iterator[str]:
    try:
        with http.stream("POST", url, content=json.dumps(body), timeout=timeout) as response:
            if response.status_code >= 400:
                response.read()
                raise status_error(response.status_code, response.headers, response.text, who, _keys(http))
            for line in response.iter_lines():
                if line.startswith("data:"):
                    yield line[5:].strip()
    except httpx.HTTPError as e:
        raise transport_error(e, who, _keys(http)) from None


def parse_event(payload: str, who: str) -> dict:
    try:
        event = json.loads(payload)
    except json.JSONDecodeError:
        raise MalformedResponse(f"{who}: stream sent something that is not JSON: {_excerpt(payload)}") from None
    if not isinstance(event, dict):
        raise MalformedResponse(f"{who}: stream sent {type(event).__name__}, not an object")
    return event


def _keys(http: httpx.Client) -> tuple[str, ...]:
    """The credentials this client sends, so that no error text can echo them."""
    return tuple(v.split()[-1] for k, v in http.headers.items() if k.lower() in ("authorization", "x-api-key", "api-key") and v.split())


def transport_error(e: httpx.HTTPError, who: str, keys: tuple[str, ...] = ()) -> ProviderError:
    if isinstance(e, httpx.TimeoutException):
        return ProviderTimeout(f"{who}: timed out ({type(e).__name__})")
    if isinstance(e, httpx.TransportError):
        return TransientError(f"{who}: connection failed ({type(e).__name__}: {_excerpt(str(e), keys)})")
    return ProviderError(f"{who}: {type(e).__name__}: {_excerpt(str(e), keys)}")


def status_error(status: int, headers, text: str, who: str, keys: tuple[str, ...] = ()) -> ProviderError:
    detail = _error_detail(text, keys)
    message = f"{who}: HTTP {status}: {detail}"
    if status == 429:
        return RateLimited(message, status=status, retry_after=retry_after(headers.get("retry-after")))
    if status in (401, 403):
        return AuthError(message + " (check the API key)", status=status)
    if status >= 500 or status in (408, 409):
        return TransientError(message, status=status, retry_after=retry_after(headers.get("retry-after")))
    return BadRequest(message, status=status)


def retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _error_detail(text: str, keys: tuple[str, ...] = ()) -> str:
    try:
        body = json.loads(text)
        error = body.get("error", body) if isinstance(body, dict) else body
        if isinstance(error, dict):
            return _excerpt(str(error.get("message") or error), keys)
        return _excerpt(str(error), keys)
    except (json.JSONDecodeError, ValueError):
        return _excerpt(text, keys) or "(empty body)"


def _excerpt(text: str, keys: tuple[str, ...] = ()) -> str:
    """A short, one-line, scrubbed piece of what an upstream said: error bodies echo headers."""
    text = scrub(" ".join(text.split()), keys)
    return text if len(text) <= _MAX_DETAIL else text[:_MAX_DETAIL] + "…"
