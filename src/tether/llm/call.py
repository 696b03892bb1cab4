"""One call through the grid: its options checked, the budget held, then attempts over the route's
models (retries with backoff, the breaker, the deadline), each recorded in the ledger, and the
error the caller sees carrying what the failed attempts cost."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING

from ..errors import (
    AllAttemptsFailed,
    BadRequest,
    BudgetExceeded,
    Cancelled,
    CircuitOpen,
    KeyRefused,
    LedgerUnavailable,
    ProviderError,
    TetherError,
)
from ..redaction import redact_messages
from . import models
from .breaker import backoff
from .meter import Attempt
from .providers import Provider
from .types import Request, Response, Tool, Usage, estimate_tokens, normalize_messages, request_tokens

_OPTIONS = {f.name for f in fields(Request)} - {"model", "messages"}

if TYPE_CHECKING:
    from .router import Grid


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


class Call:
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
        counted = False  # the key's rate limit counts this call once: at the first model it reserves, not only the route's first
        for model in route.models:
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
                        rpm=key.rpm if key is not None and not counted else None,
                    )  # a failover is the same call
                    counted = True
            except BudgetExceeded as e:  # a budget or rate limit refused it before it was sent: a row all the same, so the ledger shows it
                self.number += 1
                self.record(_Try(provider, model, None, self.number, info), "refused", None, e)  # type: ignore[arg-type]  # no request was made
                self.errors.append((model, e))
                continue
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
