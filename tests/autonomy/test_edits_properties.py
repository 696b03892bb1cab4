"""Properties over generated files and changes, and an apply killed at random moments."""

import difflib
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings, strategies as st

from tether.autonomy.edits import apply_text

LINE = st.sampled_from(
    [
        "def f(x):",
        "    return x",
        "",
        "class A:",
        "    pass",
        "import os",
        "x = 1",
        "y = x + 1",
        "    if x:",
        "        return None",
        "# a comment",
        "print(x)",
        "    for i in range(3):",
        "        total += i",
        "}",
        "{",
    ]
) | st.text(alphabet="abcdefgh =()+:", min_size=1, max_size=24)


def block_from_diff(before: list[str], after: list[str]) -> str | None:
    """A SEARCH/REPLACE block for the change as a diff shows it: three lines of context (fewer at
    the file's edges), grown until SEARCH is unique."""
    matcher = difflib.SequenceMatcher(None, before, after, autojunk=False)
    changes = [op for op in matcher.get_opcodes() if op[0] != "equal"]
    if not changes:
        return None
    i1, i2, j1, j2 = changes[0][1], changes[-1][2], changes[0][3], changes[-1][4]
    text = "".join(line + "\n" for line in before)
    for context in range(3, len(before) + 4):
        a, b = max(0, i1 - context), min(len(before), i2 + context)
        search = "".join(line + "\n" for line in before[a:b])
        if search and text.count(search) == 1:
            replace = "".join(line + "\n" for line in before[a:i1] + after[j1:j2] + before[i2:b])
            return f"f.py\n<<<<<<< SEARCH\n{search}=======\n{replace}>>>>>>> REPLACE\n"
    return None


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(before=st.lists(LINE, min_size=1, max_size=30), data=st.data())
def test_a_block_derived_from_a_diff_reproduces_the_post_image(tmp_path, before, data):
    start = data.draw(st.integers(0, len(before)))
    end = data.draw(st.integers(start, len(before)))
    after = before[:start] + data.draw(st.lists(LINE, max_size=5)) + before[end:]
    root = Path(tempfile.mkdtemp(dir=tmp_path))
    original = "".join(line + "\n" for line in before)
    (root / "f.py").write_text(original)
    block = block_from_diff(before, after)
    if block is None:
        return
    report = apply_text(root, block)
    expected = "".join(line + "\n" for line in after)
    if report.applied:
        assert (root / "f.py").read_text() == expected
    else:  # refusing is allowed (e.g. a block of blank lines that matches twice), changing the wrong place is not
        assert (root / "f.py").read_text() == original


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    files=st.lists(st.lists(LINE, min_size=1, max_size=10), min_size=2, max_size=4), junk=st.text(alphabet="xyz", min_size=12, max_size=20)
)
def test_a_failed_apply_changes_no_byte(tmp_path, files, junk):
    root = Path(tempfile.mkdtemp(dir=tmp_path))
    for n, lines in enumerate(files):
        (root / f"m{n}.py").write_bytes(("\r\n" if n % 2 else "\n").join(lines).encode())
    before = {p.name: p.read_bytes() for p in root.iterdir()}
    good = f"m0.py\n<<<<<<< SEARCH\n{files[0][0]}\n=======\nchanged = True\n>>>>>>> REPLACE\n"
    bad = f"m1.py\n<<<<<<< SEARCH\n{junk}\n{junk}\n{junk}\n=======\nnope\n>>>>>>> REPLACE\n"
    report = apply_text(root, good + bad)
    assert not report.applied
    assert {p.name: p.read_bytes() for p in root.iterdir()} == before
