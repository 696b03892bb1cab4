"""A second try never leaves the code worse than the first: where no person reviews each change,
a run whose last change passes fewer tests than an earlier one ends with the earlier one."""

import sys

import pytest

from tests.conftest import make_tree
from tether.autonomy.agent.start import RunOptions, prepare
from tether.autonomy.history import runlog

STUB = "def add(a, b):\n    return None\n\n\ndef sub(a, b):\n    return None\n\n\ndef mul(a, b):\n    return None\n"
TESTS = (
    "from calc import add, sub, mul\n\n\ndef test_add():\n    assert add(2, 3) == 5\n\n\n"
    "def test_sub():\n    assert sub(5, 3) == 2\n\n\ndef test_mul():\n    assert mul(2, 3) == 6\n"
)


def edit(old: str, new: str) -> str:
    return f"calc.py\n```python\n<<<<<<< SEARCH\n{old}=======\n{new}>>>>>>> REPLACE\n```\n"


FIRST = edit(
    "def add(a, b):\n    return None\n\n\ndef sub(a, b):\n    return None\n",
    "def add(a, b):\n    return a + b\n\n\ndef sub(a, b):\n    return a - b\n",
)
WORSE = edit("def sub(a, b):\n    return a - b\n", "def sub(a, b):\n    return b - a\n")  # the second try breaks what passed
CHECK = f"{sys.executable} -m pytest -q -p no:cacheprovider test_calc.py"
CONFIG = {"routes": {"default": {"models": ["s/m"]}}, "verify": {"sandbox": "off"}}


@pytest.fixture
def work(tmp_path):
    return make_tree(tmp_path / "work", {"calc.py": STUB, "test_calc.py": TESTS})


def test_a_worse_second_change_gives_way_to_the_first(make_grid, work):
    grid = make_grid(CONFIG, s=[FIRST, WORSE, "DONE", "DONE"])
    result = prepare(RunOptions("make the tests pass", work, level="agent", checks=(CHECK,), edit_format="search-replace"), grid).run()

    assert "return a - b" in (work / "calc.py").read_text()  # the first change's sub, which passed
    assert result.status == "failing" and "the workspace keeps the earlier one" in result.reason
    assert "2 passed" in result.checks[0].output  # the result reports the version it kept
    _, steps = runlog.replay(grid.store, result.id)
    assert any("passed 1 test(s), fewer than the earlier one (2)" in (s.get("text") or "") for s in steps)


def test_a_better_last_change_is_kept_and_a_stopped_run_keeps_its_last_checkpoint(make_grid, work):
    better = edit("def mul(a, b):\n    return None\n", "def mul(a, b):\n    return a * b\n")
    grid = make_grid(CONFIG, s=[FIRST, better, "DONE"])
    result = prepare(RunOptions("make the tests pass", work, level="agent", checks=(CHECK,), edit_format="search-replace"), grid).run()
    assert result.status == "done" and "keeps the earlier" not in result.reason and "return a * b" in (work / "calc.py").read_text()


def test_at_approve_the_person_saw_every_change_and_the_last_one_stands(make_grid, work):
    class Yes:
        def confirm(self, question):
            return True

        def review(self, hunks):
            return [True] * len(hunks)

    grid = make_grid(CONFIG, s=[FIRST, WORSE, "DONE", "DONE"])
    options = RunOptions("make the tests pass", work, level="approve", checks=(CHECK,), edit_format="search-replace")
    result = prepare(options, grid, person=Yes()).run()
    assert "return b - a" in (work / "calc.py").read_text() and "keeps the earlier" not in result.reason


def test_a_run_whose_changes_all_do_worse_than_the_files_it_found_leaves_them_as_found(make_grid, tmp_path):
    found = STUB.replace("def add(a, b):\n    return None", "def add(a, b):\n    return a + b")
    work = make_tree(tmp_path / "found", {"calc.py": found, "test_calc.py": TESTS})  # add passes already
    breaks = edit("def add(a, b):\n    return a + b\n", "def add(a, b):\n    return a * b\n")
    grid = make_grid(CONFIG, s=[breaks, "DONE", "DONE"])
    result = prepare(RunOptions("make the tests pass", work, level="agent", checks=(CHECK,), edit_format="search-replace"), grid).run()
    assert (work / "calc.py").read_text() == found and result.changed == []
    assert "fewer than the files as the run found them (1)" in result.reason
