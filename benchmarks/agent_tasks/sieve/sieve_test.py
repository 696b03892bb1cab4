from sieve import primes


def test_no_primes_under_two():
    assert primes(1) == []


def test_first_prime():
    assert primes(2) == [2]


def test_limit_is_prime():
    assert primes(13) == [2, 3, 5, 7, 11, 13]


def test_ten():
    assert primes(10) == [2, 3, 5, 7]


def test_larger():
    found = primes(1000)
    assert len(found) == 168 and found[-1] == 997
