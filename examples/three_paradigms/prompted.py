"""Software 3.0: the program is an English prompt, run by an LLM through tether's grid. The label
is constrained by a JSON schema, so every reply is one of the two labels; cost and latency land
in tether's ledger like any other call."""

from __future__ import annotations

import random

from .data import Example

PROMPT = """Classify the sentiment of a movie review snippet.
Answer positive if the critic liked the movie, negative if not."""

SCHEMA = {"type": "object", "properties": {"label": {"enum": ["positive", "negative"]}}, "required": ["label"]}


def shots(train: list[Example], k: int = 8, seed: int = 0) -> list[Example]:
    """k examples from the train split, half of each label, in a fixed shuffled order."""
    rng = random.Random(seed)
    pos = rng.sample([e for e in train if e.label == "positive"], k // 2)
    neg = rng.sample([e for e in train if e.label == "negative"], k - k // 2)
    chosen = pos + neg
    rng.shuffle(chosen)
    return chosen


class Prompted:
    """zero-shot (no examples) or few-shot (examples as earlier turns, a prefix every call shares,
    so a local model reads it once and reuses its cache)."""

    def __init__(self, grid, model: str = "local/qwen2.5-coder-1.5b", examples: list[Example] = ()):
        self.grid, self.model = grid, model
        self.prefix = [{"role": "system", "content": PROMPT}]
        for e in examples:
            self.prefix += [{"role": "user", "content": e.text}, {"role": "assistant", "content": f'{{"label": "{e.label}"}}'}]
        self.responses = []

    def classify(self, text: str) -> str:
        reply = self.grid.complete(
            self.model, [*self.prefix, {"role": "user", "content": text}], schema=SCHEMA, max_tokens=16, temperature=0.0
        )
        self.responses.append(reply)
        try:
            label = reply.json().get("label")
        except Exception:  # a provider without schema support may still answer in prose
            label = None
        if label not in ("positive", "negative"):
            label = "negative" if "negative" in reply.text.lower() else "positive"
        return label
