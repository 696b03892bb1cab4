"""The web app's door: only this machine, only the person holding the printed URL, and no other
site can drive it. A one-time token in the URL becomes an HttpOnly SameSite cookie; Host and
Origin are checked (DNS rebinding); every POST carries a CSRF token; every page a strict CSP."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from http.cookies import SimpleCookie
from urllib.parse import parse_qs, urlencode

COOKIE = "tether_ui"
HEADERS = [
    (b"content-security-policy", b"default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                                 b"connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"),
    (b"x-frame-options", b"DENY"), (b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"same-origin"),
    (b"cache-control", b"no-store"),
]


class Door:
    def __init__(self, app, host: str, port: int, token: str | None = None):
        self.app, self.host, self.port = app, host, port  # the port is set again once port 0 is bound
        self.token = token or secrets.token_urlsafe(24)  # good once: it becomes the session cookie
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
        query = parse_qs(scope.get("query_string", b"").decode())
        if query.get("token") and self.token and hmac.compare_digest(query["token"][0], self.token):
            self.token = ""  # used: the URL cannot be replayed from a history or a log
            rest = urlencode({k: v for k, v in query.items() if k != "token"}, doseq=True)
            location = scope["path"] + (f"?{rest}" if rest else "")
            cookie = f"{COOKIE}={self.session}; HttpOnly; SameSite=Strict; Path=/"
            return await _plain(send, 303, "signed in", [(b"location", location.encode()), (b"set-cookie", cookie.encode())])
        jar = SimpleCookie(headers.get(b"cookie", b"").decode("latin-1"))
        if COOKIE not in jar or not hmac.compare_digest(jar[COOKIE].value, self.session):
            return await _plain(send, 401, "open the URL that `tether ui` printed (its token works once)")
        scope.setdefault("state", {})["csrf"] = self.csrf

        async def secured(message):
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *HEADERS]}
            await send(message)

        await self.app(scope, receive, secured)

    def csrf_ok(self, value: str | None) -> bool:
        return bool(value) and hmac.compare_digest(value, self.csrf)


async def _plain(send, status: int, text: str, extra: list | None = None) -> None:
    body = text.encode() + b"\n"
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"text/plain; charset=utf-8"), (b"content-length", str(len(body)).encode()), *HEADERS, *(extra or [])]})
    await send({"type": "http.response.body", "body": body})
