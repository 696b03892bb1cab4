"""Software 1.0: sentiment by rules a person wrote — a small lexicon, negation, intensifiers,
and "but" (what follows it counts more). No learning; every decision can be read off the code."""

from __future__ import annotations

import re

POSITIVE = set(
    """
amazing appealing astonishing beautiful beautifully best brilliant brilliantly captivating charming clever compelling
delight delightful engaging engrossing enjoy enjoyable entertaining exceptional excellent exciting exhilarating
extraordinary fascinating fine fresh fun funny gem generous gorgeous graceful great gripping haunting heartfelt
hilarious honest impressive insightful inspired intelligent intriguing irresistible joy lively love lovely
magnificent marvelous masterpiece masterful memorable moving nuanced perfect perfectly pleasant pleasure poignant
powerful rare refreshing remarkable rewarding rich satisfying sharp smart solid sophisticated special splendid
stunning subtle superb surprising sweet terrific thoughtful thrilling touching treat triumph unforgettable
unique warm well wise witty wonderful wonderfully worth worthy
""".split()
)

NEGATIVE = set(
    """
absurd annoying awful bad badly bland bore bored boring clumsy confused confusing contrived disappointing
disappointment dreadful dull dumb empty failure fails flat flawed forced forgettable generic hackneyed horrible
idiotic incoherent insufferable lame laughable lifeless limp mediocre mess messy mindless misguided miss
muddled nothing obvious overlong pointless poor poorly predictable pretentious problem ridiculous shallow silly
sloppy slow stale stupid tedious terrible thin tired tiresome unfunny uninspired uninteresting unpleasant
waste wasted weak worse worst
""".split()
)

NEGATORS = {"not", "no", "never", "nothing", "hardly", "without", "neither", "nor", "cannot", "barely"}
INTENSIFIERS = {
    "very": 1.5,
    "really": 1.5,
    "extremely": 2.0,
    "truly": 1.5,
    "so": 1.3,
    "most": 1.3,
    "utterly": 2.0,
    "somewhat": 0.5,
    "slightly": 0.5,
    "fairly": 0.7,
    "rather": 0.7,
}
WORD = re.compile(r"[a-z]+(?:'[a-z]+)?")


def score(text: str) -> float:
    words = WORD.findall(text.lower())
    total, weight, negate, boost = 0.0, 1.0, 0, 1.0
    for word in words:
        if word == "but":
            total *= 0.5  # what came before "but" matters less than what follows
            weight = 1.5
            continue
        if word in NEGATORS or word.endswith("n't"):
            negate = 3  # the next three words are flipped
            continue
        if word in INTENSIFIERS:
            boost = INTENSIFIERS[word]
            continue
        polarity = 1 if word in POSITIVE else -1 if word in NEGATIVE else 0
        if polarity:
            total += polarity * weight * boost * (-1 if negate else 1)
            boost = 1.0
        negate = max(0, negate - 1)
    return total


def classify(text: str) -> str:
    return "negative" if score(text) < 0 else "positive"  # a tie goes to the more common class
