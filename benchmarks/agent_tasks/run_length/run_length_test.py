from run_length import decode, encode


def test_encode_empty():
    assert encode("") == ""


def test_encode_single_characters():
    assert encode("XYZ") == "XYZ"


def test_encode_runs():
    assert encode("AABCCCD") == "2AB3CD"


def test_encode_long_run_and_spaces():
    assert encode("WWWWWWWWWWWWB  a") == "12WB2 a"


def test_decode():
    assert decode("2AB3CD") == "AABCCCD"


def test_decode_multi_digit():
    assert decode("12WB12W3B") == "WWWWWWWWWWWWBWWWWWWWWWWWWBBB"


def test_round_trip():
    text = "zzz ZZ  zZ"
    assert decode(encode(text)) == text
