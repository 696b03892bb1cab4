"""benchmarks/agent.py's split (issue 42): exercises no earlier run sampled, in two halves that a
checkout growing new exercises does not reshuffle, and the tests each attempt passed."""

import random
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "benchmarks"
sys.path.insert(0, str(BENCH))
import agent  # noqa: E402

NAMES = sorted(f"exercise-{n:03d}" for n in range(150))


def test_the_halves_hold_every_unused_exercise_once_and_no_sampled_one():
    tune, held = agent.split(NAMES, "tune"), agent.split(NAMES, "held")
    used = {n for size, seed in agent.TUNED_ON for n in random.Random(seed).sample(NAMES, size)}
    assert not set(tune) & set(held) and set(tune) | set(held) == set(NAMES) - used
    assert len(tune) > 20 and len(held) > 20


def test_an_exercise_keeps_its_half_when_the_checkout_grows():
    """Which half an unused exercise is in depends on its name alone (which exercises count as
    used is computed on the checkout given: the results name its commit)."""
    grown = sorted(NAMES + ["zz-new-one", "aa-new-two"])
    before = {n: "tune" for n in agent.split(NAMES, "tune")} | {n: "held" for n in agent.split(NAMES, "held")}
    after = {n: "tune" for n in agent.split(grown, "tune")} | {n: "held" for n in agent.split(grown, "held")}
    both = set(before) & set(after)
    assert len(both) > 40 and all(before[n] == after[n] for n in both)


def test_the_tests_an_attempt_passed_are_read_from_pytests_summary(tmp_path):
    task = tmp_path / "leap"
    task.mkdir()
    (task / "leap_test.py").write_text("def test_a():\n    pass\n\n\ndef test_b():\n    pass\n\n\ndef test_c():\n    pass\n")
    assert agent.tests_passed("....\nFAILED leap_test.py::test_c\n1 failed, 2 passed in 0.01s\n", task) == (2, 3)
    assert agent.tests_passed("ERROR leap_test.py\n1 error in 0.1s\n", task) == (0, 3)
    assert agent.tests_passed("the tests did not finish in 120 seconds", task) == (0, 3)


def _exercise(root: Path, name: str, test: str) -> None:
    folder = root / "exercises" / "practice" / name
    (folder / ".docs").mkdir(parents=True)
    (folder / ".docs" / "instructions.md").write_text(f"# {name}\n")
    module = name.replace("-", "_")
    (folder / f"{module}.py").write_text("def f():\n    pass\n")
    (folder / f"{module}_test.py").write_text(test)
    (folder / "test_utils.py").write_text("HELPER = 1\n")


def test_the_polyglot_tier_is_taken_in_its_own_version_and_named_so(tmp_path):
    """Its exercises are exercism's, some with older tests: where the sample holds one, the task is
    the polyglot benchmark's version, in a folder that names the tier (the table counts it apart)."""
    for name in ("leap", "wordy"):
        _exercise(tmp_path / "exercism", name, "def test_new():\n    pass\n")
    _exercise(tmp_path / "polyglot", "wordy", "def test_old():\n    pass\n")
    tasks = {t.name: t for t in agent.exercism(tmp_path / "exercism", 0, 1, polyglot=tmp_path / "polyglot")}
    assert tasks["wordy"].parent.name == "polyglot" and "test_old" in (tasks["wordy"] / "wordy_test.py").read_text()
    assert tasks["leap"].parent.name != "polyglot" and "test_new" in (tasks["leap"] / "leap_test.py").read_text()
    assert (tasks["leap"] / "test_utils.py").read_text() == "HELPER = 1\n"  # a helper the tests import comes along
    rows = [
        {
            "tool": "tether",
            "task": "wordy",
            "tier": "polyglot",
            "attempts": [{"passed": False, "tests": [0, 1], "seconds": 1, "tokens": 1, "status": "failing"}],
        },
        {"tool": "tether", "task": "leap", "tier": "exercism", "attempts": [{"passed": True, "tests": [1, 1], "seconds": 1, "tokens": 1}]},
    ]
    assert "python tier (its versions): tests passed tether 0 of 1 after attempt 1" in agent.table(rows, "m", "src")
