"""The wire, in one place: an HTTP client per provider, status codes mapped onto our
error tree, and server-sent-event lines. Providers only build bodies and read them."""

from __future__ import annotations

import email.utils
import json
import time
from collections.abc import Iterator

import httpx

from ...errors import AuthError, BadRequest, MalformedResponse, ProviderError, ProviderTimeout, RateLimited, TransientError
from ...redaction import scrub

_MAX_DETAIL = 300


def client(headers: dict, timeout: float) -> httpx.Client:
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=32)
    return httpx.Client(headers={"content-type": "application/json", **headers}, timeout=timeout, limits=limits)


def post_json(http: httpx.Client, url: str, body: dict, timeout: float | None, who: str) -> dict:
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


def stream_lines(http: httpx.Client, url: str, body: dict, timeout: float | None, who: str) -> Iterator[str]:
    """The `data:` payloads of an SSE response, as text."""
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
