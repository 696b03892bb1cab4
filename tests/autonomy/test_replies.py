"""Replies recorded from the embedded models (tests/autonomy/replies/make_replies.py), messy and
malformed ones included: each is applied or refused as expected, and a refusal changes no byte."""

import ast
import sys
from pathlib import Path

import pytest

from tether.autonomy.edits import apply_text

HERE = Path(__file__).parent / "replies"
sys.path.insert(0, str(HERE))
from make_replies import FILES  # noqa: E402

# what each recorded reply holds, read by a person: the edit blocks it has, and whether they apply
EXPECTED = {
    "smollm2-135m--rename.txt": ("no blocks",),
    "smollm2-135m--docstring.txt": ("no blocks",),
    "smollm2-135m--exclaim.txt": ("no blocks",),  # a rewritten function in a bare fence, no path
    "qwen2.5-coder-0.5b--rename.txt": ("no blocks",),  # REPLACE markers without SEARCH markers or dividers
    "qwen2.5-coder-0.5b--docstring.txt": ("no blocks",),
    "qwen2.5-coder-0.5b--exclaim.txt": ("no blocks",),
    "qwen2.5-coder-1.5b--rename.txt": ("applied", "calc.py", "def plus(a, b):"),
    "qwen2.5-coder-1.5b--docstring.txt": ("no blocks",),  # the whole file, which was not the format asked for
    "qwen2.5-coder-1.5b--exclaim.txt": ("applied", "greet.py", 'return "Hello, " + name + "!"'),
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_recorded_reply(tmp_path, name):
    for path, text in FILES.items():
        (tmp_path / path).write_text(text)
    report = apply_text(tmp_path, (HERE / name).read_text())
    expected = EXPECTED[name]
    if expected[0] == "applied":
        assert report.applied, report.feedback()
        assert expected[2] in (tmp_path / expected[1]).read_text()
        for path in report.changed:
            ast.parse((tmp_path / path).read_text())  # still valid Python
    else:
        assert not report.applied and report.feedback()
        assert {p: (tmp_path / p).read_text() for p in FILES} == FILES  # refused: not one byte changed
        assert report.blocks[0].error.startswith("no edit blocks found in the reply")
