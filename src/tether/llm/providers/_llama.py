"""What tether changes of a llama_cpp.Llama once it is loaded: the prompt read in slices (so Stop
lands and progress shows between them), tokens metered, the grammar applied last, and extra
CPU buffers only where they are safe."""

from __future__ import annotations

import ctypes
import math
import time

from ...errors import (
    Cancelled,
)


def _extra_buffers(allowed: bool) -> None:
    """Whether the next load may repack the weights into extra buffer types (AMX tiles, interleaved
    AVX2 blocks). On virtual machines that advertise AMX without granting the tile state, the first
    decode segfaults (seen here, on every model); on a 2-core AVX2 EPYC the repacked weights read a
    prompt at 38 tokens/s against 52 plain (generation ~10 % faster repacked) — and a prompt is most
    of an agent's reply time. So the plain CPU kernels are the default; `options.extra_buffers = true`
    turns repacking back on. llama-cpp-python takes no such argument, so its default parameters are
    wrapped once and the wrapper told, before each load (under the load lock), which to give."""
    import llama_cpp.llama_cpp as low

    if not hasattr(low.llama_model_default_params, "tether_extra"):
        original = low.llama_model_default_params

        def defaults():
            params = original()
            params.use_extra_bufts = defaults.tether_extra
            return params

        low.llama_model_default_params = defaults
    low.llama_model_default_params.tether_extra = allowed


def _meter(llm) -> None:
    """See each prompt llama-cpp-python evaluates, and how much of it the KV cache already holds:
    the longest prefix shared with the tokens evaluated last, less the one token it re-reads when
    the whole prompt matches (its own rule). Reading a prompt is most of a local reply's time, so
    what is read anew — not the prompt's length — is what a reply cost."""
    generate = llm.generate

    def metered(tokens, *args, **kwargs):
        tokens = list(tokens)
        shared = llm.longest_token_prefix(llm._input_ids.tolist() if llm.n_tokens else [], tokens)
        llm.tether_prompt = (len(tokens), shared - 1 if shared and shared == len(tokens) else shared)
        return generate(tokens, *args, **kwargs)

    llm.tether_prompt = (0, 0)
    llm.generate = metered


SLICE_SECONDS = 0.5  # a prompt is read in slices of about this long: Stop lands, and progress shows, between them


SLICE_TOKENS = (64, 512)  # the fewest and most tokens a slice holds: below 64, reading a token costs several times more


def _sliced(llm) -> None:
    """Read a prompt in slices instead of llama.cpp's batches of 512 tokens (six seconds each on
    two busy cores), so that a person sees how far the model has read and Stop lands within a
    second. A slice starts at 64 tokens and is sized after each one to take about SLICE_SECONDS on
    this machine, as loaded as it is now, never below 64 tokens: qwen2.5-coder-1.5b on 2 cores read
    133 tokens/s in 512-token batches, 118 in ~1 s slices, 106 in ~0.5 s slices, and 36 when slices
    were let shrink to 8 tokens (a slower slice made the next smaller). Generated tokens come one at
    a time and pass straight through."""
    evaluate = llm.eval

    def sliced(tokens):
        call = getattr(llm, "tether_call", None)
        if call is None or len(tokens) <= 1:
            return evaluate(tokens)
        cancel, progress, who = call
        tokens, size, read = list(tokens), SLICE_TOKENS[0], 0
        while read < len(tokens):
            if cancel is not None and cancel.is_set():
                raise Cancelled(f"{who}: stopped while reading the prompt ({read} of {len(tokens)} tokens read)")
            piece = tokens[read : read + size]
            began = time.monotonic()
            evaluate(piece)
            read += len(piece)
            took = max(time.monotonic() - began, 1e-3)
            size = max(SLICE_TOKENS[0], min(SLICE_TOKENS[1], int(len(piece) * SLICE_SECONDS / took)))
            if progress is not None:
                progress("reading", read=read, total=len(tokens))

    llm.tether_call = None
    llm.eval = sliced


def _grammar_last(llm) -> None:
    """Constrained replies at the speed of free ones. llama-cpp-python puts the grammar first in
    its sampler chain, so every token checks all 151,936 of qwen's tokens against the grammar:
    a whole-file reply was written at ~10 tokens/s against ~16 unconstrained. llama.cpp's own
    sampler (`common_sampler`) samples freely and asks the grammar only about the token drawn,
    scanning the whole vocabulary under the grammar only when that token is refused; so does
    this. A greedy reply is the same token for token either way."""
    init = llm._init_sampler

    def sampler(*args, grammar=None, **kwargs):
        plain = init(*args, **kwargs)
        return plain if grammar is None else _GrammarLast(plain, init(*args, grammar=grammar, **kwargs))

    llm._init_sampler = sampler


class _GrammarLast:
    """`sample(ctx, idx)` as llama-cpp-python's LlamaSampler: the free chain's token when the
    grammar takes it, else the constrained chain's (which then advances the grammar itself)."""

    def __init__(self, plain, constrained):
        import llama_cpp.llama_cpp as low

        self.low, self.plain, self.constrained = low, plain, constrained  # both chains live as long as this
        chain = constrained.sampler
        self.grammar = next(
            s
            for s in (low.llama_sampler_chain_get(chain, i) for i in range(low.llama_sampler_chain_n(chain)))
            if low.llama_sampler_name(s) == b"grammar"
        )
        self.one = (low.llama_token_data * 1)()
        self.candidates = low.llama_token_data_array(self.one, 1, -1, False)
        self.refused = 0  # tokens the free chain drew that the grammar refused

    def sample(self, ctx, idx: int = -1) -> int:
        token = self.plain.sample(ctx, idx)
        self.one[0].id, self.one[0].logit, self.one[0].p = token, 0.0, 0.0
        self.candidates.size, self.candidates.selected, self.candidates.sorted = 1, -1, False
        self.low.llama_sampler_apply(self.grammar, ctypes.byref(self.candidates))
        if not math.isinf(self.one[0].logit):
            self.low.llama_sampler_accept(self.grammar, token)
            return token
        self.refused += 1
        return self.constrained.sample(ctx, idx)
