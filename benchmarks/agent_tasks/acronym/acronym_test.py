from acronym import abbreviate


def test_basic():
    assert abbreviate("Portable Network Graphics") == "PNG"


def test_lowercase_words():
    assert abbreviate("Ruby on Rails") == "ROR"


def test_hyphen():
    assert abbreviate("Complementary metal-oxide semiconductor") == "CMOS"


def test_punctuation_without_whitespace():
    assert abbreviate("First In, First Out") == "FIFO"


def test_consecutive_separators():
    assert abbreviate("Rolling On The Floor Laughing So Hard - That My Dogs Came Over") == "ROTFLSHTMDCO"


def test_apostrophes():
    assert abbreviate("Halley's Comet") == "HC"


def test_underscores():
    assert abbreviate("The Road _Not_ Taken") == "TRNT"
