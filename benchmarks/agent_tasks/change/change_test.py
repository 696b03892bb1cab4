import pytest

from change import find_fewest_coins


def test_single_coin():
    assert find_fewest_coins([1, 5, 10, 25, 100], 25) == [25]


def test_multiple_coins():
    assert find_fewest_coins([1, 5, 10, 25, 100], 15) == [5, 10]


def test_not_greedy():
    assert find_fewest_coins([1, 4, 15, 20, 50], 23) == [4, 4, 15]


def test_another_not_greedy():
    assert find_fewest_coins([1, 5, 10, 21, 25], 63) == [21, 21, 21]


def test_no_coins_for_zero():
    assert find_fewest_coins([1, 5, 10, 21, 25], 0) == []


def test_impossible():
    with pytest.raises(ValueError):
        find_fewest_coins([5, 10], 3)


def test_negative():
    with pytest.raises(ValueError):
        find_fewest_coins([1, 2, 5], -5)
