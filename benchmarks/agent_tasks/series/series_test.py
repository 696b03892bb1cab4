import pytest

from series import slices


def test_slices_of_one():
    assert slices("01234", 1) == ["0", "1", "2", "3", "4"]


def test_slices_of_two():
    assert slices("97867564", 2) == ["97", "78", "86", "67", "75", "56", "64"]


def test_whole_series():
    assert slices("777777", 6) == ["777777"]


@pytest.mark.parametrize("series, length", [("12345", 6), ("12345", 0), ("123", -1), ("", 1)])
def test_invalid(series, length):
    with pytest.raises(ValueError):
        slices(series, length)
