import pytest

from roman import to_roman


@pytest.mark.parametrize("number, expected", [
    (1, "I"), (3, "III"), (4, "IV"), (9, "IX"), (14, "XIV"), (40, "XL"), (90, "XC"),
    (400, "CD"), (944, "CMXLIV"), (1994, "MCMXCIV"), (3999, "MMMCMXCIX"),
])
def test_numbers(number, expected):
    assert to_roman(number) == expected


@pytest.mark.parametrize("number", [0, -5, 4000])
def test_out_of_range(number):
    with pytest.raises(ValueError):
        to_roman(number)
