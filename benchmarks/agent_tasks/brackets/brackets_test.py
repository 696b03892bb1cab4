from brackets import is_paired


def test_empty():
    assert is_paired("") is True


def test_simple_pairs():
    assert is_paired("[]{}()") is True


def test_unclosed():
    assert is_paired("[[") is False


def test_wrong_order():
    assert is_paired("}{") is False


def test_wrong_nesting():
    assert is_paired("{[}]") is False


def test_nested():
    assert is_paired("{[()]}") is True


def test_with_text():
    assert is_paired("\\left(\\begin{array}{cc} \\frac{1}{3} & x\\\\ \\mathrm{e}^{x} &... x^2 \\end{array}\\right)") is True


def test_early_close():
    assert is_paired("())(") is False


def test_extra_open():
    assert is_paired("{[]") is False
