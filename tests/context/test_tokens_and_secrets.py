import pytest

from tether.context import tokens
from tether.errors import TetherError
from tether.redaction import redact


def test_counts_match_the_published_encodings():
    # "hello world" is 2 tokens in both; the emoji and the code split differently per vocabulary.
    assert tokens.count("hello world") == 2 == tokens.count("hello world", "cl100k_base")
    assert tokens.count("") == 0
    text = "def add(a, b):\n    return a + b\n" * 50
    assert tokens.count(text) > 0 and tokens.count(text, "cl100k_base") > 0


def test_a_large_file_is_counted_whole_and_exactly():
    line = "value = compute(alpha, beta) + 12345  # note\n"
    assert tokens.count(line * 50_000) == 50_000 * tokens.count(line)  # 2.3 MB in one call


def test_unknown_encoding_is_one_line():
    with pytest.raises(TetherError, match="unknown encoding 'p50k'"):
        tokens.count("x", "p50k")


@pytest.mark.parametrize(
    "secret, kind",
    [
        ("AKIAIOSFODNN7EXAMPLE", "aws-access-key"),
        ("ghp_" + "a1B2" * 9, "github-token"),
        ("sk-proj-" + "Ab3" * 10, "openai-key"),
        ("sk-ant-api03-" + "x9" * 15, "anthropic-key"),
        ("xoxb-1234567890-abcdefghij", "slack-token"),
        ("AIza" + "S" * 35, "google-api-key"),
        ("sk_live_" + "4eC39HqLyjWDarjtT1zdp7dc", "stripe-key"),
    ],
)
def test_token_formats_are_redacted_in_place(secret, kind):
    text, found = redact(f"config = {{'key': '{secret}', 'other': 1}}\n")
    assert secret not in text and f"[REDACTED:{kind}]" in text and "'other': 1" in text
    assert found[kind] == 1


def test_private_key_block_and_url_password_and_assignment():
    text, found = redact(
        "-----BEGIN RSA PRIVATE KEY-----\nMIIEow\n-----END RSA PRIVATE KEY-----\n"
        'engine = create_engine("postgresql://scott:tiger@localhost/test")\n'
        'DB_PASSWORD = "hunter2hunter2"\n'
    )
    assert "MIIEow" not in text and "tiger" not in text and "hunter2" not in text
    assert "postgresql://scott:[REDACTED:url-password]@localhost/test" in text
    assert found == {"private-key": 1, "url-password": 1, "password": 1}


def test_ordinary_code_is_left_alone():
    code = 'def check_password(password):\n    return len(password) > 8\nurl = "https://example.com/a@b"\n'
    assert redact(code) == (code, {})
