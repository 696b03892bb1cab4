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
