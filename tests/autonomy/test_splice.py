"""A whole Python file that leaves out definitions is read as the definitions it changes: replies
as qwen2.5-coder-1.5b writes them when it fixes one method of a class."""

import pytest

from tests.conftest import make_tree
from tether.autonomy.edits import apply_text
from tether.autonomy.edits.splice import splice

WHOLE = ("search-replace", "udiff", "whole")

GAME = '''import re

FRAMES = 10


class BowlingGame:
    """One game."""

    def __init__(self):
        self.rolls = []

    def roll(self, pins):
        self.rolls.append(pins)

    def score(self):
        pass


def frames(rolls):
    return [rolls[i:i + 2] for i in range(0, len(rolls), 2)]
'''


@pytest.fixture
def repo(tmp_path):
    return make_tree(tmp_path / "repo", {"bowling.py": GAME, "notes.txt": "".join(f"line {n}\n" for n in range(20))})


def test_a_method_under_its_class_replaces_that_method_and_the_rest_stays(repo):
    reply = "bowling.py\n```python\nclass BowlingGame:\n    def score(self):\n        return sum(self.rolls)\n```\n"
    report = apply_text(repo, reply, formats=WHOLE)
    assert report.applied and report.blocks[0].how == "spliced"
    assert (repo / "bowling.py").read_text() == GAME.replace(
        "    def score(self):\n        pass\n", "    def score(self):\n        return sum(self.rolls)\n"
    )
    assert report.diff.count("\n-") == 1  # one line out, one in: the diff a person reviews is the change alone


def test_a_method_written_without_its_class_goes_into_the_class_at_its_indentation():
    out = splice("bowling.py", GAME, "def score(self):\n  total = 0\n  for pins in self.rolls:\n    total += pins\n  return total\n")
    assert "    def score(self):\n      total = 0\n      for pins in self.rolls:\n        total += pins\n      return total\n" in out
    assert "def roll(self, pins)" in out and "def frames(rolls)" in out and out.count("def score") == 1


def test_new_imports_helpers_and_constants_go_where_they_belong():
    reply = "import math\n\nFRAMES = 12\nSTRIKE = 10\n\n\ndef frames(rolls):\n    return []\n\n\ndef bonus(frame):\n    return 0\n"
    out = splice("bowling.py", GAME, reply)
    assert out.startswith("import re\nimport math\n\nFRAMES = 12\n")
    assert out.index("STRIKE = 10") < out.index("class BowlingGame") and "def score(self):\n        pass" in out
    assert "def frames(rolls):\n    return []\n" in out and out.rstrip().endswith("def bonus(frame):\n    return 0")


def test_a_main_block_written_again_replaces_the_old_one():
    script = GAME + '\n\nif __name__ == "__main__":\n    print(frames([1, 2]))\n'
    out = splice("bowling.py", script, 'def frames(rolls):\n    return []\n\n\nif __name__ == "__main__":\n    print(frames([3]))\n')
    assert out.count("__main__") == 1 and "print(frames([3]))" in out and "return []" in out


def test_a_reply_with_every_definition_is_the_whole_file(repo):
    rewritten = GAME.replace("import re\n", "").replace("        pass", "        return sum(self.rolls)")
    assert splice("bowling.py", GAME, rewritten) is None  # a whole file: what it leaves out (an import) is meant
    apply_text(repo, f"bowling.py\n```python\n{rewritten}```\n", formats=WHOLE)
    assert (repo / "bowling.py").read_text() == rewritten


@pytest.mark.parametrize(
    "reply",
    [
        "def score(self):\n    return 1\n\n\ndef score(self):\n    return 2\n",  # the same method twice: which one?
        "def frames(rolls:\n    return []\n",  # does not parse
        "x = 1\n",  # no definition at all
    ],
)
def test_what_cannot_be_read_as_definitions_is_not_spliced(reply):
    assert splice("bowling.py", GAME, reply) is None


def test_only_python_is_spliced_and_elsewhere_a_file_cut_short_is_still_refused(repo):
    assert splice("notes.txt", "def a():\n    pass\n", "def b():\n    pass\n") is None
    report = apply_text(repo, "notes.txt\n```\nline 0\n```\n", formats=WHOLE)
    assert not report.applied and "would keep 1 of its 20 lines" in report.blocks[0].error


@pytest.mark.parametrize("body", ["1+" * 200_000 + "1", "-" * 300_000 + "1", "(" * 5000 + ")" * 5000])
def test_a_reply_nested_too_deep_to_parse_never_crashes_the_applier(repo, body):
    """A hostile model's reply that Python's parser cannot hold (RecursionError, MemoryError) is
    not spliced: it goes the way any whole file goes."""
    assert splice("bowling.py", GAME, f"def frames(rolls):\n    return {body}\n") is None
    report = apply_text(repo, f"bowling.py\n```python\ndef frames(rolls):\n    return {body}\n```\n", formats=WHOLE)
    assert not report.applied and "would keep 2 of its 20 lines" in report.blocks[0].error and (repo / "bowling.py").read_text() == GAME


def test_a_spliced_constant_cannot_overwrite_a_hidden_secret_with_its_marker(repo):
    secret = GAME.replace("FRAMES = 10\n", 'FRAMES = 10\nAPI_KEY = "ghp_0123456789abcdefghijklmnopqrstuvwxyzAB"\n')
    (repo / "bowling.py").write_text(secret)
    reply = 'bowling.py\n```python\nAPI_KEY = "[REDACTED:github-token]"\n\n\ndef frames(rolls):\n    return []\n```\n'
    report = apply_text(repo, reply, formats=WHOLE)
    assert not report.applied and "marker" in report.feedback() and (repo / "bowling.py").read_text() == secret
