"""What a change weakens in the tests, and the leash holding such a change for a person at every level."""

import pytest

from tether.autonomy.guard.leash import Leash
from tether.autonomy.guard.tamper import RULE, is_test, weakened

TESTS = "import pytest\n\n\ndef test_add():\n    assert add(2, 3) == 5\n    self.assertEqual(x, 1)\n"
JS = "describe('add', () => {\n  it('adds', () => {\n    expect(add(2, 3)).toBe(5);\n  });\n});\n"


@pytest.mark.parametrize(
    "path",
    [
        "test_calc.py",
        "calc_test.py",
        "tests/helpers.py",
        "pkg/test/data.json",
        "conftest.py",
        "web/add.test.ts",
        "web/add.spec.js",
        "src/__tests__/add.jsx",
        "calc_test.go",
        "spec/calc_spec.rb",
    ],
)
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
    assert found == [
        "tests/test_x.py: assertion removed or changed: `assert add(2, 3) == 5`",
        "tests/test_x.py: assertion removed or changed: `self.assertEqual(x, 1)`",
    ]
    assert weakened([("test_x.py", TESTS, "import pytest\n")])[0] == "test_x.py: test removed or changed: `def test_add():`"


def test_commenting_out_an_assertion_removes_it():
    assert weakened([("test_x.py", TESTS, TESTS.replace("    assert add", "    # assert add"))])


@pytest.mark.parametrize(
    "skip",
    [
        "@pytest.mark.skip(reason='slow')",
        "@pytest.mark.xfail",
        "@pytest.mark.skipif(True, reason='x')",
        "@unittest.skip('later')",
        "    pytest.skip('obsolete')",
    ],
)
def test_adding_a_skip_weakens_the_tests(skip):
    after = TESTS.replace("def test_add", f"{skip}\ndef test_add")
    assert weakened([("test_x.py", TESTS, after)]) == [f"test_x.py: skip added: `{skip.strip()}`"]


@pytest.mark.parametrize(
    "change",
    [
        JS.replace("it('adds'", "it.skip('adds'"),
        JS.replace("it('adds'", "it.only('adds'"),
        JS.replace("    expect(add(2, 3)).toBe(5);\n", ""),
    ],
)
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


CALC = "from calc import add, sub\n\n\ndef test_add():\n    assert add(2, 3) == 5\n\n\ndef test_sub():\n    assert sub(5, 3) == 2\n"
TABLE = (
    "import pytest\nfrom calc import add\n\nCASES = [(1, 1, 2)]\n\n\n"
    "@pytest.mark.parametrize('a, b, total', [(2, 3, 5)] + CASES)\ndef test_add(a, b, total):\n    expected = total\n    assert add(a, b) == expected\n"
)
EVERY = "which changes what every test means"


@pytest.mark.parametrize(
    "path, before, after",
    [
        ("tests/conftest.py", None, "import pytest\n\n\ndef pytest_pyfunc_call(pyfuncitem):\n    return True\n"),
        ("conftest.py", "import pytest\n", "import pytest\n\ncollect_ignore = ['tests']\n"),
        ("pytest.ini", None, "[pytest]\naddopts = -k nothing\n"),
        ("tox.ini", "[tox]\n", "[tox]\n[pytest]\naddopts = -p no:python\n"),
        ("web/jest.config.js", "module.exports = {};\n", "module.exports = {testMatch: []};\n"),
        ("vitest.config.ts", None, "export default {test: {passWithNoTests: true}};\n"),
    ],
)
def test_a_new_or_changed_conftest_or_test_runner_config_is_held(path, before, after):
    assert weakened([(path, before, after)]) == [f"{path}: test configuration {'added' if before is None else 'changed'}, {EVERY}"]


@pytest.mark.parametrize(
    "path, before, tests_changed, other_changed",
    [
        (
            "setup.cfg",
            "[metadata]\nname = calc\n",
            "[metadata]\nname = calc\n[tool:pytest]\naddopts = -k nothing\n",
            "[metadata]\nname = calc2\n",
        ),
        (
            "pyproject.toml",
            "[project]\nname = 'calc'\n",
            "[project]\nname = 'calc'\n[tool.pytest.ini_options]\naddopts = '-k nothing'\n",
            "[project]\nname = 'calc2'\n",
        ),
        (
            "package.json",
            '{"name": "calc", "scripts": {"test": "jest"}}',
            '{"name": "calc", "scripts": {"test": "exit 0"}}',
            '{"name": "calc2", "scripts": {"test": "jest", "lint": "eslint ."}}',
        ),
        (
            "package.json",
            '{"name": "calc"}',
            '{"name": "calc", "jest": {"testPathIgnorePatterns": ["."]}}',
            '{"name": "calc", "private": true}',
        ),
    ],
)
def test_a_shared_config_file_is_held_only_when_its_test_settings_change(path, before, tests_changed, other_changed):
    assert len(found := weakened([(path, before, tests_changed)])) == 1 and "test settings" in found[0] and EVERY in found[0]
    assert weakened([(path, before, other_changed)]) == []


def test_a_plugin_list_is_held_even_in_a_new_test_file():
    assert weakened([("tests/test_new.py", None, "pytest_plugins = ['tests.helpers']\n\n\ndef test_x():\n    assert True\n")]) == [
        "tests/test_new.py: plugin added: `pytest_plugins = ['tests.helpers']`"
    ]


@pytest.mark.parametrize(
    "after, found",
    [
        (
            CALC.replace("sub\n", "sub\nadd = lambda a, b: a + b\n", 1),
            "`add` rebound, which changes what the tests run against: `add = lambda a, b: a + b`",
        ),
        (CALC + "\n\ndef add(a, b):\n    return a + b\n", "`add` rebound, which changes what the tests run against: `def add`"),
        (
            CALC.replace("from calc import add, sub", "from calc import sub\nfrom fake import add"),
            "`add` rebound, which changes what the tests run against: `from fake import add`",
        ),
        (
            CALC + "\n\ndef setup_module():\n    pass\n",
            "`setup_module` rebound, which changes what the tests run against: `def setup_module`",
        ),
        (
            CALC + "\nimport calc\ncalc.add = lambda a, b: a + b\n",
            "code added that runs at import or around every test: `calc.add = lambda a, b: a + b`",
        ),
        (
            CALC + "\nimport calc\nsetattr(calc, 'add', abs)\n",
            "code added that runs at import or around every test: `setattr(calc, 'add', abs)`",
        ),
        ("from fake import *\n" + CALC, "code added that runs at import or around every test: `from fake import *`"),
        (CALC + "\nDATA = [(add := abs)]\n", "code added that runs at import or around every test: `DATA = [(add := abs)]`"),
        (
            CALC
            + "\n\nimport pytest\n\n\n@pytest.fixture(autouse=True)\ndef patched(monkeypatch):\n    monkeypatch.setattr('calc.add', abs)\n",
            "code added that runs at import or around every test: `def patched`",
        ),
        (
            CALC + "\n\ndef patch(f):\n    return f\n\n\n@patch\ndef test_more():\n    pass\n",
            "`patch` rebound, which changes what the tests run against: `def patch`",
        ),
        (
            CALC + "\nfrom helpers import fixture\n",
            "`fixture` rebound, which changes what the tests run against: `from helpers import fixture`",
        ),
        (CALC + "\n\n@evil\ndef test_more():\n    pass\n", "code added that runs at import or around every test: `def test_more`"),
        (
            CALC + "\n\nclass TestMore:\n    import calc\n    calc.add = abs\n",
            "code added that runs at import or around every test: `class TestMore`",
        ),
    ],
)
def test_in_a_test_file_that_was_there_rebinding_a_name_or_running_code_at_import_is_held(after, found):
    assert weakened([("tests/test_calc.py", CALC, after)]) == [f"tests/test_calc.py: {found}"]


@pytest.mark.parametrize(
    "after, found",
    [
        (TABLE.replace("(2, 3, 5)", "(2, 3, -1)"), "test changed: `def test_add`"),
        (TABLE.replace("expected = total", "expected = add(a, b)"), "test changed: `def test_add`"),
        (TABLE.replace("(1, 1, 2)", "(1, 1, 0)"), "`CASES` rebound, which changes what the tests run against: `CASES = [(1, 1, 0)]`"),
        (TABLE.replace("    expected = total\n", "    add = abs\n    expected = total\n"), "test changed: `def test_add`"),
        (TABLE.replace("CASES = [(1, 1, 2)]\n", "").replace(" + CASES", ""), "removed: `CASES = [(1, 1, 2)]`"),
    ],
)
def test_changed_test_data_or_expected_values_are_held_without_touching_an_assert_line(after, found):
    assert f"tests/test_table.py: {found}" in weakened([("tests/test_table.py", TABLE, after)])


def test_adding_tests_helpers_and_assertions_to_a_test_file_that_was_there_weakens_nothing():
    more = (
        CALC + "\n\nSMALL = [(0, 0)]\n\n\n@pytest.fixture\ndef zero():\n    return 0\n\n\n"
        "@pytest.mark.parametrize('a, b', SMALL)\ndef test_small(a, b, zero):\n    assert add(a, b) == zero\n\n\n"
        "class TestMore:\n    def test_sub(self):\n        assert sub(1, 1) == 0\n"
    )
    assert weakened([("tests/test_calc.py", CALC, "import pytest\n" + more)]) == []
    stronger = CALC.replace("    assert add(2, 3) == 5\n", "    assert add(2, 3) == 5\n    assert add(0, 0) == 0\n")
    assert weakened([("tests/test_calc.py", CALC, stronger)]) == []
    sneaky = CALC.replace("    assert add(2, 3) == 5\n", "    assert not setattr(calc, 'add', abs)\n    assert add(2, 3) == 5\n")
    assert weakened([("tests/test_calc.py", CALC, sneaky)]) == ["tests/test_calc.py: test changed: `def test_add`"]
    split = CALC.replace("from calc import add, sub", "from calc import add\nfrom calc import sub")
    assert weakened([("tests/test_calc.py", CALC, split)]) == []


def test_a_changed_data_file_beside_the_tests_or_a_module_mocked_in_a_js_test_file_that_was_there_is_held():
    assert weakened([("tests/data/cases.json", "[[2, 3, 5]]\n", "[[2, 3, -1]]\n")]) == [
        "tests/data/cases.json: line removed or changed: `[[2, 3, 5]]`"
    ]
    mocked = "jest.mock('./add');\n" + JS
    assert weakened([("web/add.test.js", JS, mocked)]) == ["web/add.test.js: module mocked for the whole file: `jest.mock('./add');`"]
    assert weakened([("web/sub.test.js", None, mocked)]) == []


@pytest.mark.parametrize("level", ["auto", "agent"])
def test_the_leash_asks_about_a_new_conftest_at_every_level(tmp_path, level):
    decision = Leash(tmp_path, level).check_change({"tests/conftest.py": 3}, (("tests/conftest.py", None, "import pytest\n"),))
    assert decision.verdict == "ask" and decision.rule == RULE and "tests/conftest.py: test configuration added" in decision.reason
