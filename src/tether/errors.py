"""One exception tree. Every error a user can cause or meet is a TetherError whose
message is one line saying what failed and what to do; faces print it, never a traceback."""


class TetherError(Exception):
    """Base of everything tether raises on purpose. A model call cut off (stopped, timed out)
    still read its prompt and wrote part of a reply: `usage` and `cost_usd` say what it cost,
    where that is known, so budgets count it (a hosted provider bills it too)."""

    exit_code = 1
    usage = None  # a llm.types.Usage
    cost_usd: float | None = 0.0


class Cancelled(TetherError):
    """The caller stopped the call (a Stop button): not a failure, so nothing fails over."""

    exit_code = 130


class ConfigError(TetherError):
    """The config file is malformed or names something that does not exist."""


class UnknownModel(TetherError):
    """A model or route name that no provider or route answers to."""


class BudgetExceeded(TetherError):
    """A call was refused before it was sent because it would pass a budget."""


class KeyLimit(BudgetExceeded):
    """A gateway key went past its rate limit (requests a minute, across every gateway)."""


class LedgerUnavailable(TetherError):
    """The ledger's database cannot be reached (a PostgreSQL restart, say): no call is sent unmetered."""


class KeyRefused(TetherError):
    """A gateway key may not call this route or model."""


class ProviderError(TetherError):
    """An upstream call failed. `transient` errors are worth a retry on the same model."""

    transient = False

    def __init__(self, message: str, *, status: int | None = None, retry_after: float | None = None):
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after


class MissingKey(ProviderError):
    """A provider needs an API key whose environment variable is empty."""


class ModelNotAvailable(ProviderError):
    """A local model's weights are not cached and cannot be fetched."""


class TransientError(ProviderError):
    """Timeouts, dropped connections, 429 and 5xx, garbage bodies: may work if tried again."""

    transient = True


class RateLimited(TransientError):
    pass


class ProviderTimeout(TransientError):
    pass


class MalformedResponse(TransientError):
    pass


class AuthError(ProviderError):
    pass


class BadRequest(ProviderError):
    pass


class StreamInterrupted(ProviderError):
    """A stream broke after text was delivered: failing over would duplicate text, so it ends here."""


class AllAttemptsFailed(ProviderError):
    """Every model of a route failed; the message lists each one's last error."""


class CircuitOpen(ProviderError):
    """A provider is skipped for a cooldown after repeated failures."""
