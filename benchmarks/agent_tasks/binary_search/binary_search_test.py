import pytest

from binary_search import find


def test_single():
    assert find([6], 6) == 0


def test_middle():
    assert find([1, 3, 4, 6, 8, 9, 11], 6) == 3


def test_first_and_last():
    items = [1, 3, 4, 6, 8, 9, 11]
    assert find(items, 1) == 0
    assert find(items, 11) == 6


def test_large():
    items = list(range(0, 2000, 2))
    assert find(items, 1234) == 617


@pytest.mark.parametrize("items, value", [([1, 3, 4, 6, 8, 9, 11], 7), ([1, 3], 0), ([1, 3], 13), ([], 1)])
def test_absent(items, value):
    with pytest.raises(ValueError) as info:
        find(items, value)
    assert str(info.value) == "value not in array"
