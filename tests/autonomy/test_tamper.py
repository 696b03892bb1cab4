"""What a change weakens in the tests, and the leash holding such a change for a person at every level."""

import pytest

from tether.autonomy.leash import Leash
from tether.autonomy.tamper import RULE, is_test, weakened

TESTS = "import pytest\n\n\ndef test_add():\n    assert add(2, 3) == 5\n    self.assertEqual(x, 1)\n"
JS = "describe('add', () => {\n  it('adds', () => {\n    expect(add(2, 3)).toBe(5);\n  });\n});\n"


@pytest.mark.parametrize("path", ["test_calc.py", "calc_test.py", "tests/helpers.py", "pkg/test/data.json", "conftest.py",
                                  "web/add.test.ts", "web/add.spec.js", "src/__tests__/add.jsx", "calc_test.go", "spec/calc_spec.rb"])
def test_files_named_or_placed_like_tests_are_tests(path):
    assert is_test(path)


@pytest.mark.parametrize("path", ["calc.py", "src/testing_utils.py", "latest.py", "docs/tests.md", "contest.js"])
def test_other_files_are_not_tests(path):
    assert not is_test(path)


def test_deleting_a_test_file_is_named_and_renaming_one_says_where_to():
    assert weakened([("tests/test_x.py", TESTS, None)]) == ["tests/test_x.py is deleted"]
    assert weakened([("tests/test_x.py", TESTS, None), ("old/x.py", None, TESTS)]) == ["tests/test_x.py is renamed to old/x.py"]


def test_a_rewritten_assertion_and_a_removed_test_function_are_named():
    found = weakened([("tests/test_x.py", TESTS, TESTS.replace("== 5", "== -1").replace("    self.assertEqual(x, 1)\n", ""))])
    assert found == ["tests/test_x.py: assertion removed or changed: `assert add(2, 3) == 5`",
                     "tests/test_x.py: assertion removed or changed: `self.assertEqual(x, 1)`"]
    assert weakened([("test_x.py", TESTS, "import pytest\n")])[0] == "test_x.py: test removed or changed: `def test_add():`"


def test_commenting_out_an_assertion_removes_it():
    assert weakened([("test_x.py", TESTS, TESTS.replace("    assert add", "    # assert add"))])


@pytest.mark.parametrize("skip", ["@pytest.mark.skip(reason='slow')", "@pytest.mark.xfail", "@pytest.mark.skipif(True, reason='x')",
                                  "@unittest.skip('later')", "    pytest.skip('obsolete')"])
def test_adding_a_skip_weakens_the_tests(skip):
    after = TESTS.replace("def test_add", f"{skip}\ndef test_add")
    assert weakened([("test_x.py", TESTS, after)]) == [f"test_x.py: skip added: `{skip.strip()}`"]


@pytest.mark.parametrize("change", [JS.replace("it('adds'", "it.skip('adds'"), JS.replace("it('adds'", "it.only('adds'"),
                                    JS.replace("    expect(add(2, 3)).toBe(5);\n", "")])
def test_skipping_focusing_or_hollowing_a_js_test_weakens_it(change):
    assert weakened([("web/add.test.js", JS, change)])


def test_adding_tests_or_changing_code_weakens_nothing():
    more = TESTS + "\n\ndef test_sub():\n    assert sub(5, 3) == 2\n"
    assert weakened([("tests/test_x.py", TESTS, more), ("tests/test_new.py", None, more)]) == []
    assert weakened([("calc.py", "assert x\n", None), ("lib.py", "def f():\n    assert x\n", "def f():\n    pass\n")]) == []
    assert weakened([("tests/test_x.py", TESTS, TESTS.replace("import pytest\n", "import pytest\nimport os\n"))]) == []


@pytest.mark.parametrize("level", ["approve", "auto", "agent"])
def test_the_leash_asks_about_a_change_that_weakens_the_tests_at_every_level(tmp_path, level):
    leash = Leash(tmp_path, level)
    decision = leash.check_change({"tests/test_x.py": 5}, (("tests/test_x.py", TESTS, None),))
    assert decision.verdict == "ask" and decision.rule == RULE and "tests/test_x.py is deleted" in decision.reason
    assert leash.check_change({"src/a.py": 1}, (("src/a.py", "x = 1\n", "x = 2\n"),)).allowed or level == "approve"


def test_a_denied_path_stays_denied_even_when_it_weakens_the_tests(tmp_path):
    leash = Leash(tmp_path, "auto")
    decision = leash.check_change({".git/hooks/test_x.py": 1}, ((".git/hooks/test_x.py", TESTS, None),))
    assert decision.verdict == "deny"
