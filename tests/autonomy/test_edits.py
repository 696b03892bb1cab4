"""Edits applied to a real folder: every format, every matcher, all-or-none, bytes preserved."""

import os
import stat

import pytest

from tests.conftest import make_tree
from tether.autonomy.edits import apply_text, parse_reply

APP = "import os\n\n\ndef add(a, b):\n    return a + b\n\n\ndef sub(a, b):\n    return a - b\n"


def sr(path, search, replace, fence=True):
    block = f"<<<<<<< SEARCH\n{search}=======\n{replace}>>>>>>> REPLACE\n"
    return f"{path}\n```python\n{block}```\n" if fence else f"{path}\n{block}"


@pytest.fixture
def repo(tmp_path):
    return make_tree(tmp_path / "repo", {"app.py": APP, "pkg/util.py": "def helper():\n    return 1\n", "README.md": "# Demo\n"})


def read(repo, rel):
    return (repo / rel).read_text()


def test_search_replace_in_prose_with_fences_and_crlf(repo):
    reply = (
        "Sure! Here is the change.\r\n\r\n"
        + sr("app.py", "def add(a, b):\n    return a + b\n", "def add(a, b):\n    return a + b + 0\n").replace("\n", "\r\n")
        + "\r\nDone."
    )
    report = apply_text(repo, reply)
    assert report.applied and report.changed == ["app.py"] and report.blocks[0].how == "exact"
    assert "return a + b + 0\n" in read(repo, "app.py")
    assert "+    return a + b + 0" in report.diff


def test_several_blocks_for_one_file_share_its_path(repo):
    reply = (
        sr("app.py", "    return a + b\n", "    return b + a\n")
        + "\nand\n\n```python\n<<<<<<< SEARCH\n    return a - b\n=======\n    return -(b - a)\n>>>>>>> REPLACE\n```\n"
    )
    report = apply_text(repo, reply)
    assert report.applied and [b.path for b in report.blocks] == ["app.py", "app.py"]
    assert "return b + a" in read(repo, "app.py") and "return -(b - a)" in read(repo, "app.py")


@pytest.mark.parametrize(
    "search, how",
    [
        ("def add(a, b):   \n    return a + b  \n", "trailing-whitespace"),
        ("        def add(a, b):\n            return a + b\n", "indentation"),
        ("def add(a, b):\n\n    return a + b\n", "blank-lines"),
        ("\n\ndef add(a, b):\n    # adds\n    return a + b\n", "fuzzy"),  # a stale comment line the file lacks
    ],
)
def test_each_matcher_finds_the_place(repo, search, how):
    replace = "        def add(a, b):\n            return a + b + 1\n" if how == "indentation" else "def add(a, b):\n    return a + b + 1\n"
    report = apply_text(repo, sr("app.py", search, replace))
    assert report.applied, report.feedback()
    assert report.blocks[0].how.startswith(how)
    assert "def add(a, b):\n    return a + b + 1\n" in read(repo, "app.py")  # re-indented to the file's own depth


def test_elision_keeps_what_lies_between(repo):
    search = "import os\n...\ndef sub(a, b):\n"
    replace = "import os\nimport sys\n...\ndef sub(a, b):  # minus\n"
    report = apply_text(repo, sr("app.py", search, replace))
    assert report.applied, report.feedback()
    assert read(repo, "app.py") == APP.replace("import os\n", "import os\nimport sys\n").replace(
        "def sub(a, b):", "def sub(a, b):  # minus"
    )


def test_ambiguous_or_missing_text_fails_with_the_nearest_snippet(repo):
    (repo / "twice.py").write_text("x = 1\ny = 2\nx = 1\n")
    ambiguous = apply_text(repo, sr("twice.py", "x = 1\n", "x = 3\n"))
    assert not ambiguous.applied and "matches 2 places" in ambiguous.blocks[0].error
    missing = apply_text(repo, sr("app.py", "def mul(a, b):\n    return a * b\n", "pass\n"))
    assert not missing.applied and "not in the file" in missing.blocks[0].error
    assert missing.blocks[0].hint.startswith("app.py:")
    assert read(repo, "app.py") == APP


def test_all_or_none(repo):
    good = sr("app.py", "    return a + b\n", "    return 42\n")
    bad = sr("pkg/util.py", "def nothing():\n", "x\n")
    report = apply_text(repo, good + "\n" + bad)
    assert not report.applied and [b.ok for b in report.blocks] == [True, False]
    assert read(repo, "app.py") == APP and report.changed == []


def test_fuzzy_path_and_new_file(repo):
    report = apply_text(repo, sr("util.py", "    return 1\n", "    return 2\n") + sr("pkg/new_mod.py", "", "VALUE = 1\n"))
    assert report.applied, report.feedback()
    assert read(repo, "pkg/util.py").endswith("return 2\n") and read(repo, "pkg/new_mod.py") == "VALUE = 1\n"
    assert report.blocks[0].path == "pkg/util.py" and report.blocks[1].how == "created"


def test_unified_diff_with_wrong_line_numbers_create_delete_rename(repo):
    reply = """```diff
--- a/app.py
+++ b/app.py
@@ -40,3 +40,3 @@
 def sub(a, b):
-    return a - b
+    return a - b - 0
--- /dev/null
+++ b/docs/new.md
@@ -0,0 +1,2 @@
+# New
+text
--- a/README.md
+++ /dev/null
@@ -1 +0,0 @@
-# Demo
--- a/pkg/util.py
+++ b/pkg/helpers.py
```"""
    report = apply_text(repo, reply)
    assert report.applied, report.feedback()
    assert "return a - b - 0" in read(repo, "app.py") and read(repo, "docs/new.md") == "# New\ntext\n"
    assert not (repo / "README.md").exists() and not (repo / "pkg/util.py").exists()
    assert read(repo, "pkg/helpers.py") == "def helper():\n    return 1\n"


WHOLE = ("search-replace", "udiff", "whole")


def test_whole_file_format_but_never_a_prose_example(repo):
    reply = "Example only:\n```python\nprint('hi')\n```\n\npkg/util.py\n```python\ndef helper():\n    return 7\n```\n"
    assert not apply_text(repo, reply).applied  # whole files only when the caller asked for that format
    report = apply_text(repo, reply, formats=WHOLE)
    assert report.applied and report.changed == ["pkg/util.py"] and read(repo, "pkg/util.py") == "def helper():\n    return 7\n"
    lazy = apply_text(repo, "app.py\n```python\nimport os\n# ... rest unchanged\n```\n", formats=WHOLE)
    assert not lazy.applied and read(repo, "app.py") == APP


def test_a_bare_whole_file_is_taken_only_for_the_sole_writable_file():
    from tether.autonomy.edits.formats import FORMATS

    whole = FORMATS["whole"]
    bare = "```python\nclass Cipher:\n    key = 'a'\n```\n\nThe `Cipher` class now has a key."  # qwen2.5-coder-1.5b's reply
    assert whole.parse(bare) == []  # no path line and no sole file: nothing to guess
    (edit,) = whole.parse(bare, sole="simple_cipher.py")
    assert (edit.path, edit.replace) == ("simple_cipher.py", "class Cipher:\n    key = 'a'\n")
    assert whole.parse("```python\na = 1\n```\nor\n```python\na = 2\n```\n", sole="x.py") == []  # two blocks: which one?
    assert whole.parse("```python\nimport os\n# ... rest unchanged\n```\n", sole="x.py") == []
    assert FORMATS["search-replace"].parse(bare, sole="x.py") == []  # only where whole files were asked for
    (named,) = whole.parse("other.py\n```python\nb = 2\n```\n", sole="x.py")
    assert named.path == "other.py"  # a path the model gave wins (and the leash judges it)


def test_a_whole_file_that_would_lose_most_lines_is_refused(repo):
    (repo / "long.py").write_text("".join(f"x{i} = {i}\n" for i in range(40)))
    report = apply_text(repo, "long.py\n```python\nx0 = 0\n```\n", formats=WHOLE)
    assert not report.applied and "would keep 1 of its 40 lines" in report.blocks[0].error


def test_encoding_line_endings_final_newline_and_mode_are_kept(repo):
    latin = repo / "latin.txt"
    latin.write_bytes("café = 1\r\nnaïve = 2".encode("latin-1"))
    script = repo / "run.sh"
    script.write_text("#!/bin/sh\necho hi\n")
    script.chmod(0o755)
    report = apply_text(repo, sr("latin.txt", "naïve = 2\n", "naïve = 3\n") + sr("run.sh", "echo hi\n", "echo bye\n"))
    assert report.applied, report.feedback()
    assert latin.read_bytes() == "café = 1\r\nnaïve = 3".encode("latin-1")
    assert stat.S_IMODE(script.stat().st_mode) == 0o755 and script.read_text() == "#!/bin/sh\necho bye\n"


@pytest.mark.parametrize("path", ["../outside.py", "/etc/passwd", "pkg/../../x.py", ".git/config", "link/evil.py"])
def test_paths_outside_the_workspace_are_refused(repo, tmp_path, path):
    outside = make_tree(tmp_path / "outside", {"evil.py": "x = 1\n"})
    os.symlink(outside, repo / "link")
    report = apply_text(repo, sr(path, "", "pwned = True\n"))
    assert not report.applied and report.blocks[0].error
    assert (outside / "evil.py").read_text() == "x = 1\n" and not (tmp_path / "outside.py").exists()


def test_no_blocks_is_reported(repo):
    report = apply_text(repo, "I think the code is fine as it is.")
    assert not report.applied and report.blocks[0].error == "no edit blocks found in the reply"


def test_parse_reply_takes_blocks_and_diffs_in_reply_order():
    reply = "--- a/a.py\n+++ b/a.py\n@@\n-x\n+y\n\n" + sr("b.py", "x\n", "y\n")
    assert [(e.block, e.format, e.path) for e in parse_reply(reply)] == [(1, "udiff", "a.py"), (2, "search-replace", "b.py")]


def test_sloppy_paths_small_models_write_still_find_the_file(repo):
    """Seen in real replies of qwen2.5-coder-1.5b: the prompt's placeholder folder, a stray `<`,
    another case, a block under the wrong file's name, and no path at all."""
    whole = apply_text(repo, "path/to/PKG/Util.py\n```python\ndef helper():\n    return 2\n```\n", formats=WHOLE)
    assert whole.changed == ["pkg/util.py"] and read(repo, "pkg/util.py") == "def helper():\n    return 2\n"
    assert apply_text(repo, "<pkg/util.py\n```python\ndef helper():\n    return 3\n```\n", formats=WHOLE).changed == ["pkg/util.py"]
    misplaced = apply_text(repo, sr("README.md", "def sub(a, b):\n", "def subtract(a, b):\n"))
    assert misplaced.changed == ["app.py"] and "def subtract" in read(repo, "app.py")
    pathless = apply_text(repo, "```python\n<<<<<<< SEARCH\n    return a + b\n=======\n    return b + a\n>>>>>>> REPLACE\n```\n")
    assert pathless.changed == ["app.py"] and "return b + a" in read(repo, "app.py")


def test_a_reply_cut_off_mid_block_changes_nothing(repo):
    """A reply that ran out of tokens: half a SEARCH would delete what it matched, half a REPLACE or
    an unclosed whole file would write half the code."""
    before = (repo / "app.py").read_text()
    first = before.splitlines()[0]
    for cut in (
        f"app.py\n```python\n<<<<<<< SEARCH\n{first}\n",
        f"app.py\n```python\n<<<<<<< SEARCH\n{first}\n=======\n{first[:5]}",
        f"app.py\n```python\n{before[:-12]}",
    ):
        report = apply_text(repo, cut)
        assert not report.applied and (repo / "app.py").read_text() == before, cut


def test_a_search_replace_block_that_closes_its_fence_without_the_replace_marker_is_taken(repo):
    first = (repo / "app.py").read_text().splitlines()[0]
    reply = f"app.py\n```python\n<<<<<<< SEARCH\n{first}\n=======\n# changed\n```\n\nThat renames it."
    assert [(e.search, e.replace) for e in parse_reply(reply)] == [(first + "\n", "# changed\n")]


def test_a_hunk_edited_by_hand_rebuilds_the_text_as_the_person_wrote_it():
    from tether.autonomy.edits.hunks import combine, split

    before = "a\nb\nc\n"
    first, last = split("f.txt", before, "A\nb\nC\n")
    first.edit("one\ntwo")  # typed in a box: no newline at the end, which must not run into line b
    last.edit("")  # everything taken out: the hunk deletes its old line
    assert combine(before, [first, last], [True, True]) == "one\ntwo\nb\n"
