"""How a failing check is shown to a model: real pytest output, cut to what fixes the code."""

import subprocess
import sys

from tether.autonomy.untrusted import Fence
from tether.autonomy.verify import CommandResult, failure_report

LISTS = '''import unittest


class Song(unittest.TestCase):
    def test_1_verses(self):
        self.assertEqual(["a", "b"] + ["line %d" % n for n in range(400)], ["a", "", "b"] + ["line %d" % n for n in range(400)])

    def test_2_title(self):
        self.assertEqual("Beer", "beer")
'''


def checked(tmp_path) -> CommandResult:
    (tmp_path / "test_song.py").write_text(LISTS)
    command = f"{sys.executable} -m pytest -q --tb=short -p no:cacheprovider"
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
