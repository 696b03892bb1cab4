"""A pool of OpenAI-compatible inference servers (vLLM, llama.cpp server, Ollama) as one provider.

Each call goes to the healthy member with the fewest requests in flight (ties taken in turn). A
member that fails with a transient error (refused, reset, timeout, 5xx) is out for `cooldown`
seconds, and the call moves on to the next member; after the cooldown one call probes it, as the
grid's breakers do for providers. A stream moves on only before its first chunk. Only when every
member has failed does the call fail, and then the route's own failover takes over."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Iterator

from ...config import ProviderConfig
from ...errors import ConfigError, TransientError
from ..types import Request, Response
from . import Provider
from .openai import OpenAIProvider


class Member:
    def __init__(self, provider: OpenAIProvider):
        self.provider, self.in_flight, self.down_until, self.served = provider, 0, 0.0, 0


class PoolProvider(Provider):
    def __init__(self, cfg: ProviderConfig, clock=time.monotonic):
        super().__init__(cfg)
        urls = cfg.options.get("members")
        if not isinstance(urls, list) or not urls or not all(isinstance(u, str) and u.startswith(("http://", "https://")) for u in urls):
            raise ConfigError(f"providers.{cfg.name}: a pool needs options.members, a list of base URLs (http://host:port/v1)")
        self.cooldown = float(cfg.options.get("cooldown", 10.0))
        self.members = [
            Member(OpenAIProvider(ProviderConfig(f"{cfg.name}#{n}", "openai", url, cfg.api_key_env, cfg.timeout, cfg.headers)))
            for n, url in enumerate(urls, start=1)
        ]
        self._turn = itertools.count()
        self._lock = threading.Lock()
        self.clock = clock

    def _order(self) -> list[Member]:
        """Healthy members first, fewest in flight first, ties in turn; members cooling down last."""
        now, turn = self.clock(), next(self._turn)
        n = len(self.members)
        return sorted(self.members, key=lambda m: (m.down_until > now, m.in_flight, (self.members.index(m) - turn) % n))

    def _take(self, member: Member) -> None:
        with self._lock:
            member.in_flight += 1

    def _give(self, member: Member, failed: bool) -> None:
        with self._lock:
            member.in_flight -= 1
            if failed:
                member.down_until = self.clock() + self.cooldown
            else:
                member.down_until, member.served = 0.0, member.served + 1

    def complete(self, req: Request) -> Response:
        last: TransientError | None = None
        with self._lock:
            order = self._order()
        for member in order:
            self._take(member)
            try:
                response = member.provider.complete(req)
            except TransientError as e:
                self._give(member, failed=True)
                last = e
                continue
            except BaseException:
                self._give(member, failed=False)
                raise
            self._give(member, failed=False)
            response.provider = self.name
            return response
        raise TransientError(f"{self.name}: all {len(self.members)} members failed (last: {last})")

    def stream(self, req: Request) -> Iterator[str | Response]:
        last: TransientError | None = None
        with self._lock:
            order = self._order()
        for member in order:
            self._take(member)
            started, failed = False, False
            try:
                for item in member.provider.stream(req):
                    started = True
                    if isinstance(item, Response):
                        item.provider = self.name
                    yield item
                return
            except TransientError as e:
                failed = True
                if started:
                    raise
                last = e
            finally:
                self._give(member, failed)
        raise TransientError(f"{self.name}: all {len(self.members)} members failed (last: {last})")

    def close(self) -> None:
        for m in self.members:
            m.provider.close()


PROVIDER = PoolProvider
