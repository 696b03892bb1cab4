from anagram import find_anagrams


def test_no_matches():
    assert find_anagrams("diaper", ["hello", "world", "zombies", "pants"]) == []


def test_two_matches():
    assert find_anagrams("solemn", ["lemons", "cherry", "melons"]) == ["lemons", "melons"]


def test_subset_is_not_anagram():
    assert find_anagrams("good", ["dog", "goody"]) == []


def test_case_insensitive():
    assert find_anagrams("Orchestra", ["cashregister", "Carthorse", "radishes"]) == ["Carthorse"]


def test_same_word_is_not_anagram():
    assert find_anagrams("BANANA", ["Banana", "banana", "BANANA"]) == []


def test_repeated_letters_count():
    assert find_anagrams("tapper", ["patter"]) == []


def test_different_case_same_letters_order():
    assert find_anagrams("LISTEN", ["Silent", "LISTEN", "enlist"]) == ["Silent", "enlist"]
