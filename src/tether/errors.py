"""One exception tree. Every error a user can cause or meet is a TetherError whose
message is one line saying what failed and what to do; faces print it, never a traceback.
Each class knows its HTTP status and its OpenAI-style error type, so the gateway and the web
app answer an error the same way, each reading it from the exception (no table per face)."""

from typing import Any


class TetherError(Exception):
    """Base of everything tether raises on purpose. A model call cut off (stopped, timed out)
    still read its prompt and wrote part of a reply: `usage` and `cost_usd` say what it cost,
    where that is known, so budgets count it (a hosted provider bills it too)."""

    exit_code = 1
    http_status = 400  # what an HTTP face answers: by default the request asked for something that cannot be done
    error_type = "invalid_request_error"  # the `type` (and `code`) of the gateway's OpenAI-style error body
    usage: Any = None  # a llm.types.Usage
    cost_usd: float | None = 0.0


class Cancelled(TetherError):
    """The caller stopped the call (a Stop button): not a failure, so nothing fails over."""

    exit_code = 130
    http_status, error_type = 499, "cancelled"  # the client went away or pressed Stop (nginx's "client closed request")


class ConfigError(TetherError):
    """The config file is malformed or names something that does not exist."""


class UnknownModel(TetherError):
    """A model or route name that no provider or route answers to."""

    http_status, error_type = 404, "model_not_found"


class BudgetExceeded(TetherError):
    """A call was refused before it was sent because it would pass a budget."""

    http_status, error_type = 429, "budget_exceeded"


class KeyLimit(BudgetExceeded):
    """A gateway key went past its rate limit (requests a minute, across every gateway)."""

    error_type = "rate_limit_exceeded"


class LedgerUnavailable(TetherError):
    """The ledger's database cannot be reached (a PostgreSQL restart, say): no call is sent unmetered."""

    http_status, error_type = 503, "ledger_unavailable"


class KeyRefused(TetherError):
    """A gateway key may not call this route or model."""

    http_status, error_type = 403, "model_not_allowed"


class ProviderError(TetherError):
    """An upstream call failed. `transient` errors are worth a retry on the same model."""

    transient = False
    http_status, error_type = 502, "upstream_error"  # `status` below is the upstream's own, when it answered

    def __init__(self, message: str, *, status: int | None = None, retry_after: float | None = None):
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after


class MissingKey(ProviderError):
    """A provider needs an API key whose environment variable is empty."""

    http_status, error_type = 503, "provider_unavailable"


class ModelNotAvailable(ProviderError):
    """A local model's weights are not cached and cannot be fetched."""

    http_status, error_type = 503, "provider_unavailable"


class TransientError(ProviderError):
    """Timeouts, dropped connections, 429 and 5xx, garbage bodies: may work if tried again."""

    transient = True


class RateLimited(TransientError):
    pass


class ProviderTimeout(TransientError):
    http_status, error_type = 504, "timeout"


class MalformedResponse(TransientError):
    pass


class AuthError(ProviderError):
    error_type = "upstream_auth_error"  # the upstream refused tether's key: the gateway's caller cannot fix it


class BadRequest(ProviderError):
    http_status, error_type = 400, "invalid_request_error"


class StreamInterrupted(ProviderError):
    """A stream broke after text was delivered: failing over would duplicate text, so it ends here."""

    error_type = "stream_interrupted"


class AllAttemptsFailed(ProviderError):
    """Every model of a route failed; the message lists each one's last error."""


class CircuitOpen(ProviderError):
    """A provider is skipped for a cooldown after repeated failures."""


class MissingExtra(TetherError):
    """A face or feature whose packages come with an extra (`tether[web]`, `[mcp]`, `[postgres]`,
    `[local]`) that this install left out."""

    http_status, error_type = 503, "missing_extra"  # the server's install lacks it, not the request


def need_extra(extra: str, what: str, *modules: str, error: type[TetherError] = MissingExtra) -> None:
    """Import `modules` (the packages `extra` installs), or raise `error`: one line naming the extra
    to install. A package that is there but lacks one of its own dependencies is named too."""
    import importlib

    for module in modules:
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as x:
            top = module.split(".")[0]
            lacking = "" if x.name in (None, top) or module.startswith(f"{x.name}.") else f" ({top} cannot import {x.name})"
            raise error(f"{what} needs tether[{extra}]{lacking}: pip install 'tether[{extra}]' (in a checkout: make install)") from None
