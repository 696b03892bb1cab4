"""fastlex gives exactly Pygments' tokens, on every text file of this repository (Python, Markdown,
TOML, HTML, CSS, JavaScript, shell, YAML, …) and on text made to trip a lexer up."""

import subprocess
from pathlib import Path

import pytest
from pygments.lexers import get_lexer_by_name

from tether.web import fastlex
from tether.web.diffview import _lexer, _suffix

ROOT = Path(__file__).resolve().parent.parent


def tracked() -> list[str]:
    out = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    return [f for f in out if not f.endswith((".png", ".gguf", ".ico"))]


def test_every_file_of_the_repository_lexes_to_pygments_own_tokens():
    checked = 0
    for rel in tracked():
        try:
            text = (ROOT / rel).read_text()
        except (UnicodeDecodeError, OSError):
            continue
        lexer = _lexer(_suffix(rel))
        assert list(fastlex.tokens(lexer, text)) == list(lexer.get_tokens_unprocessed(text)), rel
        checked += 1
    assert checked > 300


@pytest.mark.parametrize("language", ["python", "javascript", "rust", "go", "c", "java", "ruby", "php", "html", "bash", "sql"])
def test_broken_and_unclosed_text_lexes_to_pygments_own_tokens(language):
    lexer = get_lexer_by_name(language, stripnl=False, ensurenl=False)
    text = 'x = """never closed\n\'also open\n/* comment\n<tag attr="\n`tick ${a\n\x00\x1b[31m weird \ufeff\r\n\tdef f(:\n'
    assert list(fastlex.tokens(lexer, text)) == list(lexer.get_tokens_unprocessed(text))
