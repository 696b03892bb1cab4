"""Software 1.0, published: VADER (Hutto & Gilbert, 2014), a hand-built lexicon and rules for
sentiment, from the PyPI package vaderSentiment."""

from __future__ import annotations

from functools import lru_cache


@lru_cache(maxsize=1)
def _analyzer():
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    return SentimentIntensityAnalyzer()


def classify(text: str) -> str:
    return "negative" if _analyzer().polarity_scores(text)["compound"] < 0 else "positive"
