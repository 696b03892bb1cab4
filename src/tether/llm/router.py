"""The Grid: one client over every provider. A model name or route resolves to an ordered
failover list; each attempt is retried with backoff (honouring Retry-After), bounded by a
per-attempt timeout and an overall deadline, skipped while its provider's circuit is open,
checked against the budgets before it is sent, and written to the ledger after."""

from __future__ import annotations

import threading
import time
from collections.abc import Generator
from pathlib import Path

from .. import config as config_mod
from ..config import Config, RouteConfig
from ..errors import (
    Cancelled,
    ProviderError,
    StreamInterrupted,
    TetherError,
    UnknownModel,
)
from ..store import Store
from . import models
from .breaker import Breaker
from .call import Call
from .keys import Keys
from .meter import Ledger, ledger_store
from .providers import Provider, create
from .types import Response


class Grid:
    def __init__(
        self, config: Config | None = None, store: Store | None = None, providers: dict[str, Provider] | None = None, sleep=time.sleep
    ):
        self.config = config or config_mod.load()
        self.store = store or Store()
        self.ledger = Ledger(ledger_store(self.config, self.store), self.config)
        self._injected = dict(providers or {})  # given by the caller (a test's scripted provider): kept through a refresh
        self._providers: dict[str, Provider] = dict(self._injected)
        self._breakers: dict[str, Breaker] = {}
        self._lock = threading.Lock()
        self.sleep = sleep

    def refresh(self) -> None:
        """Take the config its files say now, if they changed (a long-lived face calls this before
        each request): the providers are made again from it; the ledger stays where it is."""
        config = self.config.fresh()
        if config is not self.config:
            with self._lock:
                self.config, self._providers, self._breakers = config, dict(self._injected), {}

    @classmethod
    def from_config(cls, path: str | Path | None = None, start: str | Path | None = None, **kwargs) -> "Grid":
        """The grid of the config at `path`, else of the one found from `start` (a workspace)."""
        return cls(config_mod.load(path, start), **kwargs)

    # -- resolution ---------------------------------------------------------------------------

    def route(self, model: str) -> tuple[str | None, RouteConfig]:
        """A route by name, or a single-model route for "provider/name"."""
        if model in self.config.routes:
            return model, self.config.routes[model]
        provider, sep, name = model.partition("/")
        if not sep or not name:
            raise UnknownModel(
                f'unknown model or route {model!r}: write "provider/model" or a route name (routes: '
                f"{', '.join(sorted(self.config.routes))})"
            )
        if provider not in self.config.providers and provider not in self._providers:
            raise UnknownModel(f"unknown provider {provider!r} in {model!r} (providers: {', '.join(sorted(self.config.providers))})")
        return None, RouteConfig(name=model, models=(model,))

    def provider(self, name: str) -> Provider:
        with self._lock:
            if name not in self._providers:
                if name not in self.config.providers:
                    raise UnknownModel(f"unknown provider {name!r} (providers: {', '.join(sorted(self.config.providers))})")
                self._providers[name] = create(self.config.providers[name])
            return self._providers[name]

    def context_window(self, model: str, fallback: int = 32_000) -> int:
        """The tokens every model of `model` (a route or provider/name) can hold: the smallest."""
        _, route = self.route(model)
        windows = []
        for name in route.models:
            provider, _, short = name.partition("/")
            window = self.provider(provider).context_window(short) if provider in self.config.providers else None
            windows.append(window or models.info(name, self.config).context_window or fallback)
        return min(windows)

    def keys(self) -> Keys:
        """The gateway's virtual keys: in the ledger's database, so every gateway and `tether keys` on it see the same."""
        return Keys(self.ledger.store)

    def breaker(self, provider: str) -> Breaker:
        with self._lock:
            return self._breakers.setdefault(provider, Breaker())

    # -- calls --------------------------------------------------------------------------------

    def complete(self, model: str, messages, **opts) -> Response:
        call = Call(self, model, messages, opts, stream=False)
        for attempt in call.attempts():
            if attempt.request.progress is not None and not attempt.provider.reports_progress:
                attempt.request.progress("sent", model=attempt.model)  # a hosted model shows nothing until it answers
            try:
                response = attempt.provider.complete(attempt.request)
            except ProviderError as e:
                call.failed(attempt, e)
                continue
            except Cancelled as e:
                call.record(attempt, "cancelled", None, e)
                raise call.charged(e) from None
            return call.succeeded(attempt, response, ttft_ms=response.ttft_ms)  # a provider that streams inside knows it
        raise call.failure()

    def stream(self, model: str, messages, **opts) -> Generator[str | Response, None, None]:
        """Text chunks as they come, then the final Response. A failure before the first chunk
        fails over; one after it raises StreamInterrupted, since a retry would repeat text."""
        call = Call(self, model, messages, opts, stream=True)
        for attempt in call.attempts():
            delivered: list[str] = []
            ttft = None
            outcome = "cancelled"
            progress = None if attempt.provider.reports_progress else attempt.request.progress  # a hosted model: sent, then written
            try:
                if progress is not None:
                    progress("sent", model=attempt.model)
                for item in attempt.provider.stream(attempt.request):
                    if isinstance(item, Response):
                        outcome = "ok"
                        yield call.succeeded(attempt, item, ttft)
                        return
                    if ttft is None:
                        ttft = (time.perf_counter() - attempt.started) * 1000
                    delivered.append(item)
                    if progress is not None:
                        progress("writing", text=item)
                    yield item
                raise ProviderError(f"{attempt.model}: stream ended without a final response")
            except ProviderError as e:
                outcome = "failed"
                if not delivered:
                    call.failed(attempt, e)
                    continue
                call.record(attempt, "interrupted", ttft, e, partial="".join(delivered))
                raise call.charged(
                    StreamInterrupted(
                        f"{attempt.model}: the stream broke after {len(''.join(delivered))} characters ({e}); the reply above is incomplete"
                    )
                ) from None
            except Cancelled as e:  # the provider saw the caller's stop
                outcome = "stopped"
                call.record(attempt, "cancelled", ttft, e, partial="".join(delivered))
                raise call.charged(e) from None
            finally:
                if outcome == "cancelled":  # the consumer stopped reading (Ctrl-C, break)
                    call.record(attempt, "cancelled", ttft, None, partial="".join(delivered))
        raise call.failure()

    # -- catalogue ----------------------------------------------------------------------------

    def catalogue(self) -> dict:
        """The routes and every model with whether it can be called now (`tether models`)."""
        return {"routes": {n: list(r.models) for n, r in self.config.routes.items()}, "models": self.models()}

    def models(self) -> list[dict]:
        """Every catalogued model and every route member, with whether it can be called now."""
        names = set(models.known(self.config))
        for route in self.config.routes.values():
            names.update(route.models)
        rows = []
        for name in sorted(names):
            provider_name = name.split("/", 1)[0]
            if provider_name not in self.config.providers and provider_name not in self._providers:
                continue
            info = models.info(name, self.config)
            try:
                why = self.provider(provider_name).availability(name.split("/", 1)[1])
            except TetherError as e:
                why = str(e)
            rows.append(
                {
                    "model": name,
                    "context_window": info.context_window,
                    "input_per_mtok": info.input_per_mtok,
                    "output_per_mtok": info.output_per_mtok,
                    "cached_per_mtok": info.cached_per_mtok,
                    "edit_format": info.edit_format,
                    "usable": why is None,
                    "missing": why,
                }
            )
        return rows

    def close(self) -> None:
        self.ledger.flush()
        for provider in self._providers.values():
            provider.close()
