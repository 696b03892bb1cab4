from leap import is_leap


def test_ordinary_year():
    assert is_leap(2015) is False


def test_divisible_by_4():
    assert is_leap(1996) is True


def test_divisible_by_100_not_400():
    assert is_leap(2100) is False


def test_divisible_by_400():
    assert is_leap(2000) is True


def test_divisible_by_200_not_400():
    assert is_leap(1800) is False


def test_odd_year():
    assert is_leap(1997) is False
