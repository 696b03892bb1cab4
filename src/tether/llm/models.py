"""The model catalogue: context window and price per million tokens, by "provider/name".

Prices are list prices in USD as published by each vendor in 2025; a user overrides or adds
any in `[models."provider/name"]`. A model with no known price costs None — reported as
unknown, never as $0 — and a USD budget refuses to spend on it. Input tokens the provider read
from its prompt cache are billed at its cached price (a tenth of the input price at OpenAI and
Anthropic); where none is known, at the full input price, so the ledger never reports less than
the bill. (Anthropic also bills cache writes, at 1.25× input, but only for prompts marked with
`cache_control`, which tether does not send.)"""

from __future__ import annotations

from dataclasses import dataclass

from ..config import Config


@dataclass(frozen=True)
class ModelInfo:
    name: str  # "provider/name"
    context_window: int | None
    input_per_mtok: float | None
    output_per_mtok: float | None
    edit_format: str = "search-replace"  # how the model writes edits best: search-replace or whole
    cached_per_mtok: float | None = None  # input tokens read from the provider's cache; None: the input price

    @property
    def price_known(self) -> bool:
        return self.input_per_mtok is not None and self.output_per_mtok is not None

    def cost(self, input_tokens: int, output_tokens: int, cached_tokens: int = 0) -> float | None:
        """`input_tokens` includes the `cached_tokens` read from the provider's cache."""
        if self.input_per_mtok is None or self.output_per_mtok is None:
            return None
        cached = min(cached_tokens, input_tokens)
        cached_price = self.input_per_mtok if self.cached_per_mtok is None else self.cached_per_mtok
        return ((input_tokens - cached) * self.input_per_mtok + cached * cached_price + output_tokens * self.output_per_mtok) / 1_000_000


# name: (context window, $ per 1M input tokens, $ per 1M output tokens, $ per 1M cached input tokens or None)
CATALOGUE: dict[str, tuple[int, float, float, float | None]] = {
    "openai/gpt-5": (400_000, 1.25, 10.00, 0.125),
    "openai/gpt-5-mini": (400_000, 0.25, 2.00, 0.025),
    "openai/gpt-5-nano": (400_000, 0.05, 0.40, 0.005),
    "openai/gpt-4.1": (1_047_576, 2.00, 8.00, 0.5),
    "openai/gpt-4.1-mini": (1_047_576, 0.40, 1.60, 0.1),
    "openai/gpt-4.1-nano": (1_047_576, 0.10, 0.40, 0.025),
    "openai/gpt-4o": (128_000, 2.50, 10.00, 1.25),
    "openai/gpt-4o-mini": (128_000, 0.15, 0.60, 0.075),
    "openai/o3": (200_000, 2.00, 8.00, 0.5),
    "openai/o4-mini": (200_000, 1.10, 4.40, 0.275),
    "anthropic/claude-opus-4-1": (200_000, 15.00, 75.00, 1.5),
    "anthropic/claude-sonnet-4-5": (200_000, 3.00, 15.00, 0.3),
    "anthropic/claude-sonnet-4-0": (200_000, 3.00, 15.00, 0.3),
    "anthropic/claude-haiku-4-5": (200_000, 1.00, 5.00, 0.1),
    "anthropic/claude-3-5-haiku-latest": (200_000, 0.80, 4.00, 0.08),
    "deepseek/deepseek-chat": (128_000, 0.28, 0.42, 0.028),
    "deepseek/deepseek-reasoner": (128_000, 0.28, 0.42, 0.028),
    "groq/llama-3.3-70b-versatile": (131_072, 0.59, 0.79, None),
    "groq/llama-3.1-8b-instant": (131_072, 0.05, 0.08, None),
    "local/qwen2.5-coder-1.5b": (32_768, 0.0, 0.0, 0.0),
    "local/qwen2.5-coder-0.5b": (32_768, 0.0, 0.0, 0.0),
    "local/smollm2-135m": (8_192, 0.0, 0.0, 0.0),
}


# Small models write whole files far more reliably than SEARCH/REPLACE blocks.
EDIT_FORMATS = {"local/qwen2.5-coder-1.5b": "whole", "local/qwen2.5-coder-0.5b": "whole", "local/smollm2-135m": "whole"}


def info(name: str, config: Config | None = None) -> ModelInfo:
    window, price_in, price_out, price_cached = CATALOGUE.get(name, (None, None, None, None))
    edit_format = EDIT_FORMATS.get(name, "search-replace")
    if config is not None and name in config.models:
        o = config.models[name]
        window = o.context_window if o.context_window is not None else window
        price_in = o.input_per_mtok if o.input_per_mtok is not None else price_in
        price_out = o.output_per_mtok if o.output_per_mtok is not None else price_out
        if o.input_per_mtok is not None or o.cached_per_mtok is not None:  # a new input price makes the catalogue's cached price stale
            price_cached = o.cached_per_mtok
        edit_format = o.edit_format or edit_format
    return ModelInfo(name, window, price_in, price_out, edit_format, price_cached)


def known(config: Config | None = None) -> list[str]:
    names = set(CATALOGUE) | (set(config.models) if config else set())
    return sorted(names)
