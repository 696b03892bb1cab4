from luhn import valid


def test_single_digit():
    assert valid("1") is False


def test_single_zero():
    assert valid("0") is False


def test_simple_valid():
    assert valid("059") is True


def test_valid_canadian_sin():
    assert valid("055 444 285") is True


def test_invalid_canadian_sin():
    assert valid("055 444 286") is False


def test_valid_credit_card():
    assert valid("4539 3195 0343 6467") is True


def test_non_digit():
    assert valid("055a 444 285") is False


def test_punctuation():
    assert valid("055-444-285") is False


def test_zero_with_space():
    assert valid(" 0") is False


def test_double_zero():
    assert valid("0000 0") is True
