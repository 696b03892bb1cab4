from isbn import is_valid


def test_valid_with_dashes():
    assert is_valid("3-598-21508-8") is True


def test_invalid_check_digit():
    assert is_valid("3-598-21508-9") is False


def test_x_as_check_digit():
    assert is_valid("3-598-21507-X") is True


def test_x_not_last():
    assert is_valid("3-598-2X507-9") is False


def test_without_dashes():
    assert is_valid("3598215088") is True


def test_too_short():
    assert is_valid("3-598-21507") is False


def test_too_long():
    assert is_valid("3-598-21507-XX") is False


def test_letters():
    assert is_valid("3-598-P1581-X") is False


def test_empty():
    assert is_valid("") is False
