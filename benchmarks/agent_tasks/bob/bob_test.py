from bob import response


def test_statement():
    assert response("Tom-ay-to, tom-aaaah-to.") == "Whatever."


def test_shouting():
    assert response("WATCH OUT!") == "Whoa, chill out!"


def test_question():
    assert response("Does this cryogenic chamber make me look fat?") == "Sure."


def test_forceful_question():
    assert response("WHAT'S GOING ON?") == "Calm down, I know what I'm doing!"


def test_shouting_numbers():
    assert response("1, 2, 3 GO!") == "Whoa, chill out!"


def test_only_numbers():
    assert response("1, 2, 3") == "Whatever."


def test_question_with_numbers_only():
    assert response("4?") == "Sure."


def test_silence():
    assert response("   \t  ") == "Fine. Be that way!"


def test_question_with_trailing_whitespace():
    assert response("Okay if like my  spacebar  quite a bit?   ") == "Sure."
