"""The Grid: one client over every provider. A model name or route resolves to an ordered
failover list; each attempt is retried with backoff (honouring Retry-After), bounded by a
per-attempt timeout and an overall deadline, skipped while its provider's circuit is open,
checked against the budgets before it is sent, and written to the ledger after."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Generator, Iterator
from dataclasses import dataclass, fields
from pathlib import Path

from .. import config as config_mod
from ..config import Config, RouteConfig
from ..errors import (
    AllAttemptsFailed,
    BadRequest,
    BudgetExceeded,
    Cancelled,
    CircuitOpen,
    KeyRefused,
    LedgerUnavailable,
    ProviderError,
    StreamInterrupted,
    TetherError,
    UnknownModel,
)
from ..redaction import redact_messages
from ..store import Store
from . import models
from .breaker import Breaker, backoff
from .keys import Keys
from .meter import Attempt, Ledger, ledger_store
from .providers import Provider, create
from .types import Request, Response, Tool, Usage, estimate_tokens, normalize_messages, request_tokens

_OPTIONS = {f.name for f in fields(Request)} - {"model", "messages"}
DEFAULT_OUTPUT_CAP = 256  # output tokens a budgeted call may write when its caller names no max_tokens
_SIZE_KEYS = {"max_tokens", "max_completion_tokens", "max_output_tokens", "n"}  # wire fields that set how much a reply may write


def output_cap(asked, held: bool) -> int | None:
    """The output tokens a call may write: what its caller asked for, else DEFAULT_OUTPUT_CAP when a
    budget holds the call. Decided once, then both held and sent upstream as max_tokens, so what a
    call spends can never pass its hold (a call sent without a cap writes as long as the model likes)."""
    if asked is None:
        return DEFAULT_OUTPUT_CAP if held else None
    if isinstance(asked, bool) or not isinstance(asked, int) or asked < 1:
        raise BadRequest(f"max_tokens must be a whole number >= 1 (got {asked!r})")
    return asked


@dataclass
class _Try:
    provider: Provider
    model: str  # "provider/name"
    request: Request
    number: int
    info: models.ModelInfo
    started: float = 0.0
    retry: bool = False


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
        call = _Call(self, model, messages, opts, stream=False)
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
        call = _Call(self, model, messages, opts, stream=True)
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


class _Call:
    """One logical call: plans the attempts, decides retry or failover, writes the ledger."""

    def __init__(self, grid: Grid, model: str, messages, opts: dict, stream: bool):
        self.key = opts.pop("key", None)  # a gateway key: its routes, budget and rate limit apply
        if self.key is not None and not self.key.allows(model):
            raise KeyRefused(f"key {self.key.name} may not call {model} (it may call {', '.join(self.key.routes)})")
        unknown = set(opts) - _OPTIONS - {"deadline"}
        if unknown:
            raise BadRequest(f"unknown option {sorted(unknown)[0]!r} (options: {', '.join(sorted(_OPTIONS | {'deadline'}))})")
        self.grid = grid
        self.stream = stream
        self.route_name, self.route = grid.route(model)
        self.messages = redact_messages(normalize_messages(messages))  # no secret leaves for a model
        self.deadline = opts.pop("deadline", None) or self.route.deadline
        if opts.get("tools"):
            opts["tools"] = [Tool.coerce(t) for t in opts["tools"]]
        self.limits = self._limits()
        self.budgeted = any(budget.is_set() for budget, *_ in self.limits)
        opts["max_tokens"] = output_cap(opts.get("max_tokens"), self.budgeted)
        sized = self.budgeted and _SIZE_KEYS & set(opts.get("extra") or {})
        if sized:
            raise BadRequest(f"a budgeted call's reply size is its max_tokens: extra may not set {', '.join(sorted(sized))}")
        self.opts = opts
        self.prompt_tokens = request_tokens(self.messages, opts)  # the whole request, held before the call
        self.call_id = os.urandom(8).hex()
        self.errors: list[tuple[str, TetherError]] = []
        self.number = 0
        self.lost = Usage()  # what failed attempts read and wrote: a call that fails still cost it
        self.lost_usd: float | None = 0.0

    def _limits(self) -> list:
        """Every budget this call falls under, as `Ledger.reserve` takes them."""
        limits: list[tuple] = [(self.grid.config.budget, "overall", None, None)]
        if self.route_name is not None:
            limits.append((self.route.budget, f"route {self.route_name}", "route", self.route_name))
        if self.key is not None:
            limits.append((self.key.budget, f"key {self.key.name}", "key", self.key.name))
        return limits

    def attempts(self) -> Iterator[_Try]:
        grid, route = self.grid, self.route
        end = time.monotonic() + self.deadline
        key = self.key
        tokens_in, tokens_out = self.prompt_tokens, self.opts["max_tokens"] or 0  # the cap sent upstream
        for number, model in enumerate(route.models):
            provider_name, _, name = model.partition("/")
            held = None
            try:
                provider = grid.provider(provider_name)
                info = models.info(model, grid.config)
                if self.budgeted or (key is not None and key.rpm):  # the worst case, held against every budget at once; settled after
                    held = grid.ledger.reserve(
                        self.limits,
                        info.cost(tokens_in, tokens_out),
                        tokens_in + tokens_out,
                        model,
                        self.route_name,
                        lease=self.deadline + 60,
                        key=key.name if key else None,
                        rpm=key.rpm if key is not None and number == 0 else None,
                    )  # a failover is the same call
            except TetherError as e:
                self.errors.append((model, e))
                continue
            try:
                deadline_passed = yield from self._tries(model, provider, provider_name, info, request_name=name, end=end)
            finally:
                grid.ledger.settle(held)
            if deadline_passed:
                return

    def _tries(self, model: str, provider, provider_name: str, info, request_name: str, end: float):
        """The attempts at one model: retries with backoff while errors are transient. Returns
        True when the call's deadline passed (no other model is tried then)."""
        grid, route = self.grid, self.route
        breaker = grid.breaker(provider_name)
        for retry in range(route.retries + 1):
            remaining = end - time.monotonic()
            if remaining <= 0:
                self.errors.append((model, ProviderError(f"{model}: the call's deadline of {self.deadline:g}s passed")))
                return True
            if not breaker.allow():
                error: TetherError = CircuitOpen(
                    f"{model}: skipped, {provider_name} failed {breaker.threshold} times in a row (circuit open)"
                )
                self.number += 1
                self.record(_Try(provider, model, None, self.number, info), "skipped", None, error)  # type: ignore[arg-type]  # no request was made
                self.errors.append((model, error))
                return False
            timeout = min(route.timeout or provider.cfg.timeout, remaining)
            request = Request(model=request_name, messages=self.messages, **{**self.opts, "timeout": self.opts.get("timeout") or timeout})
            self.number += 1
            attempt = _Try(provider, model, request, self.number, info, started=time.perf_counter())
            yield attempt
            if not attempt.retry or retry == route.retries:
                return False
            error = self.errors[-1][1]
            after = getattr(error, "retry_after", None)
            wait = after if after is not None else backoff(retry)
            if wait > route.max_retry_wait or time.monotonic() + wait >= end:
                return False  # waiting would cost more than failing over
            cancel = self.opts.get("cancel")
            if cancel is not None and grid.sleep is time.sleep:
                cancel.wait(wait)  # a Stop during the wait ends it
            else:
                grid.sleep(wait)
            if cancel is not None and cancel.is_set():
                raise Cancelled(f"{model}: stopped while waiting to retry")
        return False

    def failed(self, attempt: _Try, error: ProviderError) -> None:
        self.record(attempt, "error", None, error)
        self.errors.append((attempt.model, error))
        if error.transient:
            self.grid.breaker(attempt.provider.name).failure()
        attempt.retry = error.transient

    def succeeded(self, attempt: _Try, response: Response, ttft_ms: float | None) -> Response:
        self.grid.breaker(attempt.provider.name).success()
        if response.usage.estimated and not response.usage.total_tokens:
            response.usage = Usage(self.prompt_tokens, estimate_tokens(response.text), estimated=True)
        u = response.usage
        response.cost_usd = attempt.info.cost(u.input_tokens, u.output_tokens, u.cached_tokens)
        response.latency_ms = (time.perf_counter() - attempt.started) * 1000
        response.ttft_ms = ttft_ms
        response.route = self.route_name
        response.attempts = attempt.number
        response.call_id = self.call_id
        self.record(attempt, "ok", ttft_ms, None, response=response)
        return response

    def record(self, attempt: _Try, outcome: str, ttft_ms, error, response: Response | None = None, partial: str = "") -> None:
        if response is not None:
            usage = response.usage
        elif getattr(error, "usage", None) is not None:  # the provider counted what the cut-off attempt used
            usage = error.usage
        elif partial:
            usage = Usage(self.prompt_tokens, estimate_tokens(partial), estimated=True)
        else:
            usage = Usage()
        cost = (
            response.cost_usd if response is not None else attempt.info.cost(usage.input_tokens, usage.output_tokens, usage.cached_tokens)
        )
        if response is None and usage.total_tokens:
            self.lost += usage
            self.lost_usd = None if cost is None or self.lost_usd is None else self.lost_usd + cost
        self.grid.ledger.record(
            Attempt(
                call_id=self.call_id,
                attempt=attempt.number,
                route=self.route_name,
                provider=attempt.provider.name,
                model=attempt.model,
                usage=usage,
                cost_usd=cost,
                latency_ms=(time.perf_counter() - attempt.started) * 1000 if attempt.started else 0.0,
                ttft_ms=ttft_ms,
                outcome=outcome,
                error_class=type(error).__name__ if error else None,
                error=str(error) if error else None,
                stream=self.stream,
                key=self.key.name if self.key else None,
            )
        )

    def charged(self, error: TetherError) -> TetherError:
        """The error the caller sees, carrying what every failed attempt of this call cost."""
        if self.lost.total_tokens:
            error.usage, error.cost_usd = self.lost, self.lost_usd
        return error

    def failure(self) -> TetherError:
        return self.charged(self._failure())

    def _failure(self) -> TetherError:
        if not self.errors:
            return ProviderError(f"{self.route.name}: no model was tried")
        last: dict[str, TetherError] = {}  # each model's last error tells the user what to fix
        for model, e in self.errors:
            last[model] = e
        if len(last) == 1 or all(isinstance(e, (BudgetExceeded, LedgerUnavailable)) for e in last.values()):
            return next(iter(last.values()))
        summary = "; ".join(f"{e}" if str(e).startswith(model) else f"{model}: {e}" for model, e in last.items())
        return AllAttemptsFailed(f"all {len(last)} models of {self.route.name} failed ({len(self.errors)} attempts): {summary}")
