import pytest

from pig_latin import translate


@pytest.mark.parametrize("word, expected", [
    ("apple", "appleay"), ("ear", "earay"), ("pig", "igpay"), ("koala", "oalakay"),
    ("chair", "airchay"), ("therapy", "erapythay"), ("school", "oolschay"),
    ("queen", "eenquay"), ("square", "aresquay"), ("xray", "xrayay"), ("yttria", "yttriaay"),
    ("yellow", "ellowyay"), ("rhythm", "ythmrhay"), ("my", "ymay"),
])
def test_words(word, expected):
    assert translate(word) == expected


def test_phrase():
    assert translate("quick fast run") == "ickquay astfay unray"
