from clock import Clock


def test_on_the_hour():
    assert str(Clock(8, 0)) == "08:00"


def test_rollover_hours():
    assert str(Clock(100, 0)) == "04:00"


def test_rollover_minutes():
    assert str(Clock(1, 160)) == "03:40"


def test_negative_minutes():
    assert str(Clock(1, -40)) == "00:20"


def test_negative_hour_and_minutes():
    assert str(Clock(-25, -160)) == "20:20"


def test_add():
    assert str(Clock(10, 0) + 3) == "10:03"


def test_add_across_midnight():
    assert str(Clock(23, 59) + 2) == "00:01"


def test_subtract_across_midnight():
    assert str(Clock(0, 3) - 4) == "23:59"


def test_equality():
    assert Clock(15, 37) == Clock(15, 37)
    assert Clock(15, 36) != Clock(15, 37)
    assert Clock(-1, 0) == Clock(23, 0)
