import pytest

from phone import clean


def test_plain():
    assert clean("(223) 456-7890") == "2234567890"


def test_dots():
    assert clean("223.456.7890") == "2234567890"


def test_country_code():
    assert clean("+1 (223) 456-7890") == "2234567890"


@pytest.mark.parametrize("bad", [
    "123456789", "22234567890", "321234567890", "523-abc-7890", "523-@:!-7890",
    "(023) 456-7890", "(123) 456-7890", "(223) 056-7890", "(223) 156-7890",
])
def test_invalid(bad):
    with pytest.raises(ValueError):
        clean(bad)
