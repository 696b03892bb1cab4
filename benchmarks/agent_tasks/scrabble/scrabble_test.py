from scrabble import score


def test_lowercase_letter():
    assert score("a") == 1


def test_uppercase_letter():
    assert score("A") == 1


def test_valuable_letter():
    assert score("f") == 4


def test_short_word():
    assert score("zoo") == 12


def test_mixed_case():
    assert score("OxyphenButazone") == 41


def test_long_word():
    assert score("quirky") == 22


def test_empty():
    assert score("") == 0
