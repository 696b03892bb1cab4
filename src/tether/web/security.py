"""The web app's door: only this machine, only the person holding the printed URL, and no other
site can drive it. A one-time token in the URL becomes an HttpOnly SameSite cookie; Host and
Origin are checked (DNS rebinding); every POST carries a CSRF token; every page a strict CSP; a
request body is read only up to its route's cap (413 past it, the rest never read)."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from http.cookies import SimpleCookie
from urllib.parse import parse_qs, urlencode

from ..errors import TetherError

COOKIE = "tether_ui"
HEADERS = [
    (
        b"content-security-policy",
        b"default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        b"connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
    ),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"cache-control", b"no-store"),
]
MAX_BODY = 1024 * 1024  # the pages post small forms and JSON, and upload nothing
BODY_LIMITS = [(re.compile(r"/runs/[^/]+/decide"), 8 * MAX_BODY)]  # an edited hunk: up to a whole file the walk reads (1 MB), JSON-escaped


SIGN_IN = "open the URL that `tether ui` printed (its token works once); `tether ui --link` prints a fresh one"


class Door:
    def __init__(self, app, host: str, port: int, token: str | None = None):
        self.app, self.host, self.port = app, host, port  # the port is set again once port 0 is bound
        self.token = token or secrets.token_urlsafe(24)  # good once: it becomes the session cookie
        self.admin = secrets.token_urlsafe(32)  # `tether ui --link` proves it may ask for a new token (web/links.py)
        self.session = secrets.token_urlsafe(32)
        self.csrf = hmac.new(self.session.encode(), b"csrf", hashlib.sha256).hexdigest()

    @property
    def hosts(self) -> set[bytes]:
        return {f"{h}:{self.port}".encode() for h in ("127.0.0.1", "localhost", "[::1]", self.host)}

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = dict(scope["headers"])
        if headers.get(b"host") not in self.hosts:
            return await _plain(send, 400, "this page is served only as 127.0.0.1 or localhost")
        origin = headers.get(b"origin")
        if origin is not None and origin not in {b"http://" + h for h in self.hosts}:
            return await _plain(send, 403, "requests from another site are refused")
        if scope["path"] == "/door/link" and scope["method"] == "POST":
            if not _same(headers.get(b"x-tether-admin", b"").decode("latin-1"), self.admin):
                return await _plain(send, 401, "a new sign-in link is for `tether ui --link` on this machine")
            self.token = secrets.token_urlsafe(24)  # a new one-time token; one not yet used stops working
            return await _plain(send, 200, self.token)
        query = parse_qs(scope.get("query_string", b"").decode())
        if query.get("token") and self.token and _same(query["token"][0], self.token):
            self.token = ""  # used: the URL cannot be replayed from a history or a log
            rest = urlencode({k: v for k, v in query.items() if k != "token"}, doseq=True)
            location = scope["path"] + (f"?{rest}" if rest else "")
            cookie = f"{COOKIE}={self.session}; HttpOnly; SameSite=Strict; Path=/"
            return await _plain(send, 303, "signed in", [(b"location", location.encode()), (b"set-cookie", cookie.encode())])
        jar = SimpleCookie(headers.get(b"cookie", b"").decode("latin-1"))
        if COOKIE not in jar or not _same(jar[COOKIE].value, self.session):
            return await _plain(send, 401, SIGN_IN)
        limit = body_limit(scope["path"])
        declared = headers.get(b"content-length", b"0")
        body = None if declared.isdigit() and int(declared) > limit else await read_body(receive, limit)
        if body is None:
            return await _plain(send, 413, f"the request body is over {limit} bytes", [(b"connection", b"close")])
        scope.setdefault("state", {})["csrf"] = self.csrf

        async def secured(message):
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *HEADERS]}
            await send(message)

        await self.app(scope, replay(body, receive), secured)

    def csrf_ok(self, value) -> bool:
        return isinstance(value, str) and bool(value) and _same(value, self.csrf)


def body_limit(path: str) -> int:
    """The most bytes a request to `path` may send."""
    return next((limit for pattern, limit in BODY_LIMITS if pattern.fullmatch(path)), MAX_BODY)


async def read_body(receive, limit: int) -> dict | None:
    """The request's body as one message, or None as soon as it passes `limit` (the rest is never
    read); a client gone midway is passed on as its disconnect."""
    parts, size = [], 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return message
        parts.append(message.get("body", b""))
        size += len(parts[-1])
        if size > limit:
            return None
        if not message.get("more_body"):
            return {"type": "http.request", "body": b"".join(parts), "more_body": False}


def replay(first: dict, receive):
    """A receive that gives `first` (the body, read already), then what the client sends next."""
    pending = [first]

    async def again():
        return pending.pop() if pending else await receive()

    return again


def _same(given: str, secret: str) -> bool:
    """A constant-time comparison that takes any text (compare_digest refuses non-ASCII str)."""
    return hmac.compare_digest(given.encode("utf-8", "surrogatepass"), secret.encode())


async def _plain(send, status: int, text: str, extra: list | None = None) -> None:
    body = text.encode() + b"\n"
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"text/plain; charset=utf-8"),
                (b"content-length", str(len(body)).encode()),
                *HEADERS,
                *(extra or []),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class Forbidden(TetherError):
    """A change asked without the page's CSRF token (or from another site)."""

    http_status, error_type = 403, "forbidden"
