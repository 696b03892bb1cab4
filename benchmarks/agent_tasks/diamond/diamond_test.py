from diamond import rows


def test_a():
    assert rows("A") == ["A"]


def test_b():
    assert rows("B") == [" A ", "B B", " A "]


def test_c():
    assert rows("C") == ["  A  ", " B B ", "C   C", " B B ", "  A  "]


def test_e():
    assert rows("E") == [
        "    A    ", "   B B   ", "  C   C  ", " D     D ", "E       E",
        " D     D ", "  C   C  ", "   B B   ", "    A    ",
    ]


def test_symmetry():
    result = rows("Z")
    assert result == result[::-1] and all(r == r[::-1] for r in result) and len(result) == 51
