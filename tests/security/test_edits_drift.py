"""Drifted edits never change what the model did not mean: stale context stays as the file has it,
dropped blank lines are not doubled, and an elided block whose anchors fit twice is refused."""

from tests.conftest import make_tree
from tether.autonomy.edits import apply_text

FILE = """def build(name, default=None):
    return Thing(
        name=name,
        default=default,
        strict=True,
    )
"""


def sr(path, search, replace):
    return f"{path}\n<<<<<<< SEARCH\n{search}=======\n{replace}>>>>>>> REPLACE\n"


def test_a_stale_context_line_is_not_written_back(tmp_path):
    root = make_tree(tmp_path, {"m.py": FILE})
    stale = "        name=name,\n        default=default,  # old\n        strict=True,\n    )\n"
    report = apply_text(root, sr("m.py", stale, stale.replace("strict=True", "strict=False")))
    assert report.applied, report.feedback()
    assert (root / "m.py").read_text() == FILE.replace("strict=True", "strict=False")  # the file's line, not the stale copy


def test_a_change_to_a_line_that_drifted_in_the_file_is_a_conflict_and_nothing_is_written(tmp_path):
    root = make_tree(tmp_path, {"m.py": FILE})
    stale = "        name=name,\n        default=default,  # old\n        strict=True,\n    )\n"
    report = apply_text(root, sr("m.py", stale, stale.replace("default=default,  # old", "default=fallback,")))
    assert not report.applied and "differs from the SEARCH" in report.feedback()
    assert "m.py:4" in report.blocks[0].hint
    assert (root / "m.py").read_text() == FILE


def test_blank_lines_left_out_of_the_quote_are_not_doubled(tmp_path):
    text = "import os\n\n\ndef a():\n    return 1\n\n\ndef b():\n    return 2\n"
    root = make_tree(tmp_path, {"m.py": text})
    for search, replace in [
        ("def a():\n    return 1\ndef b():\n", "def a():\n    return 10\n\n\ndef b():\n"),  # blank lines only in REPLACE
        ("def a():\n    return 10\ndef b():\n", "def a():\n    return 11\ndef b():\n"),  # left out of both
    ]:
        report = apply_text(root, sr("m.py", search, replace))
        assert report.applied, report.feedback()
    assert (root / "m.py").read_text() == text.replace("return 1\n", "return 11\n")


def test_an_elided_block_whose_anchors_fit_a_sibling_too_is_refused(tmp_path):
    text = (
        "class Store:\n    def load(self):\n        self.open()\n        data = self.read()\n        return data\n\n"
        "    def save(self):\n        self.open()\n        data = self.read()\n        return data\n"
    )
    root = make_tree(tmp_path, {"m.py": text})
    reply = sr(
        "m.py", "        self.open()\n        ...\n        return data\n", "        self.open()\n        ...\n        return data or {}\n"
    )
    report = apply_text(root, reply)
    assert not report.applied and "fit more than one place" in report.feedback()
    assert (root / "m.py").read_text() == text


def test_an_elided_block_never_runs_into_the_next_function(tmp_path):
    text = "def a():\n    x = 1\n\ndef b():\n    y = 2\n    return y\n"
    root = make_tree(tmp_path, {"m.py": text})
    report = apply_text(root, sr("m.py", "def a():\n...\n    return y\n", "def a():\n...\n    return y + 1\n"))
    assert not report.applied and (root / "m.py").read_text() == text
    report = apply_text(root, sr("m.py", "def b():\n...\n    return y\n", "def b():\n...\n    return y + 1\n"))
    assert report.applied and (root / "m.py").read_text() == text.replace("return y", "return y + 1")
