import pytest

from wordy import answer


@pytest.mark.parametrize("question, expected", [
    ("What is 5?", 5), ("What is 1 plus 1?", 2), ("What is 53 plus 2?", 55), ("What is -1 plus -10?", -11),
    ("What is 4 minus -12?", 16), ("What is -3 multiplied by 25?", -75), ("What is 33 divided by -3?", -11),
    ("What is 1 plus 5 minus -2?", 8), ("What is 3 plus 2 multiplied by 3?", 15),
])
def test_answers(question, expected):
    assert answer(question) == expected


@pytest.mark.parametrize("question", ["What is 52 cubed?", "Who is the President of the United States?"])
def test_unknown_operation(question):
    with pytest.raises(ValueError) as info:
        answer(question)
    assert str(info.value) == "unknown operation"


@pytest.mark.parametrize("question", ["What is 1 plus?", "What is 1 plus 2 1?", "What is plus 1 2?", "What is?"])
def test_syntax_error(question):
    with pytest.raises(ValueError) as info:
        answer(question)
    assert str(info.value) == "syntax error"
