"""How a failing check is shown to a model: real pytest output, cut to what fixes the code; and
whether it fails on wrong answers or on an exception the code raised."""

import subprocess
import sys

import pytest

from tests.conftest import PYTEST, PYTEST_ARGS
from tether.autonomy.guard.untrusted import Fence
from tether.autonomy.guard.verify import CommandResult, failure_report, wrong_values

LISTS = """import unittest


class Song(unittest.TestCase):
    def test_1_verses(self):
        self.assertEqual(["a", "b"] + ["line %d" % n for n in range(400)], ["a", "", "b"] + ["line %d" % n for n in range(400)])

    def test_2_title(self):
        self.assertEqual("Beer", "beer")
"""


def checked(tmp_path) -> CommandResult:
    (tmp_path / "test_song.py").write_text(LISTS)
    command = f"{PYTEST} --tb=short"
    done = subprocess.run(command.split(), cwd=tmp_path, capture_output=True, text=True)
    return CommandResult(command, done.returncode, done.stdout + done.stderr, 1.0)


def test_a_failure_report_keeps_the_assertion_and_drops_diff_guides_and_unittest_notes(tmp_path):
    result = checked(tmp_path)
    assert "Diff is" in result.output and "?" in result.output  # what unittest and difflib wrote
    shown = result.summary(failures=2)
    assert "First differing element 1:" in shown and "'b'" in shown and "2 failed" in shown
    assert "Diff is" not in shown and not any(line.lstrip("E ").startswith("? ") for line in shown.splitlines())


def test_the_report_a_model_gets_names_the_command_once_and_shows_one_failure(tmp_path):
    result, fence = checked(tmp_path), Fence("0badcafe")
    shown = failure_report([result, CommandResult("ruff check .", 0, "", 0.1)], fence.wrap)
    assert shown.count(result.command) == 1 and f'source="{result.command}"' in shown and "ruff" not in shown
    assert "test_1_verses" in shown and "test_2_title" not in shown and "1 more failure(s) like these" in shown
    assert result.summary().startswith(f"$ {result.command}\n")  # a report a person reads still opens with it


CODE = {
    "wrong answer": "def f(x):\n    return x + 1\n",
    "missing name": "def f(x):\n    return X\n",
    "bad index": "def f(x):\n    return [1][x + 5]\n",
    "syntax": "def f(x:\n",
    "other exception": "def f(x):\n    raise TypeError(x)\n",
    "answer names an error": "def f(x):\n    return 'ValueError'\n",
}
TESTS = {
    "pytest": "import pytest\nfrom m import f\n\n\ndef test_one():\n    assert f(0) == 2\n\n\ndef test_raises():\n"
    "    with pytest.raises(ValueError):\n        f(5)\n",
    "unittest": "import unittest\nfrom m import f\n\n\nclass T(unittest.TestCase):\n    def test_one(self):\n"
    "        self.assertEqual(f(0), 2)\n",
}


@pytest.mark.parametrize("style,runner", [("pytest", "--tb=auto"), ("unittest", "--tb=short"), ("unittest", "unittest")])
def test_a_check_fails_on_wrong_answers_only_when_no_exception_came_from_the_code(tmp_path, style, runner):
    verdicts = {}
    for name, code in CODE.items():
        work = tmp_path / name.replace(" ", "_")
        work.mkdir()
        (work / "m.py").write_text(code)
        (work / "test_m.py").write_text(TESTS[style])
        command = [sys.executable, "-m", "unittest"] if runner == "unittest" else [*PYTEST_ARGS, runner]
        done = subprocess.run(command, cwd=work, capture_output=True, text=True)
        verdicts[name] = wrong_values([CommandResult(" ".join(command), done.returncode, done.stdout + done.stderr, 1.0)])
    assert {n for n, v in verdicts.items() if v} == {"wrong answer", "answer names an error"}


def test_passing_or_timed_out_checks_are_not_wrong_answers():
    assert not wrong_values([CommandResult("pytest", 0, "1 passed", 0.1)])
    assert not wrong_values([CommandResult("pytest", None, "E   assert 1 == 2", 60.0)])
    assert wrong_values([CommandResult("pytest", 1, "E   Failed: DID NOT RAISE <class 'ValueError'>\n1 failed", 0.1)])
