from word_count import count_words


def test_one_word():
    assert count_words("word") == {"word": 1}


def test_repeated_and_case():
    assert count_words("Go go GO Stop stop") == {"go": 3, "stop": 2}


def test_punctuation_and_newlines():
    assert count_words("one,two\nthree:two!") == {"one": 1, "two": 2, "three": 1}


def test_numbers():
    assert count_words("1 fish 2 fish") == {"1": 1, "fish": 2, "2": 1}


def test_contractions():
    assert count_words("don't stop, it's fine") == {"don't": 1, "stop": 1, "it's": 1, "fine": 1}


def test_quotes():
    assert count_words("Joe can't tell between 'large' and large.") == {
        "joe": 1, "can't": 1, "tell": 1, "between": 1, "large": 2, "and": 1}


def test_multiple_spaces_and_tabs():
    assert count_words(" multiple   whitespaces\t here ") == {"multiple": 1, "whitespaces": 1, "here": 1}
